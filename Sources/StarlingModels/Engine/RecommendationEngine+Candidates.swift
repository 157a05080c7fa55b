public import StarlingCore

extension RecommendationEngine {
    // MARK: - Recommending

    /// Why an item was recommended.
    public enum Reason: Hashable, Sendable, CustomStringConvertible {
        /// It co-occurs with an item the user (or session) chose recently.
        case similar(to: ItemKey)
        /// It co-occurs with the user's recent items; which one is worked out only for the items finally chosen.
        case cooccurring
        case trending
        case trendingIn(String)
        case taste
        case similarUsers
        case popular

        public var description: String {
            switch self {
            case .similar(let item): "similar to \(item.name)"
            case .cooccurring: "similar to your recent items"
            case .trending: "trending"
            case .trendingIn(let category): "trending in \(category)"
            case .taste: "matches your taste"
            case .similarUsers: "popular with similar users"
            case .popular: "popular"
            }
        }
    }

    /// A scored candidate with the reason it was chosen.
    public struct Candidate: Sendable, Hashable {
        public var item: Int32
        public var score: Float
        public var reason: Reason
    }

    public func recommend(user: String, count: Int, source: RecommendationSource) -> [ScoredItem] {
        self.candidates(user: user, count: count, source: source, excluding: []).map {
            ScoredItem(key: self.itemKey($0.item), score: Double($0.score))
        }
    }

    /// The top candidates for `user` from `source`, never an item the user has seen or one in `excluding`.
    ///
    /// - Parameter excludeSeen: When `false`, items the user has seen may come back (disliked ones never do).
    public func candidates(
        user: String,
        count: Int,
        source: RecommendationSource,
        excluding: Set<Int32>,
        excludeSeen: Bool = true
    ) -> [Candidate] {
        self.candidates(
            context: self.userID(user).flatMap { self.users[Int($0)].events > 0 ? self.context(of: $0) : nil },
            count: count,
            source: source,
            excluding: excluding,
            excludeSeen: excludeSeen
        )
    }

    /// The top candidates for a user whose state another process published (see ``PortableUser``): what
    /// ``candidates(user:count:source:excluding:excludeSeen:)`` returns for a user this engine knows, computed from
    /// that state and this engine's item-side models.
    public func candidates(
        for user: PortableUser,
        count: Int,
        source: RecommendationSource,
        excluding: Set<Int32>,
        excludeSeen: Bool = true
    ) -> [Candidate] {
        self.candidates(
            context: { () -> UserContext in
                let (state, vector) = self.userState(resolving: user)
                return UserContext(state: state, vector: vector)
            }(),
            count: count,
            source: source,
            excluding: excluding,
            excludeSeen: excludeSeen
        )
    }

    private func candidates(
        context: UserContext?,
        count: Int,
        source: RecommendationSource,
        excluding: Set<Int32>,
        excludeSeen: Bool
    ) -> [Candidate] {
        let blocked = self.blockedMask(context: context, excluding: excluding, excludeSeen: excludeSeen)
        if source == .blend {
            return self.blend(context: context, count: count, blocked: blocked)
        }
        return self.candidates(context: context, count: count, source: source, blocked: blocked)
    }

    /// A user's state as the recommending code reads it: the engine's own, or one published by another process.
    struct UserContext {
        var state: UserState
        /// The user's embedding in this engine's item space; `nil` when there is none to trust.
        var vector: [Float]?
    }

    private func context(of user: Int32) -> UserContext {
        UserContext(state: self.users[Int(user)], vector: Array(self.factors.userVector(user)))
    }

    /// Per item: whether it must not be recommended (seen by the user, disliked, or excluded by the request).
    /// Built once per request so that scanning sources test one array element per item.
    private func blockedMask(context: UserContext?, excluding: Set<Int32>, excludeSeen: Bool) -> [Bool] {
        var mask = [Bool](repeating: false, count: self.itemCount)
        if let state = context?.state {
            for item in excludeSeen ? state.seen : state.disliked {
                mask[Int(item)] = true
            }
        }
        for item in excluding where Int(item) < mask.count && item >= 0 { mask[Int(item)] = true }
        return mask
    }

    func candidates(context: UserContext?, count: Int, source: RecommendationSource, blocked: [Bool])
        -> [Candidate]
    {
        let state = context?.state
        let isBlocked: (Int32) -> Bool = { blocked[Int($0)] }
        switch source {
        case .embedding:
            guard let state, state.events > 0, let vector = context?.vector else { return [] }
            return self.factors.nearestItems(to: vector, count: count, blocked: blocked)
                .map { Candidate(item: $0.id, score: $0.score, reason: .taste) }
        case .cooccurrence:
            let recent = state?.recent ?? []
            return self.explained(
                self.cooccurrenceCandidates(recent: recent, count: count, blocked: isBlocked),
                recent: recent
            )
        case .trending:
            return self.top(self.trending, count: count, blocked: isBlocked, reason: .trending)
        case .popularity:
            return self.top(self.popularity, count: count, blocked: isBlocked, reason: .popular)
        case .segment:
            guard let state, state.segment >= 0 else { return [] }
            return self.top(
                self.segmentPopularity[Int(state.segment)],
                count: count,
                blocked: isBlocked,
                reason: .similarUsers
            )
        default:
            return []
        }
    }

