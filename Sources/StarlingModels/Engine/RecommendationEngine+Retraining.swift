public import StarlingCore

extension RecommendationEngine {
    // MARK: - Retraining

    /// Starts recording online embedding updates for replay after a retrain (see ``install(_:)``).
    public mutating func beginRetrain() {
        self.pendingReplay = []
    }

    /// Abandons a retrain: stops recording online updates.
    public mutating func cancelRetrain() {
        self.pendingReplay = nil
    }

    /// The signed signal of each event for embedding training, in event order, with the users' running mean
    /// ratings as the engine computes them; events of users or items this engine does not know are skipped.
    public func interactions(from events: some Sequence<Event>) -> [FactorTrainer.Interaction] {
        var sums: [Int32: (sum: Double, count: Double)] = [:]
        var result: [FactorTrainer.Interaction] = []
        let signals = self.configuration.signals
        for event in events {
            guard let name = event.item, let item = self.itemID(named: name), let user = self.userID(event.user)
            else { continue }
            let ratings = sums[user, default: (0, 0)]
            let mean = (ratings.sum + signals.ratingPriorMean * signals.ratingPriorCount)
                / (ratings.count + signals.ratingPriorCount)
            let signal = signals.signal(of: event, userMeanRating: mean)
            if event.type == .rating, let value = event.value { sums[user] = (ratings.sum + value, ratings.count + 1) }
            if signal != 0 { result.append(FactorTrainer.Interaction(user: user, item: item, signal: Float(signal))) }
        }
        return result
    }

    /// Installs retrained embeddings and bumps ``modelVersion``.
    ///
    /// Rows for users and items the retrain did not know (created since its snapshot) keep their online vectors;
    /// the online updates recorded since ``beginRetrain()`` are replayed on top (with iALS: each user, then each item,
    /// they touched is folded in again against the installed vectors).
    public mutating func install(_ trained: FactorModel) {
        let d = self.factors.configuration.dimensions
        precondition(trained.configuration.dimensions == d, "retrained embeddings must have the same size")
        var users = self.factors.userFactors
        var items = self.factors.itemFactors
        let userRows = min(trained.userFactors.count, users.count)
        let itemRows = min(trained.itemFactors.count, items.count)
        users.replaceSubrange(0..<userRows, with: trained.userFactors[0..<userRows])
        items.replaceSubrange(0..<itemRows, with: trained.itemFactors[0..<itemRows])
        self.factors.replace(userFactors: users, itemFactors: items)
        if self.implicitFoldIn != nil {
            self.refoldAfterInstall(self.pendingReplay ?? [])
        } else {
            self.replayBPR(self.pendingReplay ?? [])
        }
        self.pendingReplay = nil
        self.modelVersion += 1
    }

    private mutating func replayBPR(_ interactions: [FactorTrainer.Interaction]) {
        for interaction in interactions {
            if interaction.signal > 0 {
                self.factors.learnPositive(user: interaction.user, item: interaction.item, weight: interaction.signal)
            } else {
                self.factors.learnNegative(user: interaction.user, item: interaction.item, weight: -interaction.signal)
            }
        }
    }
}
