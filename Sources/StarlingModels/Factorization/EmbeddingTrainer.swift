/// How the embeddings are fitted, online and by a full retrain: ``bpr`` or ``ials``.
///
/// Chosen with the `--model trainer=bpr|ials` setting (``RecommendationEngine/Configuration/trainer``).
public struct EmbeddingTrainer: Hashable, Sendable, CustomStringConvertible {
    /// The name used in settings.
    public let name: String

    private init(_ name: String) {
        self.name = name
    }

    public var description: String { self.name }

    /// Bayesian personalised ranking: per event, SGD steps against sampled negatives; a retrain runs shuffled epochs
    /// of the same steps (``FactorTrainer/Configuration/epochs``).
    public static let bpr = EmbeddingTrainer("bpr")
    /// Implicit-feedback alternating least squares (``ImplicitALS``): per event, the user's (and a not yet popular
    /// item's) vector is re-solved against the other side (``ImplicitFoldIn``); a retrain is a batch iALS refit.
    public static let ials = EmbeddingTrainer("ials")

    /// Every trainer, for parsing and error messages.
    public static let all: [EmbeddingTrainer] = [.bpr, .ials]

    /// The trainer called `name`, if any.
    public init?(named name: String) {
        guard let trainer = Self.all.first(where: { $0.name == name }) else { return nil }
        self = trainer
    }
}
