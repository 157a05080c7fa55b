public import StarlingModels

/// The result of evaluating one source under one protocol.
public struct EvaluationRow: Hashable, Sendable {
    /// How the source was evaluated.
    public var `protocol`: EvaluationProtocol
    /// The recommendation source evaluated.
    public var source: RecommendationSource
    /// Which users the means are over (temporal rows are also reported for warm and cold users alone).
    public var users: EvaluationUsers
    /// Mean hit rate at 10.
    public var hrAt10: Double
    /// Mean NDCG at 10.
    public var ndcgAt10: Double
    /// Mean recall at 20 (temporal only).
    public var recallAt20: Double?
    /// Catalogue coverage at 10 (temporal only).
    public var coverageAt10: Double?
    /// Events replayed per second of wall-clock time, recommendations and learning together (prequential only).
    public var eventsPerSecond: Double?
    /// How many queries the means are over: positive events (prequential) or test users (temporal).
    public var evaluated: Int

    public init(
        protocol: EvaluationProtocol,
        source: RecommendationSource,
        hrAt10: Double,
        ndcgAt10: Double,
        recallAt20: Double? = nil,
        coverageAt10: Double? = nil,
        eventsPerSecond: Double? = nil,
        evaluated: Int,
        users: EvaluationUsers = .all
    ) {
        self.protocol = `protocol`
        self.source = source
        self.hrAt10 = hrAt10
        self.ndcgAt10 = ndcgAt10
        self.recallAt20 = recallAt20
        self.coverageAt10 = coverageAt10
        self.eventsPerSecond = eventsPerSecond
        self.evaluated = evaluated
        self.users = users
    }
}
