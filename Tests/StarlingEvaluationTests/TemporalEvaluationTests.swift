import StarlingCore
import StarlingEvaluation
import StarlingModels
import Testing

struct TemporalEvaluationTests {
    /// Twenty events: the first 16 train, the last 4 test.
    static let events: [Event] = {
        var events = [
            rating("u1", "a", 5, at: 1),
            rating("u1", "b", 3, at: 2),
            rating("u2", "a", 4, at: 3),
            rating("u2", "c", 5, at: 4),
            rating("u3", "b", 4, at: 5),
        ]
        events += (1...11).map { rating("filler", "i\($0 < 10 ? "0" : "")\($0)", 3, at: Int64(5 + $0)) }
        events += [
            rating("u1", "d", 5, at: 17),
            rating("u3", "g", 4, at: 18),
            rating("u1", "e", 4, at: 19),
            rating("u2", "e", 2, at: 20),  // not positive: u2 is not a test user
        ]
        return events
    }()

    static let items = (1...11).map { "i\($0 < 10 ? "0" : "")\($0)" }

    /// u1 has learned a and b, so gets [d, i01 … i11, c, e]: d at rank 1, e at 14.
    /// u3 has learned b, so gets [i01 … i10, g]: g at rank 11.
    static let script = [
        "u1": ["a", "d"] + Self.items + ["b", "c", "e"],
        "u3": ["b"] + Self.items.prefix(10) + ["g"],
        "u2": ["e"],
    ]

    @Test func scoresEachTestUserAgainstTheirPositiveTestItems() {
        let log = RecommenderLog()
        let row = TemporalEvaluation().run(events: Self.events, source: .embedding) {
            MockRecommender(script: Self.script, log: log)
        }
        #expect(row.protocol == .temporal)
        #expect(row.evaluated == 2)
        // u1: relevant {d, e}, hit at rank 1 only in the top 10: NDCG = 1 / (1 + 1/log2(3)); both in the top 20.
        // u3: relevant {g} at rank 11: no hit in the top 10, found in the top 20.
        #expect(isClose(row.hrAt10, 0.5))
        #expect(isClose(row.ndcgAt10, (1 / (1 + gain(rank: 2)) + 0) / 2))
        #expect(isClose(row.recallAt20, 1))
        // Top 10s: {d, i01 … i09} ∪ {i01 … i10} = 11 items of the 17 in the data (a, b, c, d, e, g, i01 … i11).
        #expect(isClose(row.coverageAt10, 11.0 / 17))
        #expect(row.eventsPerSecond == nil)
    }

    @Test func learnsOnlyTheTrainingEventsAndQueriesTestUsersForTwenty() {
        let log = RecommenderLog()
        _ = TemporalEvaluation().run(events: Self.events.reversed(), source: .embedding) {
            MockRecommender(script: Self.script, log: log)
        }
        #expect(log.learned == Array(Self.events.prefix(16)))
        #expect(log.queries.map(\.user) == ["u1", "u3"])
        #expect(log.queries.allSatisfy { $0.count == 20 && $0.source == .embedding })
    }

    @Test func positiveThresholdIsConfigurable() {
        let log = RecommenderLog()
        let row = TemporalEvaluation(configuration: .init(positiveThreshold: 5)).run(
            events: Self.events,
            source: .embedding
        ) { MockRecommender(script: Self.script, log: log) }
        // Only u1's d (5) is relevant, at rank 1.
        #expect(row.evaluated == 1)
        #expect(isClose(row.hrAt10, 1))
        #expect(isClose(row.ndcgAt10, 1))
        #expect(isClose(row.recallAt20, 1))
    }

    @Test func popularityBaselineOnAScriptedStream() {
        // Train (8): a ×3, b ×2, c ×1 among u1–u5; test (2): u1 likes c, u6 (new) likes b.
        var events = [
            rating("u1", "a", 4, at: 1), rating("u2", "a", 4, at: 2), rating("u3", "a", 4, at: 3),
            rating("u2", "b", 4, at: 4), rating("u3", "b", 4, at: 5), rating("u4", "c", 4, at: 6),
            rating("u5", "a", 1, at: 7), rating("u1", "b", 1, at: 8),
        ]
        events += [rating("u1", "c", 5, at: 9), rating("u6", "b", 4, at: 10)]
        let row = TemporalEvaluation().run(events: events, source: .popularity) { PopularityRecommender() }
        // u1 has seen a, b → [c]: rank 1. u6 → [a, b, c]: b at rank 2.
        #expect(row.evaluated == 2)
        #expect(isClose(row.hrAt10, 1))
        #expect(isClose(row.ndcgAt10, (1 + gain(rank: 2)) / 2))
        #expect(isClose(row.recallAt20, 1))
        #expect(isClose(row.coverageAt10, 1))  // a, b, c of 3 items
    }

