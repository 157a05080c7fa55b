import Foundation
import StarlingCore
import StarlingModels
import Testing

struct EngineTests {
    private func event(
        _ type: EventType,
        _ user: String,
        _ item: String?,
        at seconds: Int64,
        value: Double? = nil,
        session: String? = nil,
        context: [(key: String, value: ContextValue)] = []
    ) -> Event {
        Event(type: type, user: user, item: item, session: session, timestamp: .seconds(seconds), value: value, context: context)
    }

    /// Many users who like "a" also like "b"; users who like "x" like "y".
    private func trainedEngine() -> RecommendationEngine {
        var engine = RecommendationEngine()
        var t: Int64 = 0
        for u in 0..<40 {
            t += 10
            engine.learn(self.event(.like, "ab-\(u)", "a", at: t))
            engine.learn(self.event(.like, "ab-\(u)", "b", at: t + 1))
            engine.learn(self.event(.like, "xy-\(u)", "x", at: t + 2))
            engine.learn(self.event(.like, "xy-\(u)", "y", at: t + 3))
            engine.learn(self.event(.view, "noise-\(u)", "item-\(u % 7)", at: t + 4))
        }
        return engine
    }

    @Test func likingAnItemBringsItsCoOccurringItemsFirst() {
        var engine = self.trainedEngine()
        engine.learn(self.event(.like, "newcomer", "a", at: 10_000))
        let cooccurrence = engine.recommend(user: "newcomer", count: 3, source: .cooccurrence)
        #expect(cooccurrence.first?.item == "b")
        let blended = engine.candidates(user: "newcomer", count: 3, source: .blend, excluding: [])
        #expect(engine.itemKey(blended[0].item).name == "b")
        #expect(blended[0].reason.description == "similar to a")

        engine.learn(self.event(.like, "other", "x", at: 10_001))
        #expect(engine.recommend(user: "other", count: 1, source: .cooccurrence).first?.item == "y")
    }

    @Test func seenItemsAreNeverRecommended() {
        var engine = self.trainedEngine()
        engine.learn(self.event(.view, "u", "a", at: 10_000))
        engine.learn(self.event(.view, "u", "b", at: 10_001))
        for source in engine.sources {
            let items = engine.recommend(user: "u", count: 50, source: source).map(\.item)
            #expect(!items.contains("a") && !items.contains("b"), "\(source)")
        }
    }

    @Test func aDislikedItemIsGoneForGood() {
        var engine = self.trainedEngine()
        engine.learn(self.event(.dislike, "u", "y", at: 10_000))
        for _ in 0..<20 { engine.learn(self.event(.like, "u", "x", at: 10_001)) }
        for source in engine.sources {
            #expect(!engine.recommend(user: "u", count: 50, source: source).map(\.item).contains("y"), "\(source)")
        }
        #expect(engine.userState("u")?.disliked.count == 1)
    }

    @Test func ratingsAreCentredOnTheUsersMean() {
        let signals = SignalConfiguration()
        let four = Event(type: .rating, user: "u", item: "i", timestamp: .seconds(1), value: 4)
        // The same 4 stars weigh less from a generous rater than from a harsh one.
        #expect(signals.signal(of: four, userMeanRating: 4.8) < signals.signal(of: four, userMeanRating: 2.2))
        #expect(abs(signals.signal(of: four, userMeanRating: 4) - signals.ratingBase) < 1e-12)

        var engine = RecommendationEngine()
        for k in 0..<10 { engine.learn(self.event(.rating, "generous", "g\(k)", at: Int64(k), value: 5)) }
        // Far below this user's mean: negative, so the item does not enter the recent window.
        engine.learn(self.event(.rating, "generous", "awful", at: 100, value: 1))
        #expect(engine.userState("generous")?.recent.contains(engine.itemID(named: "awful")!) == false)
        engine.learn(self.event(.rating, "generous", "fine", at: 101, value: 4))
        #expect(engine.userState("generous")?.recent.last == engine.itemID(named: "fine"))
    }

    @Test func trendingFollowsEventTimeNotTheWallClock() {
        var engine = RecommendationEngine(configuration: .init(trendingHalfLife: .seconds(3_600)))
        for k in 0..<10 { engine.learn(self.event(.view, "u\(k)", "old-hit", at: 0)) }
        // Ten hours later (event time), two views make the new item trend above the ten old ones.
        for k in 0..<2 { engine.learn(self.event(.view, "v\(k)", "new", at: 36_000)) }
        #expect(engine.recommend(user: "anyone", count: 2, source: .trending).map(\.item) == ["new", "old-hit"])
        // Plain popularity still ranks by counts.
        #expect(engine.recommend(user: "anyone", count: 1, source: .popularity).first?.item == "old-hit")
    }

