import StarlingCore
import StarlingModels
import StarlingStream
import Testing

struct EngineProfileStoreTests {
    @Test func concurrentUpdatesThroughTheProtocolLoseNothing() async throws {
        let store = EngineProfileStore(engine: EngineStore(RecommendationEngine()))
        try await withThrowingTaskGroup(of: Void.self) { group in
            for task in 0..<4 {
                group.addTask {
                    for n in 0..<100 {
                        try await store.update("hot") { profile in
                            profile.apply(
                                Event(type: .view, user: "hot", item: "i-\(task)-\(n)", timestamp: .seconds(Int64(task * 1_000 + n)))
                            )
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        let profile = try #require(store.profile(for: "hot"))
        #expect(profile.version == 400)
        #expect(profile.eventCount == 400)
        #expect(profile.typeCounts["view"] == 400)
        #expect(profile.interacted.count == 400)
        #expect(profile.recent.count == UserProfile.recentLimit)
    }

    @Test func compareAndSwapWithAStaleVersionKeepsTheStoredProfile() throws {
        let store = EngineProfileStore(engine: EngineStore(RecommendationEngine()))
        var first = UserProfile(user: "u")
        first.apply(Event(type: .view, user: "u", item: "i", timestamp: .seconds(1)))
        #expect(!store.compareAndSwap(first, expectedVersion: 1))
        #expect(store.compareAndSwap(first, expectedVersion: 0))
        var second = first
        second.apply(Event(type: .view, user: "u", item: "j", timestamp: .seconds(2)))
        #expect(store.compareAndSwap(second, expectedVersion: 1))
        var stale = first
        stale.apply(Event(type: .view, user: "u", item: "stale", timestamp: .seconds(3)))
        #expect(!store.compareAndSwap(stale, expectedVersion: 1))
        #expect(store.profile(for: "u") == second)
    }
}
