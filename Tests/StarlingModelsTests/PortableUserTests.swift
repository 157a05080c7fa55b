import StarlingCore
import StarlingModels
import Testing

/// A user's state exported by one engine and used by another copy of it must give the same answers.
struct PortableUserTests {
    private func event(_ type: EventType, _ user: String, _ item: String, at seconds: Int64) -> Event {
        Event(type: type, user: user, item: item, timestamp: .seconds(seconds))
    }

    private func engine() -> RecommendationEngine {
        var engine = RecommendationEngine()
        var t: Int64 = 0
        for u in 0..<60 {
            t += 10
            engine.learn(self.event(.like, "ab-\(u)", "a", at: t))
            engine.learn(self.event(.like, "ab-\(u)", "b", at: t + 1))
            engine.learn(self.event(.view, "ab-\(u)", "item-\(u % 9)", at: t + 2))
            engine.learn(self.event(.like, "xy-\(u)", "x", at: t + 3))
            engine.learn(self.event(.like, "xy-\(u)", "y", at: t + 4))
            engine.learn(self.event(.dislike, "xy-\(u)", "item-\(u % 5)", at: t + 5))
        }
        return engine
    }

    private func names(_ candidates: [RecommendationEngine.Candidate], _ engine: RecommendationEngine) -> [String] {
        candidates.map { "\(engine.itemKey($0.item).name) \($0.score) \($0.reason)" }
    }

    @Test(arguments: ["ab-3", "xy-7", "ab-59"])
    func aPortableUserGetsTheSameListsAsTheEngineGives(user: String) throws {
        let engine = self.engine()
        let portable = try #require(engine.portableUser(user))
        #expect(portable.events == engine.userState(user)?.events)
        for source in [RecommendationSource.blend, .embedding, .cooccurrence, .segment, .trending] {
            for excludeSeen in [true, false] {
                let own = engine.candidates(user: user, count: 10, source: source, excluding: [], excludeSeen: excludeSeen)
                let published = engine.candidates(
                    for: portable,
                    count: 10,
                    source: source,
                    excluding: [],
                    excludeSeen: excludeSeen
                )
                #expect(self.names(own, engine) == self.names(published, engine), "\(source) excludeSeen \(excludeSeen)")
                if source == .blend { #expect(!own.isEmpty) }
            }
        }
    }

    @Test func aFresherStateChangesTheAnswerOfAnOlderSnapshot() throws {
        let snapshot = self.engine()
        var live = snapshot
        live.learn(self.event(.like, "newcomer", "x", at: 100_000))
        let portable = try #require(live.portableUser("newcomer"))
        #expect(snapshot.userState("newcomer") == nil)
        let fromSnapshot = snapshot.candidates(for: portable, count: 3, source: .blend, excluding: [])
        #expect(fromSnapshot.first.map { snapshot.itemKey($0.item).name } == "y")
        #expect(!fromSnapshot.contains { snapshot.itemKey($0.item).name == "x" }, "the item just liked is seen")
    }

    @Test func itemsTheSnapshotDoesNotKnowAreLeftOut() throws {
        let snapshot = self.engine()
        var live = snapshot
        live.learn(self.event(.like, "u", "brand-new", at: 100_000))
        live.learn(self.event(.like, "u", "a", at: 100_001))
        let portable = try #require(live.portableUser("u"))
        #expect(portable.seen.contains(ItemKey("brand-new")))
        let list = snapshot.candidates(for: portable, count: 5, source: .blend, excluding: [])
        #expect(list.first.map { snapshot.itemKey($0.item).name } == "b")
    }

    @Test func anEmbeddingOfAnotherModelVersionIsNotUsed() throws {
        let engine = self.engine()
        var portable = try #require(engine.portableUser("ab-3"))
        #expect(!engine.candidates(for: portable, count: 5, source: .embedding, excluding: []).isEmpty)
        portable.modelVersion += 1
        #expect(engine.candidates(for: portable, count: 5, source: .embedding, excluding: []).isEmpty)
    }

    @Test func theBinaryFormRoundTrips() throws {
        let engine = self.engine()
        let portable = try #require(engine.portableUser("xy-4"))
        #expect(!portable.disliked.isEmpty && !portable.recent.isEmpty && portable.vector.count == 64)
        var writer = BinaryWriter()
        portable.encode(into: &writer)
        let decoded = try writer.bytes.withUnsafeBytes { raw in
            var reader = BinaryReader(raw)
            let value = try RecommendationEngine.PortableUser(decoding: &reader)
            #expect(reader.remaining == 0)
            return value
        }
        #expect(decoded == portable)
        let truncated = Array(writer.bytes.dropLast(3))
        #expect(throws: BinaryFormatError.self) {
            try truncated.withUnsafeBytes { raw in
                var reader = BinaryReader(raw)
                _ = try RecommendationEngine.PortableUser(decoding: &reader)
            }
        }
    }
}

struct EmbeddingCandidatesTests {
    @Test func wholeCatalogueEmbeddingCandidatesJoinTheBlendWhenConfigured() throws {
        var configuration = try RecommendationEngine.Configuration(
            settings: ["blend.cooccurrence=0", "blend.trending=0", "blend.segment=0", "blend.embedding=1"]
        )
        var without = RecommendationEngine(configuration: configuration)
        configuration.embeddingCandidates = 5
        var with = RecommendationEngine(configuration: configuration)
        var t: Int64 = 0
        for u in 0..<40 {
            for item in ["a", "b", "c", "d", "e", "f", "g", "h"] where (u + Int(item.utf8.first!)) % 3 != 0 || u % 2 == 0 {
                t += 1
                let event = Event(type: .like, user: "u\(u)", item: item, timestamp: .seconds(t))
                without.learn(event)
                with.learn(event)
            }
        }
        #expect(without.candidates(user: "u3", count: 5, source: .blend, excluding: []).isEmpty)
        let blended = with.candidates(user: "u3", count: 5, source: .blend, excluding: [])
        let nearest = with.candidates(user: "u3", count: 5, source: .embedding, excluding: [])
        #expect(!nearest.isEmpty)
        // The same items (their order among themselves may differ where the embedding scores them at or below 0:
        // the re-scoring adds only positive scores).
        #expect(Set(blended.map(\.item)) == Set(nearest.map(\.item)))
        #expect(blended.allSatisfy { $0.reason == .taste })
    }
}
