/// Full retraining of the embeddings from every interaction, in the background.
///
/// The online model only ever sees each event once, in arrival order. A full retrain starts from fresh vectors and
/// fits them to every interaction in the retained log at once, so every item vector is fitted against all of its
/// users: with BPR, several shuffled epochs of the same BPR and logistic steps; with iALS (when ``implicitALS`` is
/// set), a batch implicit-ALS refit of each pair's net signal (``ImplicitALS/train(_:into:shouldStop:)``). The result is hot-swapped into the live engine
/// (``RecommendationEngine/install(_:)``) with a new model version; it never blocks ingest or serving.
public struct FactorTrainer: Sendable {
    /// One interaction: a user, an item and the event's signed signal.
    public struct Interaction: Sendable {
        public var user: Int32
        public var item: Int32
        public var signal: Float

        public init(user: Int32, item: Int32, signal: Float) {
            self.user = user
            self.item = item
            self.signal = signal
        }
    }

    /// Configuration of a retrain.
    public struct Configuration: Sendable {
        /// Passes over the data (BPR only: iALS runs ``ImplicitALS/Configuration/iterations``). Defaults to 10.
        public var epochs: Int
        /// Seed of the shuffles and initial vectors.
        public var seed: UInt64

        public init(epochs: Int = 10, seed: UInt64 = 7) {
            precondition(epochs > 0, "epochs must be positive")
            self.epochs = epochs
            self.seed = seed
        }
    }

    public let configuration: Configuration
    public let factors: FactorModel.Configuration
    /// When set, retrains by implicit ALS with these settings instead of BPR epochs.
    public let implicitALS: ImplicitALS.Configuration?

    /// - Parameter implicitALS: The iALS settings, to refit by iALS; `nil` (the default) trains by BPR.
    public init(
        configuration: Configuration = .init(),
        factors: FactorModel.Configuration,
        implicitALS: ImplicitALS.Configuration? = nil
    ) {
        self.configuration = configuration
        self.factors = factors
        self.implicitALS = implicitALS
    }

    /// Trains fresh embeddings for `userCount` users and `itemCount` items on `interactions`.
    ///
    /// - Parameter shouldStop: Polled between epochs (or iALS passes); returning `true` abandons the retrain (returns `nil`).
    public func train(
        _ interactions: [Interaction],
        userCount: Int,
        itemCount: Int,
        shouldStop: () -> Bool = { false }
    ) -> FactorModel? {
        var configuration = self.factors
        configuration.seed = self.configuration.seed
        var model = FactorModel(configuration: configuration)
        if userCount > 0 { model.ensureUser(Int32(userCount - 1)) }
        if itemCount > 0 { model.ensureItem(Int32(itemCount - 1)) }
        if let implicitALS = self.implicitALS {
            let feedback = ImplicitFeedback(interactions, userCount: userCount, itemCount: itemCount)
            let solver = ImplicitALS(configuration: implicitALS, dimensions: configuration.dimensions)
            return solver.train(feedback, into: &model, shouldStop: shouldStop) ? model : nil
        }
        var order = Array(interactions.indices)
        var random = SplitMix64(seed: self.configuration.seed)
        for _ in 0..<self.configuration.epochs {
            if shouldStop() { return nil }
            // Fisher–Yates shuffle.
            for k in stride(from: order.count - 1, to: 0, by: -1) {
                order.swapAt(k, Int(random.next() % UInt64(k + 1)))
            }
            for index in order {
                let interaction = interactions[index]
                if interaction.signal > 0 {
                    model.learnPositive(user: interaction.user, item: interaction.item, weight: interaction.signal)
                } else if interaction.signal < 0 {
                    model.learnNegative(user: interaction.user, item: interaction.item, weight: -interaction.signal)
                }
            }
        }
        return model
    }
}
