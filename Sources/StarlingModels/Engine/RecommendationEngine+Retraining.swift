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

    /// An event reduced to what a retrain needs from it: 24 bytes instead of the event's strings, so that a retrain
    /// can hold every retained event.
    public struct TrainingEvent: Sendable {
        public var timestamp: Int64
        var user: Int32
        var item: Int32
        /// The signal of any event but a rating; NaN for a rating, whose signal depends on the user's mean rating at
        /// its time.
        var signal: Float
        /// A rating's stars; NaN when it has none (it then counts at the user's mean).
        var stars: Float
    }

    /// `event` in compact form; `nil` when it names no item, or a user or item this engine does not know.
    public func trainingEvent(_ event: Event) -> TrainingEvent? {
        guard let name = event.item, let item = self.itemID(named: name), let user = self.userID(event.user) else {
            return nil
        }
        let isRating = event.type == .rating
        return TrainingEvent(
            timestamp: event.timestamp.milliseconds,
            user: user,
            item: item,
            signal: isRating ? .nan : Float(self.configuration.signals.signal(of: event, userMeanRating: 0)),
            stars: isRating ? event.value.map(Float.init) ?? .nan : .nan
        )
    }

    /// The signed signal of each event for embedding training, in event order, with the users' running mean
    /// ratings as the engine computes them; events of users or items this engine does not know are skipped.
    public func interactions(from events: some Sequence<Event>) -> [FactorTrainer.Interaction] {
        self.interactions(from: events.compactMap { self.trainingEvent($0) })
    }

    /// The signed signal of each compact event for embedding training, in the given order (event order), with the
    /// users' running mean ratings as the engine computes them.
    public func interactions(from events: [TrainingEvent]) -> [FactorTrainer.Interaction] {
        var sums: [Int32: (sum: Double, count: Double)] = [:]
        var result: [FactorTrainer.Interaction] = []
        let signals = self.configuration.signals
        for event in events {
            var signal = Double(event.signal)
            if signal.isNaN {
                let ratings = sums[event.user, default: (0, 0)]
                let mean = (ratings.sum + signals.ratingPriorMean * signals.ratingPriorCount)
                    / (ratings.count + signals.ratingPriorCount)
                let stars = event.stars.isNaN ? nil : Double(event.stars)
                signal = signals.signal(ofRating: stars, userMeanRating: mean)
                if let stars { sums[event.user] = (ratings.sum + stars, ratings.count + 1) }
            }
            if signal != 0 { result.append(FactorTrainer.Interaction(user: event.user, item: event.item, signal: Float(signal))) }
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
