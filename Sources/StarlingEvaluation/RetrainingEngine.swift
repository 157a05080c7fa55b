public import StarlingCore
public import StarlingModels

/// The engine with a full embedding retrain every `interval` events, run inline: how the offline evaluation
/// measures what the background retrain adds (production retrains on a background thread; see
/// `ModelRetrainer`).
public struct RetrainingEngine: Recommender, Sendable {
    public private(set) var engine: RecommendationEngine
    private var events: [Event] = []
    private let interval: Int
    private let trainer: FactorTrainer

    /// - Parameter trainer: The retrain's settings; the engine's configuration picks BPR or iALS
    ///   (``RecommendationEngine/factorTrainer(_:)``).
    public init(engine: RecommendationEngine, interval: Int, trainer: FactorTrainer.Configuration = .init()) {
        precondition(interval > 0, "interval must be positive")
        self.engine = engine
        self.interval = interval
        self.trainer = engine.factorTrainer(trainer)
    }

    public var sources: [RecommendationSource] { self.engine.sources }

    public mutating func learn(_ event: Event) {
        self.engine.learn(event)
        self.events.append(event)
        if self.events.count % self.interval == 0 { self.retrain() }
    }

    /// Retrains the embeddings on every event learned so far and installs them.
    public mutating func retrain() {
        self.engine.beginRetrain()
        let interactions = self.engine.interactions(from: self.events)
        if let trained = self.trainer.train(
            interactions,
            userCount: self.engine.userCount,
            itemCount: self.engine.itemCount
        ) {
            self.engine.install(trained)
        }
    }

    public func recommend(user: String, count: Int, source: RecommendationSource) -> [ScoredItem] {
        self.engine.recommend(user: user, count: count, source: source)
    }
}