    @Test func sessionsRecommendFromTheirOwnRecentItems() {
        var engine = self.trainedEngine()
        engine.learn(self.event(.view, "anonymous-1", "x", at: 10_000, session: "s-1"))
        let recent = engine.sessionItems("s-1")
        #expect(recent == [engine.itemID(named: "x")!])
        let items = engine.sessionCandidates(recent: recent, count: 2, excluding: [])
        #expect(engine.itemKey(items[0].item).name == "y")
    }

    @Test func similarItemsComeFromCoOccurrence() {
        let engine = self.trainedEngine()
        let similar = engine.similarItems(to: "a", count: 2)
        #expect(similar.first.map { engine.itemKey($0.item).name } == "b")
        #expect(similar.first?.reason.description == "similar to a")
    }

    @Test func usersFallIntoSegments() {
        let engine = self.trainedEngine()
        let segment = engine.userState("ab-3")?.segment ?? -1
        #expect(segment >= 0)
        #expect(engine.kmeans.clusterCount > 1)
    }

    @Test func embeddingsLearnAPreference() {
        var model = FactorModel(configuration: .init(dimensions: 16, negatives: 2))
        for item in 0..<20 { model.ensureItem(Int32(item)) }
        model.ensureUser(0)
        var scores: [Float] = []
        for _ in 0..<200 { model.learnPositive(user: 0, item: 3, weight: 1) }
        model.scoreAllItems(for: 0, into: &scores)
        #expect(scores.indices.max(by: { scores[$0] < scores[$1] }) == 3)
        for _ in 0..<400 { model.learnNegative(user: 0, item: 3, weight: 1) }
        model.scoreAllItems(for: 0, into: &scores)
        #expect(scores[3] < scores.sorted()[scores.count / 2])
    }
}

struct EngineCodingTests {
    @Test func encodedEngineRestoresToTheSameAnswers() throws {
        var engine = RecommendationEngine()
        var t: Int64 = 1_700_000_000
        for u in 0..<30 {
            for k in 0..<6 {
                t += 7
                let type: EventType = [.view, .like, .click, .rating, .dislike, .purchase][(u + k) % 6]
                engine.learn(
                    Event(
                        type: type,
                        user: "u\(u)",
                        item: "i\((u * 3 + k * 5) % 40)",
                        session: "s\(u % 4)",
                        timestamp: .seconds(t),
                        value: type == .rating ? Double(1 + (u + k) % 5) : nil,
                        context: [("category", .string(k % 2 == 0 ? "news" : "sport"))]
                    )
                )
            }
        }
        var writer = BinaryWriter()
        engine.encode(into: &writer)
        let restored = try writer.bytes.withUnsafeBytes { raw in
            var reader = BinaryReader(raw)
            let engine = try RecommendationEngine(configuration: .init(), decoding: &reader)
            #expect(reader.remaining == 0)
            return engine
        }
        #expect(restored.eventCount == engine.eventCount)
        #expect((0..<Int32(restored.itemCount)).map(restored.itemKey) == (0..<Int32(engine.itemCount)).map(engine.itemKey))
        #expect(restored.factors.userFactors == engine.factors.userFactors)
        #expect(restored.factors.itemFactors == engine.factors.itemFactors)
        for user in ["u0", "u7", "u29", "nobody"] {
            for source in engine.sources {
                // Co-occurrence sums run over rebuilt dictionaries, so the last bits of a score may differ.
                let before = engine.recommend(user: user, count: 10, source: source)
                let after = restored.recommend(user: user, count: 10, source: source)
                #expect(after.map(\.item) == before.map(\.item), "\(user) \(source)")
                #expect(zip(after, before).allSatisfy { abs($0.score - $1.score) <= 1e-6 * max(1, abs($1.score)) })
            }
        }
        #expect(restored.sessionItems("s1") == engine.sessionItems("s1"))
        #expect(
            restored.categoryCandidates("news", count: 5, excluding: []) == engine.categoryCandidates("news", count: 5, excluding: [])
        )
    }

    @Test func aDifferentEmbeddingSizeIsRefused() {
        var engine = RecommendationEngine()
        engine.learn(Event(type: .like, user: "u", item: "i", timestamp: .seconds(1)))
        var writer = BinaryWriter()
        engine.encode(into: &writer)
        #expect(throws: BinaryFormatError.self) {
            try writer.bytes.withUnsafeBytes { raw in
                var reader = BinaryReader(raw)
                _ = try RecommendationEngine(configuration: .init(factors: .init(dimensions: 32)), decoding: &reader)
            }
        }
    }
}

