import StarlingCore
import StarlingModels
import Testing

/// The profile fields of the engine's per-user record follow ``UserProfile/apply(_:)`` exactly.
struct UserRecordTests {
    /// A deterministic stream over a few users with item-less events, late events, a declared event type and more
    /// interactions than ``UserProfile/recentLimit``.
    private static func events(count: Int) -> [Event] {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next(_ bound: Int) -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((state >> 33) % UInt64(bound))
        }
        let types: [EventType] = [.view, .click, .like, .dislike, .navigate, EventType("wishlist")]
        return (0..<count).map { n in
            let type = types[next(types.count)]
            // Mostly in order, sometimes up to a minute late.
            let time = Int64(n) * 1_000 - (next(5) == 0 ? Int64(next(60_000)) : 0)
            return Event(
                type: type,
                user: "user-\(next(3))",
                item: type == .navigate && next(2) == 0 ? nil : "item-\(next(40))",
                timestamp: EventTime(milliseconds: 1_700_000_000_000 + time)
            )
        }
    }

    @Test func profileMatchesUserProfileApplyForEveryUser() throws {
        var engine = RecommendationEngine()
        var expected: [String: UserProfile] = [:]
        for event in Self.events(count: 600) {
            engine.learn(event)
            expected[event.user, default: UserProfile(user: event.user)].apply(event)
        }
        for (user, profile) in expected {
            #expect(profile.recent.count == UserProfile.recentLimit)
            #expect(engine.profile(of: user) == profile)
        }
        #expect(engine.profile(of: "nobody") == nil)
    }

    @Test func aUserWithOnlyItemlessEventsHasAProfileButNoModelState() throws {
        var engine = RecommendationEngine()
        engine.learn(Event(type: .navigate, user: "walker", item: nil, timestamp: .seconds(3)))
        engine.learn(Event(type: .navigate, user: "walker", item: nil, timestamp: .seconds(2)))

        let profile = try #require(engine.profile(of: "walker"))
        #expect(profile.version == 2)
        #expect(profile.typeCounts == ["navigate": 2])
        #expect(profile.firstSeen == .seconds(2) && profile.lastSeen == .seconds(3))
        #expect(profile.recent.isEmpty && profile.interacted.isEmpty)
        #expect(!engine.knows(user: "walker"))
        #expect(engine.portableUser("walker") == nil)
    }

    @Test func binaryFormRoundTripsProfiles() throws {
        var engine = RecommendationEngine()
        let events = Self.events(count: 300)
        for event in events { engine.learn(event) }
        var writer = BinaryWriter(capacity: 1 << 16)
        engine.encode(into: &writer)

        let restored = try writer.bytes.withUnsafeBytes { raw in
            var reader = BinaryReader(raw)
            return try RecommendationEngine(configuration: .init(), decoding: &reader)
        }

        for user in Set(events.map(\.user)) {
            #expect(restored.profile(of: user) == engine.profile(of: user))
        }
    }

    @Test func compareAndSwapStoresOnlyOverTheExpectedVersion() throws {
        var engine = RecommendationEngine()
        engine.learn(Event(type: .like, user: "u", item: "a", timestamp: .seconds(1)))
        var next = try #require(engine.profile(of: "u"))
        next.apply(Event(type: EventType("wishlist"), user: "u", item: "new-item", timestamp: .seconds(2)))

        let overWrongVersion = engine.compareAndSwap(next, expectedVersion: 0)
        #expect(!overWrongVersion)
        #expect(engine.profile(of: "u")?.version == 1)
        let overCurrentVersion = engine.compareAndSwap(next, expectedVersion: 1)
        #expect(overCurrentVersion)
        #expect(engine.profile(of: "u") == next)
        // The interacted items are the record's seen items, which the models filter by.
        #expect(engine.userState("u")?.seen.count == 2)

        var stranger = UserProfile(user: "stranger")
        stranger.apply(Event(type: .navigate, user: "stranger", item: nil, timestamp: .seconds(4)))
        let unknownOverOne = engine.compareAndSwap(stranger, expectedVersion: 1)
        #expect(!unknownOverOne)
        #expect(engine.profile(of: "stranger") == nil)
        let unknownOverZero = engine.compareAndSwap(stranger, expectedVersion: 0)
        #expect(unknownOverZero)
        #expect(engine.profile(of: "stranger") == stranger)
        let createdTwice = engine.compareAndSwap(stranger, expectedVersion: 0)
        #expect(!createdTwice)
    }

    @Test func theMemoryEstimateIsExactBelowItsSampleAndExtrapolatesAbove() {
        var engine = RecommendationEngine()
        for k in 0..<3_000 {
            engine.learn(
                Event(
                    type: .view,
                    user: "u\(k % 1_500)",
                    item: "i\(k % 50)",
                    timestamp: EventTime(milliseconds: 1_700_000_000_000 + Int64(k) * 1_000)
                )
            )
        }
        let exact = engine.userStates.reduce(0) { $0 + RecommendationEngine.bytes(of: $1) }
        #expect(engine.memoryEstimate(sample: 10_000).userRecords == exact)
        let sampled = engine.memoryEstimate(sample: 100).userRecords
        // Every user here has the same shape (two views), so a sample of any size gives the same average.
        #expect(abs(sampled - exact) <= exact / 100)
        let estimate = engine.memoryEstimate()
        #expect(estimate.embeddings == (1_500 + 50) * 64 * MemoryLayout<Float>.stride)
        #expect(estimate.cooccurrence > 0, "users who viewed two items paired them")
        #expect(estimate.userIndex == engine.userIndexBytes)
        let empty = RecommendationEngine().memoryEstimate()
        #expect(empty.userRecords == 0 && empty.embeddings == 0 && empty.cooccurrence == 0)
    }
}
