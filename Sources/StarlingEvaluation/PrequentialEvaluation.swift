public import StarlingCore
public import StarlingModels

/// Prequential ("test, then train") evaluation of one recommendation source.
///
/// The events are replayed in time order into a fresh recommender. Before a *positive* event (a rating of at least
/// ``Configuration/positiveThreshold``) is learned, the recommender is asked for the user's top 10 from the source,
/// and the event's item is the one relevant item: HR@10 is 1 when it is among them, NDCG@10 is
/// `1 / log2(rank + 1)` (the ideal DCG is 1). Other events are learned without a query. The means are over the
/// positive events in the second half of the stream (indices from `events.count / 2` on), so the models are
/// judged once they have seen some data; the first half is still queried, so the timing covers the whole replay.
///
/// ```swift
/// let row = PrequentialEvaluation().run(events: events, source: .popularity) { PopularityRecommender() }
/// ```
public struct PrequentialEvaluation: Sendable {
    public struct Configuration: Sendable {
        /// The smallest rating that makes an event positive.
        public var positiveThreshold: Double

        public init(positiveThreshold: Double = 4) {
            self.positiveThreshold = positiveThreshold
        }
    }

    /// How far a replay has got.
    public struct Progress: Sendable {
        /// Events replayed so far.
        public var processed: Int
        /// Events in the whole replay.
        public var total: Int
        /// Wall-clock time since the replay started.
        public var elapsed: Duration

        /// `processed` as a percentage of `total`.
        public var percent: Int { self.total == 0 ? 100 : self.processed * 100 / self.total }

        /// Events replayed per second so far.
        public var eventsPerSecond: Double { Double(self.processed) / max(self.elapsed.fractionalSeconds, 1e-9) }
    }

    public var configuration: Configuration

    public init(configuration: Configuration = .init()) {
        self.configuration = configuration
    }

    /// Replays `events` into a fresh recommender and measures `source`.
    ///
    /// - Parameters:
    ///   - events: The stream; it is replayed in time order (stably, so equal timestamps keep their order).
    ///   - source: The source to query.
    ///   - makeRecommender: Makes the recommender, called once.
    ///   - progress: Called after every tenth of the events (and so once at the end).
    /// - Returns: HR@10, NDCG@10 and events per second; no recall or coverage.
    public func run(
        events: [Event],
        source: RecommendationSource,
        makeRecommender: () -> any Recommender,
        progress: (Progress) -> Void = { _ in }
    ) -> EvaluationRow {
        var recommender = makeRecommender()
        return self.replay(events.sortedByTime(), into: &recommender, source: source, progress: progress)
    }

    private func replay(
        _ events: [Event],
        into recommender: inout some Recommender,
        source: RecommendationSource,
        progress: (Progress) -> Void
    ) -> EvaluationRow {
        let secondHalf = events.count / 2
        let clock = ContinuousClock()
        let start = clock.now
        var hits = 0.0
        var gain = 0.0
        var measured = 0
        var nextReport = 1  // in tenths of the stream
        for (index, event) in events.enumerated() {
            if let item = event.item, event.isPositive(threshold: self.configuration.positiveThreshold) {
                let ranked = recommender.recommend(user: event.user, count: 10, source: source)
                if index >= secondHalf {
                    let keys = ranked.map(\.key)
                    let relevant: Set<ItemKey> = [ItemKey(item)]
                    hits += RankingMetrics.hitRate(ranked: keys, relevant: relevant, k: 10)
                    gain += RankingMetrics.ndcg(ranked: keys, relevant: relevant, k: 10)
                    measured += 1
                }
            }
            recommender.learn(event)
            let processed = index + 1
            if processed * 10 >= nextReport * events.count {
                progress(Progress(processed: processed, total: events.count, elapsed: clock.now - start))
                nextReport = processed * 10 / events.count + 1
            }
        }
        let seconds = (clock.now - start).fractionalSeconds
        return EvaluationRow(
            protocol: .prequential,
            source: source,
            hrAt10: measured == 0 ? .nan : hits / Double(measured),
            ndcgAt10: measured == 0 ? .nan : gain / Double(measured),
            eventsPerSecond: events.isEmpty || seconds <= 0 ? nil : Double(events.count) / seconds,
            evaluated: measured
        )
    }
}
