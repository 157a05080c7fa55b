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
/// ``runByUsers(events:source:makeRecommender:)`` also reports the same means over the *warm* test users (those with
/// at least one training event of any kind) and over the *cold* ones (no training event) separately.
///
/// ```swift
/// let row = TemporalEvaluation().run(events: events, source: .popularity) { PopularityRecommender() }
/// let rows = TemporalEvaluation().runByUsers(events: events, source: .blend) { RecommendationEngine() }
/// // rows[0]: all test users, rows[1]: warm, rows[2]: cold
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
        self.runByUsers(events: events, source: source, makeRecommender: makeRecommender)[0]
    }

    /// Trains a fresh recommender on the past and measures `source` on the future, over all test users, the warm
    /// ones and the cold ones.
    ///
    /// A test user (one with at least one positive test item) is warm when they have at least one training event of
    /// any kind, cold otherwise. Coverage@10 of each row is over that row's users' top 10s.
    ///
    /// - Returns: Three rows, in the order ``EvaluationUsers/all``, ``EvaluationUsers/warm``,
    ///   ``EvaluationUsers/cold``; a group without users has `nan` means and `evaluated` 0.
    public func runByUsers(
        events: [Event],
        source: RecommendationSource,
        makeRecommender: () -> any Recommender
    ) -> [EvaluationRow] {
        var recommender = makeRecommender()
        return self.evaluate(events.sortedByTime(), with: &recommender, source: source)
    }

    private func evaluate(
        _ events: [Event],
        with recommender: inout some Recommender,
        source: RecommendationSource
    ) -> [EvaluationRow] {
        let share = min(max(self.configuration.trainingShare, 0), 1)
        let trainingCount = Int((Double(events.count) * share).rounded(.down))
        var trained: Set<String> = []
        for event in events[..<trainingCount] {
            recommender.learn(event)
            trained.insert(event.user)
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

        var all = Means()
        var warm = Means()
        var cold = Means()
        for user in users {
            let ranked = recommender.recommend(user: user, count: 20, source: source).map(\.key)
            let items = relevant[user]!
            all.add(ranked: ranked, relevant: items)
            if trained.contains(user) {
                warm.add(ranked: ranked, relevant: items)
            } else {
                cold.add(ranked: ranked, relevant: items)
            }
        }
        return [
            all.row(source: source, users: .all, catalogue: catalogue),
            warm.row(source: source, users: .warm, catalogue: catalogue),
            cold.row(source: source, users: .cold, catalogue: catalogue),
        ]
    }

    /// The running sums of one group of test users.
    private struct Means {
        var hits = 0.0
        var gain = 0.0
        var recall = 0.0
        var topLists: [[ItemKey]] = []

        mutating func add(ranked: [ItemKey], relevant: Set<ItemKey>) {
            self.hits += RankingMetrics.hitRate(ranked: ranked, relevant: relevant, k: 10)
            self.gain += RankingMetrics.ndcg(ranked: ranked, relevant: relevant, k: 10)
            self.recall += RankingMetrics.recall(ranked: ranked, relevant: relevant, k: 20)
            self.topLists.append(Array(ranked.prefix(10)))
        }

        func row(source: RecommendationSource, users: EvaluationUsers, catalogue: Int) -> EvaluationRow {
            let count = Double(self.topLists.count)
            return EvaluationRow(
                protocol: .temporal,
                source: source,
                hrAt10: count == 0 ? .nan : self.hits / count,
                ndcgAt10: count == 0 ? .nan : self.gain / count,
                recallAt20: count == 0 ? .nan : self.recall / count,
                coverageAt10: RankingMetrics.coverage(rankings: self.topLists, k: 10, catalogueSize: catalogue),
                evaluated: self.topLists.count,
                users: users
            )
        }
    }
}