struct SessionExpiryTests {
    @Test func idleSessionsExpireWhenThereAreTooMany() {
        var configuration = RecommendationEngine.Configuration()
        configuration.maxSessions = 10
        configuration.sessionTimeout = .seconds(60)
        var engine = RecommendationEngine(configuration: configuration)
        for k in 0..<10 {
            engine.learn(Event(type: .view, user: "a\(k)", item: "i\(k)", session: "old-\(k)", timestamp: .seconds(Int64(k))))
        }
        // An hour later, a new session pushes the count over the limit: the idle ones go.
        engine.learn(Event(type: .view, user: "b", item: "j", session: "new", timestamp: .seconds(3_600)))
        #expect(engine.sessions.count == 1)
        #expect(engine.sessionItems("new").count == 1)
        #expect(engine.sessionItems("old-3").isEmpty)
    }
}

struct EngineSettingsTests {
    @Test func settingsChangeTheConfiguration() throws {
        let configuration = try RecommendationEngine.Configuration(settings: [
            "dimensions=32", "blend.trending=0.7", "signal.like=6", "trending_half_life_hours=12", "recent_window=5",
        ])
        #expect(configuration.factors.dimensions == 32)
        #expect(configuration.blendWeights[.trending] == 0.7)
        #expect(configuration.signals.weights["like"] == 6)
        #expect(configuration.trendingHalfLife == .seconds(12 * 3_600))
        #expect(configuration.recentWindow == 5)
    }

    @Test(arguments: ["dimensions", "dimensions=abc", "dimensions=0", "blend.nowhere=1", "nonsense=1", "recent_window=2.5"])
    func badSettingsAreRejectedWithTheirName(setting: String) {
        #expect(throws: EventSchemaError.self) { try RecommendationEngine.Configuration(settings: [setting]) }
        do {
            _ = try RecommendationEngine.Configuration(settings: [setting])
        } catch {
            let key = String(setting.prefix(while: { $0 != "=" }))
            #expect(error.description.contains(key) || error.description.contains("KEY=NUMBER"), "\(error.description)")
        }
    }
}

struct RetrainingInputTests {
    private func event(_ type: EventType, _ user: String, _ item: String?, at seconds: Int64, value: Double? = nil) -> Event {
        Event(type: type, user: user, item: item, timestamp: .seconds(seconds), value: value)
    }

    @Test func aRetrainSeesEachEventsSignalWithTheUsersRunningMeanRating() {
        var engine = RecommendationEngine()
        for item in ["a", "b", "c", "d"] { engine.learn(self.event(.view, "u", item, at: 1)) }
        let events = [
            self.event(.rating, "u", "a", at: 10, value: 5),
            self.event(.rating, "u", "b", at: 11),  // no stars: counts at the user's mean
            self.event(.rating, "u", "c", at: 12, value: 1),
            self.event(.like, "u", "d", at: 13),
            self.event(.dwell, "u", "a", at: 14, value: 30),
            self.event(.view, "stranger", "a", at: 15),  // a user the engine does not know
            self.event(.view, "u", "unknown", at: 16),  // an item it does not know
            self.event(.navigate, "u", nil, at: 17),
        ]
        let compact = events.compactMap { engine.trainingEvent($0) }
        #expect(compact.count == 5)
        let interactions = engine.interactions(from: events)
        // Defaults: rating weight 1, base 2, scale 1, prior mean 3.5 over 2 ratings; like 4; dwell 2, scale 30 s.
        let meanAfterFirst = (5 + 3.5 * 2) / 3.0
        let expected: [(item: String, signal: Double)] = [
            ("a", 2 + (5 - 3.5)),
            ("b", 2),
            ("c", 2 + (1 - meanAfterFirst)),
            ("d", 4),
            ("a", 2 * (1 - exp(-1.0))),
        ]
        #expect(interactions.count == expected.count)
        for (interaction, expected) in zip(interactions, expected) {
            #expect(engine.itemKey(interaction.item).name == expected.item)
            #expect(abs(Double(interaction.signal) - expected.signal) < 1e-5, "\(expected.item)")
        }
    }
}
