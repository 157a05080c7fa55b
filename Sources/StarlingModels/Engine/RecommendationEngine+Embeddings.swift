extension RecommendationEngine {
    /// Learns one signed signal into the embeddings.
    ///
    /// With ``EmbeddingTrainer/bpr``: BPR steps for a positive signal, a logistic step down for a negative one.
    /// With ``EmbeddingTrainer/ials``: the pair's net signal moves and the user, then the item, is folded in
    /// (``ImplicitFoldIn/learn(user:item:signal:factors:)``). While a retrain runs the signal is also recorded for
    /// ``install(_:)``.
    mutating func learnEmbedding(user: Int32, item: Int32, signal: Float) {
        if var foldIn = self.implicitFoldIn {
            // Moved out so that its arrays stay uniquely referenced while they change.
            self.implicitFoldIn = nil
            foldIn.learn(user: user, item: item, signal: signal, factors: &self.factors)
            self.implicitFoldIn = foldIn
        } else if signal > 0 {
            self.factors.learnPositive(user: user, item: item, weight: signal)
        } else if signal < 0 {
            self.factors.learnNegative(user: user, item: item, weight: -signal)
        }
        self.pendingReplay?.append(FactorTrainer.Interaction(user: user, item: item, signal: signal))
    }

    /// The full retrain matching the engine's ``Configuration/trainer``: BPR epochs, or a batch iALS refit with
    /// ``Configuration/implicitALS``.
    public func factorTrainer(_ configuration: FactorTrainer.Configuration = .init()) -> FactorTrainer {
        FactorTrainer(
            configuration: configuration,
            factors: self.configuration.factors,
            implicitALS: self.configuration.trainer == .ials ? self.configuration.implicitALS : nil
        )
    }

    /// After retrained vectors were installed: folds in again, against them, every user and then every item that
    /// had an event since the retrain's snapshot (their installed vectors do not know those events, and rows created
    /// since were fitted against the old vectors).
    mutating func refoldAfterInstall(_ interactions: [FactorTrainer.Interaction]) {
        guard var foldIn = self.implicitFoldIn else { return }
        self.implicitFoldIn = nil
        defer { self.implicitFoldIn = foldIn }
        foldIn.invalidateGrams()
        let limits = foldIn.solver.configuration
        for user in Set(interactions.map(\.user)).sorted()
        where Int(user) < foldIn.feedback.users.count && foldIn.feedback.users[Int(user)].ids.count <= limits.userFoldInLimit {
            foldIn.foldIn(user: user, factors: &self.factors)
        }
        for item in Set(interactions.map(\.item)).sorted()
        where Int(item) < foldIn.feedback.items.count && foldIn.feedback.items[Int(item)].ids.count <= limits.itemFoldInLimit {
            foldIn.foldIn(item: item, factors: &self.factors)
        }
    }
}
