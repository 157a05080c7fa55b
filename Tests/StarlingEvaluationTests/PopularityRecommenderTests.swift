import StarlingCore
import StarlingEvaluation
import StarlingModels
import Testing

struct PopularityRecommenderTests {
    @Test func ranksByCountWithoutTheUsersItems() {
        var recommender = PopularityRecommender()
        for (user, item) in [("u1", "a"), ("u2", "a"), ("u3", "a"), ("u1", "b"), ("u2", "b"), ("u4", "c")] {
            recommender.learn(rating(user, item, 3, at: 0))
        }
        #expect(recommender.sources == [.popularity])
        #expect(recommender.recommend(user: "new", count: 10, source: .popularity).map(\.item) == ["a", "b", "c"])
        #expect(recommender.recommend(user: "new", count: 10, source: .popularity).map(\.score) == [3, 2, 1])
        #expect(recommender.recommend(user: "u1", count: 10, source: .popularity).map(\.item) == ["c"])
        #expect(recommender.recommend(user: "u4", count: 1, source: .popularity).map(\.item) == ["a"])
        #expect(recommender.recommend(user: "u4", count: 10, source: .trending).isEmpty)
    }

    @Test func equalCountsRankTheItemThatGotThereFirstFirst() {
        var recommender = PopularityRecommender()
        for (user, item) in [("u1", "x"), ("u2", "y"), ("u3", "y"), ("u4", "x"), ("u5", "z")] {
            recommender.learn(rating(user, item, 3, at: 0))
        }
        #expect(recommender.recommend(user: "new", count: 10, source: .popularity).map(\.item) == ["y", "x", "z"])
    }

    @Test func matchesABruteForceRanking() {
        var recommender = PopularityRecommender()
        var counts: [String: Int] = [:]
        var reached: [String: Int] = [:]
        var seen: [String: Set<String>] = [:]
        var state: UInt64 = 7
        func next(_ bound: UInt64) -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((state >> 33) % bound)
        }
        for step in 0..<3_000 {
            // Skewed item choice, so counts spread out and ties are common.
            let item = "i\(next(UInt64(next(60) + 1)))"
            let user = "u\(next(40))"
            recommender.learn(rating(user, item, 4, at: Int64(step)))
            counts[item, default: 0] += 1
            reached[item] = step
            seen[user, default: []].insert(item)
            if step % 97 == 0 {
                let expected = counts.keys
                    .filter { !(seen[user]?.contains($0) ?? false) }
                    .sorted { counts[$0]! != counts[$1]! ? counts[$0]! > counts[$1]! : reached[$0]! < reached[$1]! }
                    .prefix(15)
                #expect(recommender.recommend(user: user, count: 15, source: .popularity).map(\.item) == Array(expected))
            }
        }
    }
}
