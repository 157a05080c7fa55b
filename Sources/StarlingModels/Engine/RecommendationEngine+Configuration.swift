extension RecommendationEngine {
    /// Configuration of the engine and its models.
    public struct Configuration: Sendable {
        public var signals: SignalConfiguration
        public var factors: FactorModel.Configuration
        /// How the embeddings are fitted, per event and by a full retrain. Defaults to ``EmbeddingTrainer/bpr``.
        public var trainer: EmbeddingTrainer = .bpr
        /// The iALS settings, used when ``trainer`` is ``EmbeddingTrainer/ials``.
        public var implicitALS = ImplicitALS.Configuration()
        public var cooccurrence: CooccurrenceModel.Configuration
        public var segments: OnlineKMeans.Configuration
        /// Half-life of trending (global, category and segment popularity). Defaults to 4 days.
        public var trendingHalfLife: Duration
        /// Items of a user's (or session's) recent window used for co-occurrence. Defaults to 20.
        public var recentWindow: Int
        /// How many of the user's most recent items each positive event is paired with in co-occurrence (at most
        /// ``recentWindow``). Defaults to 20.
        public var cooccurrenceWindow: Int = 20
        /// Weight per source in the blend. Defaults (tuned on MovieLens-100K's training part): co-occurrence 1,
        /// trending 0.3, embedding 0.2, segment 0.
        public var blendWeights: [RecommendationSource: Double]
        /// How many candidates each source contributes to the blend. Defaults to 50.
        public var blendDepth: Int
        /// How many nearest items by embedding, over the whole catalogue (an exact scan with a bounded heap), join the
        /// blend's candidates before the embedding re-scores them all. Defaults to 0: the embedding only re-scores
        /// what the other sources found, which scored as well on MovieLens at a fraction of the cost.
        public var embeddingCandidates: Int = 0
        /// Users with at most this many events are "cold": their segment's popularity joins the blend with
        /// ``coldStartSegmentWeight``, since their own history says little yet. Defaults to 5.
        public var coldStartEvents: Int = 5
        /// The blend weight of segment popularity for cold users. Defaults to 0.5.
        public var coldStartSegmentWeight: Double = 0.5
        /// Sessions idle this long (in event time) are forgotten once there are more than ``maxSessions``.
        /// Defaults to 30 minutes.
        public var sessionTimeout: Duration = .seconds(30 * 60)
        /// How many sessions are kept before idle ones are expired. Defaults to 100,000.
        public var maxSessions: Int = 100_000
        /// Weight of the k-th most recent item relative to the next more recent one, in co-occurrence scoring.
        /// Defaults to 0.9.
        public var recencyDecay: Float = 0.9
        /// In the blend, the personal sources (co-occurrence with recent items, embeddings, segment) count fully
        /// while the user is active and half as much this long after their latest event, as their recent items go
        /// stale and what is trending now matters more. Defaults to 7 days.
        public var activityHalfLife: Duration = .seconds(7 * 24 * 3_600)

        /// The most categories (from events' `context.category`) with their own trending list; events in further
        /// categories still count everywhere else. Defaults to 10,000.
        public var maxCategories: Int = 10_000

        /// One category's trending: sparse, so that its size follows its own items.
        var categoryTrending: TrendingCounter.Configuration {
            .init(halfLife: self.trendingHalfLife, topSize: 300, sparse: true)
        }

        var trendingConfiguration: TrendingCounter.Configuration {
            .init(halfLife: self.trendingHalfLife, topSize: 1_000)
        }

        public init(
            signals: SignalConfiguration = .init(),
            factors: FactorModel.Configuration = .init(),
            cooccurrence: CooccurrenceModel.Configuration = .init(),
            segments: OnlineKMeans.Configuration = .init(),
            trendingHalfLife: Duration = .seconds(4 * 24 * 3_600),
            recentWindow: Int = 20,
            blendWeights: [RecommendationSource: Double] = [
                .cooccurrence: 1.0, .trending: 0.3, .embedding: 0.2, .segment: 0.0,
            ],
            blendDepth: Int = 50
        ) {
            self.signals = signals
            self.factors = factors
            self.cooccurrence = cooccurrence
            self.segments = segments
            self.trendingHalfLife = trendingHalfLife
            self.recentWindow = recentWindow
            self.blendWeights = blendWeights
            self.blendDepth = blendDepth
        }
    }
}
