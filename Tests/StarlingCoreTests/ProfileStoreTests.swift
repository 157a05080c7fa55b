import StarlingCore
import Testing

private func event(
    _ type: EventType = .view,
    user: String = "u",
    item: String? = "i",
    at milliseconds: Int64
) -> Event {
    Event(type: type, user: user, item: item, timestamp: EventTime(milliseconds: milliseconds))
}

/// Drives `update` through the protocol's extension, as a non-memory store's callers would.
private func concurrentUpdates(
    on store: some ProfileStore,
    user: String,
    tasks: Int,
    updatesPerTask: Int
) async throws {
    try await withThrowingTaskGroup(of: Void.self) { group in
        for task in 0..<tasks {
            group.addTask {
                for n in 0..<updatesPerTask {
                    try await store.update(user) { profile in
                        profile.apply(event(user: user, item: "item-\(task)-\(n)", at: Int64(task * 1_000_000 + n)))
                    }
                }
            }
        }
        try await group.waitForAll()
    }
}

struct ProfileStoreTests {
    @Test func concurrentUpdatesThroughTheProtocolLoseNothing() async throws {
        let store = MemoryProfileStore()
        try await concurrentUpdates(on: store, user: "hot-user", tasks: 8, updatesPerTask: 500)
        let profile = try #require(store.profile(for: "hot-user"))
        #expect(profile.version == 4_000)
        #expect(profile.eventCount == 4_000)
        #expect(profile.typeCounts["view"] == 4_000)
        #expect(profile.interacted.count == 4_000)
        #expect(profile.recent.count == UserProfile.recentLimit)
    }

    @Test func concurrentUpdatesToManyUsersOnFewShardsLoseNothing() async throws {
        let store = MemoryProfileStore(shardCount: 2)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for user in 0..<6 {
                group.addTask { try await concurrentUpdates(on: store, user: "user-\(user)", tasks: 3, updatesPerTask: 200) }
            }
            try await group.waitForAll()
        }
        #expect(store.count == 6)
        for user in 0..<6 {
            let profile = try #require(store.profile(for: "user-\(user)"))
            #expect(profile.version == 600)
            #expect(profile.eventCount == 600)
        }
    }

    @Test func compareAndSwapWithStaleVersionFailsAndKeepsTheStoredProfile() throws {
        let store = MemoryProfileStore()
        var first = UserProfile(user: "u")
        first.apply(event(at: 1))
        #expect(store.compareAndSwap(first, expectedVersion: 0))

        var second = first
        second.apply(event(item: "j", at: 2))
        #expect(store.compareAndSwap(second, expectedVersion: 1))

        // A writer that read version 1 and lost the race must not overwrite version 2.
        var stale = first
        stale.apply(event(item: "stale", at: 3))
        #expect(!store.compareAndSwap(stale, expectedVersion: 1))
        let stored = try #require(store.profile(for: "u"))
        #expect(stored == second)
        #expect(!stored.interacted.contains("stale"))
    }

    @Test func compareAndSwapForUnknownUserRequiresVersionZero() {
        let store = MemoryProfileStore()
        var profile = UserProfile(user: "new")
        profile.apply(event(user: "new", at: 1))
        #expect(!store.compareAndSwap(profile, expectedVersion: 1))
        #expect(store.profile(for: "new") == nil)
        #expect(store.compareAndSwap(profile, expectedVersion: 0))
        #expect(store.profile(for: "new")?.version == 1)
        // Now that it exists, version 0 is stale.
        #expect(!store.compareAndSwap(profile, expectedVersion: 0))
    }

    @Test func updateReturnsTheStoredProfile() async throws {
        let store = MemoryProfileStore()
        let returned = try await store.update("u") { $0.apply(event(at: 5)) }
        #expect(returned.version == 1)
        #expect(store.profile(for: "u") == returned)
    }

    @Test func modifySnapshotAndReplaceAll() {
        let store = MemoryProfileStore(shardCount: 4)
        for user in ["a", "b", "c"] {
            store.modify(user) { $0.apply(event(user: user, at: 1)) }
        }
        let version = store.modify("a") { profile -> UInt64 in
            profile.apply(event(user: "a", at: 2))
            return profile.version
        }
        #expect(version == 2)
        #expect(store.count == 3)

        let snapshot = store.snapshot()
        #expect(snapshot.count == 4)
        #expect(snapshot.reduce(0) { $0 + $1.count } == 3)
        // The snapshot is a copy: later writes do not show in it.
        store.modify("b") { $0.apply(event(user: "b", at: 3)) }
        let bInSnapshot = snapshot.compactMap { $0["b"] }.first
        #expect(bInSnapshot?.version == 1)
        #expect(store.profile(for: "b")?.version == 2)
        // Each user sits in the shard its stable hash picks.
        for (index, shard) in snapshot.enumerated() {
            for user in shard.keys {
                #expect(StableHash.partition(for: user, count: 4) == index)
            }
        }

        var restored = UserProfile(user: "z")
        restored.apply(event(user: "z", at: 9))
        store.replaceAll(with: [restored])
        #expect(store.count == 1)
        #expect(store.profile(for: "a") == nil)
        #expect(store.profile(for: "z") == restored)
    }
}

