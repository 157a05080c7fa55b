import StarlingEvaluation
import Testing

struct RankingMetricsTests {
    @Test func ndcgOfASingleHitDependsOnItsRank() {
        #expect(RankingMetrics.ndcg(ranked: ["a", "b", "c"], relevant: ["a"], k: 10) == 1)
        #expect(RankingMetrics.ndcg(ranked: ["a", "b", "c"], relevant: ["c"], k: 10) == 0.5)  // 1 / log2(4)
        #expect(RankingMetrics.ndcg(ranked: ["a", "b", "c"], relevant: ["z"], k: 10) == 0)
        #expect(RankingMetrics.ndcg(ranked: ["a", "b", "c"], relevant: ["c"], k: 2) == 0)
    }

    @Test func ndcgWithSeveralRelevantItems() {
        // Hits at ranks 1 and 3: DCG = 1 + 1/log2(4) = 1.5. Three relevant items: IDCG = 1 + 1/log2(3) + 1/2.
        let ndcg = RankingMetrics.ndcg(ranked: ["a", "x", "b", "y"], relevant: ["a", "b", "c"], k: 10)
        #expect(isClose(ndcg, 1.5 / (1 + gain(rank: 2) + 0.5)))
        #expect(isClose(ndcg, 0.703_918_089, tolerance: 1e-9))
    }

    @Test func idealDcgIsCappedAtK() {
        let relevant = Set((1...12).map { "i\($0)" })
        let ranked = (1...12).map { "i\($0)" }
        #expect(isClose(RankingMetrics.ndcg(ranked: ranked, relevant: relevant, k: 10), 1))
        // Hit at rank 2 only, two relevant items: 1/log2(3) / (1 + 1/log2(3)).
        #expect(isClose(RankingMetrics.ndcg(ranked: ["x", "a"], relevant: ["a", "b"], k: 10), gain(rank: 2) / (1 + gain(rank: 2))))
    }

    @Test func repeatedItemCountsOnce() {
        #expect(RankingMetrics.ndcg(ranked: ["a", "a"], relevant: ["a", "b"], k: 10) == 1 / (1 + gain(rank: 2)))
        #expect(RankingMetrics.recall(ranked: ["a", "a"], relevant: ["a", "b"], k: 10) == 0.5)
    }

    @Test func hitRateLooksOnlyAtTheFirstK() {
        #expect(RankingMetrics.hitRate(ranked: ["x", "a"], relevant: ["a"], k: 2) == 1)
        #expect(RankingMetrics.hitRate(ranked: ["x", "a"], relevant: ["a"], k: 1) == 0)
        #expect(RankingMetrics.hitRate(ranked: [String](), relevant: ["a"], k: 10) == 0)
    }

    @Test func recallIsTheShareOfRelevantItemsFound() {
        let ranked = ["a", "x", "b", "y", "c"]
        #expect(RankingMetrics.recall(ranked: ranked, relevant: ["a", "b", "c"], k: 4) == 2.0 / 3)
        #expect(RankingMetrics.recall(ranked: ranked, relevant: ["a", "b", "c"], k: 5) == 1)
        #expect(RankingMetrics.recall(ranked: ranked, relevant: [], k: 5) == 0)
    }

    @Test func coverageCountsDistinctItemsInTheTopK() {
        let rankings = [["a", "b", "c"], ["b", "c", "d"], []]
        #expect(RankingMetrics.coverage(rankings: rankings, k: 2, catalogueSize: 10) == 0.3)  // a, b, c
        #expect(RankingMetrics.coverage(rankings: rankings, k: 3, catalogueSize: 8) == 0.5)  // a, b, c, d
    }
}