    func top(_ counter: TrendingCounter, count: Int, blocked: (Int32) -> Bool, reason: Reason) -> [Candidate] {
        var result: [Candidate] = []
        result.reserveCapacity(count)
        counter.forEachRanked(at: self.latest) { item, score in
            if !blocked(item) {
                result.append(Candidate(item: item, score: Float(score), reason: reason))
            }
            return result.count < count
        }
        return result
    }

    /// Trending items within `category`, best first.
    public func categoryCandidates(_ category: String, count: Int, excluding: Set<Int32>) -> [Candidate] {
        guard let counter = self.categoryPopularity[category] else { return [] }
        return self.top(counter, count: count, blocked: { excluding.contains($0) }, reason: .trendingIn(category))
    }

    func cooccurrenceCandidates(recent: [Int32], count: Int, blocked: (Int32) -> Bool) -> [Candidate] {
        guard !recent.isEmpty else { return [] }
        var accumulator = CooccurrenceModel.Accumulator(
            itemCount: self.itemCount,
            expectedItems: recent.count * self.configuration.cooccurrence.maxNeighbours
        )
        // More recent items weigh more: 1, 0.9, 0.81, …
        var weight: Float = 1
        for item in recent.reversed() {
            self.cooccurrence.accumulate(from: item, weight: weight, into: &accumulator)
            weight *= self.configuration.recencyDecay
        }
        var top = TopK(count)
        for (item, score) in zip(accumulator.touched, accumulator.scores) {
            if score > top.threshold, !blocked(item) { top.offer(item, score) }
        }
        return top.sorted().map { Candidate(item: $0.id, score: $0.score, reason: .cooccurring) }
    }

    /// Replaces `.cooccurring` reasons by the recent item that contributes most to each candidate.
    func explained(_ candidates: [Candidate], recent: [Int32]) -> [Candidate] {
        candidates.map { candidate in
            guard candidate.reason == .cooccurring, !recent.isEmpty else { return candidate }
            var best = recent.last!
            var bestContribution: Float = -1
            var weight: Float = 1
            for item in recent.reversed() {
                let contribution = weight * self.cooccurrence.similarity(item, candidate.item)
                if contribution > bestContribution {
                    best = item
                    bestContribution = contribution
                }
                weight *= self.configuration.recencyDecay
            }
            var explained = candidate
            explained.reason = .similar(to: self.itemKey(best))
            return explained
        }
    }


    /// Items most similar to `item` by co-occurrence.
    public func similarItems(to key: ItemKey, count: Int) -> [Candidate] {
        guard let item = self.itemID(key) else { return [] }
        var accumulator = CooccurrenceModel.Accumulator(
            itemCount: self.itemCount,
            expectedItems: self.configuration.cooccurrence.maxNeighbours
        )
        self.cooccurrence.accumulate(from: item, weight: 1, into: &accumulator)
        var top = TopK(count)
        for (other, score) in zip(accumulator.touched, accumulator.scores) where other != item { top.offer(other, score) }
        return top.sorted().map { Candidate(item: $0.id, score: $0.score, reason: .similar(to: key)) }
    }


    /// The category of `item`, from the latest event that named one in `context.category`.
    public func category(of item: Int32) -> String? {
        self.itemCategories[item]
    }

    /// Cosine similarities among `items` (for diversity); an item the engine does not know (`nil`) is similar to
    /// nothing.
    public func embeddingSimilarities(of items: [Int32?]) -> EmbeddingSimilarities {
        let d = self.factors.configuration.dimensions
        var vectors = [Float](repeating: 0, count: items.count * d)
        self.factors.itemFactors.withUnsafeBufferPointer { factors in
            vectors.withUnsafeMutableBufferPointer { vectors in
                for (k, item) in items.enumerated() {
                    guard let item, Int(item) < factors.count / d else { continue }
                    let source = factors.baseAddress! + Int(item) * d
                    let norm = VectorMath.dot(source, source, d).squareRoot()
                    guard norm > 0 else { continue }
                    for j in 0..<d { vectors[k * d + j] = source[j] / norm }
                }
            }
        }
        return EmbeddingSimilarities(vectors: vectors, dimensions: d)
    }

    /// The trending list with item names, for serving.
    public func trendingSnapshot() -> TrendingSnapshot {
        self.trending.snapshot(names: self.itemKeys, at: self.latest)
    }
}