struct UserProfileTests {
    @Test func applyBumpsVersionAndCounts() {
        var profile = UserProfile(user: "u")
        #expect(profile.version == 0)
        profile.apply(event(.view, at: 100))
        profile.apply(event(.click, at: 50))
        profile.apply(event(.navigate, item: nil, at: 200))
        #expect(profile.version == 3)
        #expect(profile.eventCount == 3)
        #expect(profile.typeCounts == ["view": 1, "click": 1, "navigate": 1])
        #expect(profile.firstSeen == EventTime(milliseconds: 50))
        #expect(profile.lastSeen == EventTime(milliseconds: 200))
        // An event without an item counts, but is not an interaction with an item.
        #expect(profile.recent.count == 2)
        #expect(profile.interacted == ["i"])
    }

    @Test func firstSeenIsTheFirstEventEvenAfterTheEpoch() {
        var profile = UserProfile(user: "u")
        profile.apply(event(at: 1_714_559_400_000))
        #expect(profile.firstSeen == EventTime(milliseconds: 1_714_559_400_000))
        #expect(profile.lastSeen == EventTime(milliseconds: 1_714_559_400_000))
    }

    @Test func recentIsNewestFirstEvenForLateEvents() {
        var profile = UserProfile(user: "u")
        for (item, time) in [("a", 10), ("c", 30), ("b", 20), ("d", 40), ("z", 5)] {
            profile.apply(event(item: item, at: Int64(time)))
        }
        #expect(profile.recent.map(\.item) == ["d", "c", "b", "a", "z"])
        #expect(profile.recent.map(\.timestamp.milliseconds) == [40, 30, 20, 10, 5])
    }

    @Test func recentIsBoundedToRecentLimitKeepingTheNewest() {
        var profile = UserProfile(user: "u")
        for n in 0..<(UserProfile.recentLimit + 25) {
            profile.apply(event(item: "item-\(n)", at: Int64(n)))
        }
        #expect(profile.recent.count == UserProfile.recentLimit)
        #expect(profile.recent.first?.item == "item-\(UserProfile.recentLimit + 24)")
        #expect(profile.recent.last?.item == "item-25")
        #expect(zip(profile.recent, profile.recent.dropFirst()).allSatisfy { $0.timestamp >= $1.timestamp })
        // Every event still counts and every item is remembered as interacted.
        #expect(profile.eventCount == UInt64(UserProfile.recentLimit + 25))
        #expect(profile.interacted.count == UserProfile.recentLimit + 25)
    }

    @Test func eventOlderThanAFullRecentListIsNotKept() {
        var profile = UserProfile(user: "u")
        for n in 0..<UserProfile.recentLimit {
            profile.apply(event(item: "item-\(n)", at: Int64(1_000 + n)))
        }
        let before = profile.recent
        profile.apply(event(item: "ancient", at: 1))
        #expect(profile.recent == before)
        #expect(profile.version == UInt64(UserProfile.recentLimit + 1))
        #expect(profile.interacted.contains("ancient"))
        #expect(profile.firstSeen == EventTime(milliseconds: 1))
    }

    @Test func lateEventInAFullListEvictsTheOldest() throws {
        var profile = UserProfile(user: "u")
        for n in 0..<UserProfile.recentLimit {
            profile.apply(event(item: "item-\(n)", at: Int64(n * 10)))
        }
        profile.apply(event(item: "late", at: 255))  // between item-25 (250) and item-26 (260)
        #expect(profile.recent.count == UserProfile.recentLimit)
        #expect(profile.recent.last?.item == "item-1")
        let index = try #require(profile.recent.firstIndex(where: { $0.item == "late" }))
        #expect(profile.recent[index - 1].item == "item-26")
        #expect(profile.recent[index + 1].item == "item-25")
    }

    @Test func recentInteractionRecordsTypeAndTime() {
        var profile = UserProfile(user: "u")
        profile.apply(event(.purchase, item: "p", at: 77))
        #expect(profile.recent == [Interaction(item: "p", type: .purchase, timestamp: EventTime(milliseconds: 77))])
    }
}

struct UserProfileBinaryTests {
    @Test func aProfileRoundTripsThroughItsBinaryForm() throws {
        var profile = UserProfile(user: "ü-1")
        profile.apply(event(.like, user: "ü-1", item: "a", at: 1_000))
        profile.apply(event(.view, user: "ü-1", item: "b", at: 2_000))
        profile.apply(event(.purchase, user: "ü-1", item: "a", at: 3_000))
        profile.apply(event(.view, user: "ü-1", item: nil, at: 4_000))
        var writer = BinaryWriter()
        profile.encode(into: &writer)
        let decoded = try writer.bytes.withUnsafeBytes { raw in
            var reader = BinaryReader(raw)
            return try UserProfile(decoding: &reader)
        }
        #expect(decoded == profile)
    }

    @Test func theSignificantCountMovesOnlyWithSignificantEvents() {
        var profile = UserProfile(user: "u")
        let significant: Set<String> = ["like", "purchase"]
        profile.apply(event(.view, at: 1))
        #expect(profile.count(of: significant) == 0)
        profile.apply(event(.like, at: 2))
        profile.apply(event(.view, at: 3))
        #expect(profile.count(of: significant) == 1)
        profile.apply(event(.purchase, at: 4))
        #expect(profile.count(of: significant) == 2)
    }
}
