import StarlingCore
import StarlingEvaluation
import StarlingModels
import Testing

struct PrequentialEvaluationTests {
    /// Eight events; the second half is indices 4–7. Positives (rating ≥ 4) at 0, 2 (first half) and 4, 6, 7.
    static let stream = [
        rating("u1", "a", 5, at: 10),  // 0: positive, queried, not measured
        rating("u2", "b", 2, at: 20),  // 1: not queried
        rating("u1", "b", 4, at: 30),  // 2: positive, queried, not measured
        rating("u2", "c", 3, at: 40),  // 3: not queried
        rating("u1", "c", 5, at: 50),  // 4: u1 has learned a, b → [x, c]: hit at rank 2
        rating("u2", "d", 1, at: 60),  // 5: not queried
        rating("u2", "a", 4, at: 70),  // 6: u2 has learned b, c, d → a at rank 10
        rating("u3", "e", 4.5, at: 80),  // 7: u3's list has no e: miss
    ]

    static let script = [
        "u1": ["a", "b", "x", "c"],
        "u2": ["z", "y", "w", "b", "q", "r", "s", "t", "u", "v", "a"],
        "u3": ["f"],
    ]

    @Test func measuresPositivesInTheSecondHalfOnly() {
        let log = RecommenderLog()
        let row = PrequentialEvaluation().run(events: Self.stream, source: .embedding) {
            MockRecommender(script: Self.script, log: log)
        }
        #expect(row.protocol == .prequential)
        #expect(row.source == .embedding)
        #expect(row.evaluated == 3)
        #expect(isClose(row.hrAt10, 2.0 / 3))
        #expect(isClose(row.ndcgAt10, (gain(rank: 2) + gain(rank: 10) + 0) / 3))
        #expect(row.recallAt20 == nil)
        #expect(row.coverageAt10 == nil)
        #expect((row.eventsPerSecond ?? 0) > 0)
    }

    @Test func queriesEveryPositiveBeforeLearningItAndNoOtherEvent() {
        let log = RecommenderLog()
        _ = PrequentialEvaluation().run(events: Self.stream, source: .embedding) {
            MockRecommender(script: Self.script, log: log)
        }
        #expect(log.queries.map(\.user) == ["u1", "u1", "u1", "u2", "u3"])
        #expect(log.queries.allSatisfy { $0.count == 10 && $0.source == .embedding })
        #expect(log.learned == Self.stream)
    }

    @Test func replaysInTimeOrder() {
        let log = RecommenderLog()
        let row = PrequentialEvaluation().run(events: Self.stream.reversed(), source: .embedding) {
            MockRecommender(script: Self.script, log: log)
        }
        #expect(log.learned == Self.stream)
        #expect(isClose(row.hrAt10, 2.0 / 3))
    }

    @Test func positiveThresholdIsConfigurable() {
        let log = RecommenderLog()
        let row = PrequentialEvaluation(configuration: .init(positiveThreshold: 5)).run(
            events: Self.stream,
            source: .embedding
        ) { MockRecommender(script: Self.script, log: log) }
        // Only the ratings of 5 (indices 0 and 4) are positive; index 4 is in the second half.
        #expect(log.queries.map(\.user) == ["u1", "u1"])
        #expect(row.evaluated == 1)
        #expect(isClose(row.hrAt10, 1))
        #expect(isClose(row.ndcgAt10, gain(rank: 2)))
    }

    @Test func reportsProgressEveryTenthOfTheStream() {
        let events = (0..<100).map { rating("u\($0 % 7)", "i\($0 % 13)", 3, at: Int64($0)) }
        var reports: [PrequentialEvaluation.Progress] = []
        let log = RecommenderLog()
        _ = PrequentialEvaluation().run(events: events, source: .embedding, makeRecommender: {
            MockRecommender(script: [:], log: log)
        }) { reports.append($0) }
        #expect(reports.map(\.processed) == [10, 20, 30, 40, 50, 60, 70, 80, 90, 100])
        #expect(reports.map(\.percent) == [10, 20, 30, 40, 50, 60, 70, 80, 90, 100])
        #expect(reports.allSatisfy { $0.total == 100 })
        #expect(log.queries.isEmpty)
    }

    @Test func popularityBaselineOnAScriptedStream() {
        // Second half: index 2 (u3 likes a; counts a=1, b=1, reached a first → [a, b]: rank 1) and index 3 (u4
        // likes c, never seen → miss).
        let events = [
            rating("u1", "a", 5, at: 1),
            rating("u2", "b", 5, at: 2),
            rating("u3", "a", 4, at: 3),
            rating("u4", "c", 4, at: 4),
        ]
        let row = PrequentialEvaluation().run(events: events, source: .popularity) { PopularityRecommender() }
        #expect(row.evaluated == 2)
        #expect(isClose(row.hrAt10, 0.5))
        #expect(isClose(row.ndcgAt10, 0.5))
    }
}
