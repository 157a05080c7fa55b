public import StarlingCore
public import StarlingModels

/// Temporal hold-out evaluation of one recommendation source.
///
/// The first ``Configuration/trainingShare`` of the events by time (80 % by default) are learned; the rest are the
/// test set and are never learned. Every user with at least one positive test event (a rating of at least
/// ``Configuration/positiveThreshold``) asks for their top 20 from the source — which ranks every item the user
/// did not interact with in training — and is scored against their positive test items: HR@10, NDCG@10 and
/// Recall@20, averaged over those users. Coverage@10 is the share of the distinct items in all the events that
/// appear in at least one of those users' top 10.
///
/// ```swift
/// let row = TemporalEvaluation().run(events: events, source: .popularity) { PopularityRecommender() }
/// ```
public struct TemporalEvaluation: Sendable {
    public struct Configuration: Sendable {
        /// The smallest rating that makes a test event relevant.
        public var positiveThreshold: Double
        /// The share of the events, by time, that train (from 0 to 1).
        public var trainingShare: Double

        public init(positiveThreshold: Double = 4, trainingShare: Double = 0.8) {
            self.positiveThreshold = positiveThreshold
            self.trainingShare = trainingShare
        }
    }

    public var configuration: Configuration

    public init(configuration: Configuration = .init()) {
        self.configuration = configuration
    }

    /// Trains a fresh recommender on the past and measures `source` on the future.
    ///
    /// - Parameters:
    ///   - events: The events; they are split in time order (stably, so equal timestamps keep their order).
    ///   - source: The source to query.
    ///   - makeRecommender: Makes the recommender, called once.
    /// - Returns: HR@10, NDCG@10, Recall@20 and Coverage@10; no events per second.
    public func run(
        events: [Event],
        source: RecommendationSource,
        makeRecommender: () -> any Recommender
    ) -> EvaluationRow {
        var recommender = makeRecommender()
        return self.evaluate(events.sortedByTime(), with: &recommender, source: source)
    }

    private func evaluate(
        _ events: [Event],
        with recommender: inout some Recommender,
        source: RecommendationSource
    ) -> EvaluationRow {
        let share = min(max(self.configuration.trainingShare, 0), 1)
        let trainingCount = Int((Double(events.count) * share).rounded(.down))
        for event in events[..<trainingCount] {
            recommender.learn(event)
        }

        // The positive test items of each user, users in the order of their first positive test event.
        var users: [String] = []
        var relevant: [String: Set<ItemKey>] = [:]
        for event in events[trainingCount...] {
            guard let item = event.item, event.isPositive(threshold: self.configuration.positiveThreshold) else {
                continue
            }
            if relevant[event.user] == nil { users.append(event.user) }
            relevant[event.user, default: []].insert(ItemKey(item))
        }
        let catalogue = Set(events.compactMap(\.item)).count

        var hits = 0.0
        var gain = 0.0
        var recall = 0.0
        var topLists: [[ItemKey]] = []
        topLists.reserveCapacity(users.count)
        for user in users {
            let ranked = recommender.recommend(user: user, count: 20, source: source).map(\.key)
            let items = relevant[user]!
            hits += RankingMetrics.hitRate(ranked: ranked, relevant: items, k: 10)
            gain += RankingMetrics.ndcg(ranked: ranked, relevant: items, k: 10)
            recall += RankingMetrics.recall(ranked: ranked, relevant: items, k: 20)
            topLists.append(Array(ranked.prefix(10)))
        }
        let count = Double(users.count)
        return EvaluationRow(
            protocol: .temporal,
            source: source,
            hrAt10: users.isEmpty ? .nan : hits / count,
            ndcgAt10: users.isEmpty ? .nan : gain / count,
            recallAt20: users.isEmpty ? .nan : recall / count,
            coverageAt10: RankingMetrics.coverage(rankings: topLists, k: 10, catalogueSize: catalogue),
            evaluated: users.count
        )
    }
}