    // MARK: Warm and cold users

    /// Half train, half test. w1 rated in training and w2 only viewed (any event makes a user warm); c1 appears only
    /// in the test half (cold); n1 (warm) and n2 (cold) have no positive test item, so neither is a test user.
    static let splitEvents: [Event] = [
        rating("w1", "a", 5, at: 1),
        Event(type: .view, user: "w2", item: "b", timestamp: .seconds(2)),
        rating("n1", "a", 4, at: 3),
        rating("filler", "c", 3, at: 4),
        rating("filler", "d", 3, at: 5),
        rating("w1", "c", 5, at: 6),
        rating("w2", "d", 4, at: 7),
        rating("c1", "c", 4, at: 8),
        rating("n1", "b", 2, at: 9),
        rating("n2", "a", 1, at: 10),
    ]

    /// w1 finds c at rank 1, w2 finds d at rank 2, c1 finds c at rank 3.
    static let splitScript = ["w1": ["c", "d"], "w2": ["c", "d"], "c1": ["d", "b", "c"], "n1": ["b"], "n2": ["a"]]

    @Test func warmUsersHaveATrainingEventOfAnyKindAndColdUsersNone() {
        let log = RecommenderLog()
        let rows = TemporalEvaluation(configuration: .init(trainingShare: 0.5)).runByUsers(
            events: Self.splitEvents,
            source: .embedding
        ) { MockRecommender(script: Self.splitScript, log: log) }
        #expect(rows.map(\.users) == [.all, .warm, .cold])
        #expect(rows.allSatisfy { $0.protocol == .temporal && $0.source == .embedding })
        #expect(rows.map(\.evaluated) == [3, 2, 1])
        #expect(isClose(rows[0].ndcgAt10, (1 + gain(rank: 2) + gain(rank: 3)) / 3))
        #expect(isClose(rows[1].ndcgAt10, (1 + gain(rank: 2)) / 2))
        #expect(isClose(rows[2].ndcgAt10, gain(rank: 3)))
        #expect(rows.allSatisfy { isClose($0.hrAt10, 1) && isClose($0.recallAt20, 1) })
    }

    @Test func usersWithoutAPositiveTestItemAreNeitherWarmNorColdAndAreNotAsked() {
        let log = RecommenderLog()
        _ = TemporalEvaluation(configuration: .init(trainingShare: 0.5)).runByUsers(
            events: Self.splitEvents,
            source: .embedding
        ) { MockRecommender(script: Self.splitScript, log: log) }
        #expect(log.queries.map(\.user) == ["w1", "w2", "c1"])
    }

    @Test func theAllUsersRowIsWhatRunReports() {
        let evaluation = TemporalEvaluation(configuration: .init(trainingShare: 0.5))
        let row = evaluation.run(events: Self.splitEvents, source: .embedding) {
            MockRecommender(script: Self.splitScript, log: RecommenderLog())
        }
        let rows = evaluation.runByUsers(events: Self.splitEvents, source: .embedding) {
            MockRecommender(script: Self.splitScript, log: RecommenderLog())
        }
        #expect(row == rows[0])
    }

    @Test func aGroupWithoutUsersHasNoMeans() {
        // Every test user of the original stream trained: no cold users.
        let rows = TemporalEvaluation().runByUsers(events: Self.events, source: .embedding) {
            MockRecommender(script: Self.script, log: RecommenderLog())
        }
        #expect(rows.map(\.evaluated) == [2, 2, 0])
        #expect(rows[2].ndcgAt10.isNaN && rows[2].hrAt10.isNaN)
        #expect(rows[1].ndcgAt10 == rows[0].ndcgAt10)
    }
}
