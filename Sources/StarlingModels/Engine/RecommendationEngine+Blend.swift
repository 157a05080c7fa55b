import StarlingCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif


extension RecommendationEngine {
    /// Candidates gathered from several sources: per item, the summed contribution and the reason of the largest.
    private struct Fusion {
        var slots = Int32Map(minimumCapacity: 128)
        var items: [Int32] = []
        var scores: [Float] = []
        var best: [Float] = []
        var reasons: [Reason] = []

        mutating func add(_ item: Int32, _ contribution: Float, _ reason: Reason) {
            if let slot = self.slots[item] {
                let k = Int(slot)
                self.scores[k] += contribution
                if contribution > self.best[k] {
                    self.best[k] = contribution
                    self.reasons[k] = reason
                }
            } else {
                self.slots.set(item, Int32(self.items.count))
                self.items.append(item)
                self.scores.append(contribution)
                self.best.append(contribution)
                self.reasons.append(reason)
            }
        }
    }

    /// The weighted blend of every source's candidates. Each source's scores are divided by its best score, so
    /// every source contributes on a 0–1 scale times its weight; each item keeps the reason of the source that
    /// contributed most to it. A user the engine knows nothing about gets trending items.
    func blend(context: UserContext?, count: Int, blocked: [Bool]) -> [Candidate] {
        guard let context, context.state.events > 0 else {
            return self.candidates(context: context, count: count, source: .trending, blocked: blocked)
        }
        let state = context.state
        var fusion = Fusion()
        let depth = max(count, self.configuration.blendDepth)
        let idle = Double(max(0, self.latest.milliseconds - state.lastEvent))
        let activity = exp2(-idle / self.configuration.activityHalfLife.fractionalMilliseconds)
        var weights = self.configuration.blendWeights
        if Int(state.events) <= self.configuration.coldStartEvents {
            weights[.segment] = max(weights[.segment] ?? 0, self.configuration.coldStartSegmentWeight)
        }
        for (source, baseWeight) in weights.sorted(by: { $0.key.name < $1.key.name })
        where baseWeight > 0 && source != .embedding {
            let personal = source == .cooccurrence || source == .segment
            let weight = personal ? baseWeight * activity : baseWeight
            let list =
                source == .cooccurrence
                ? self.cooccurrenceCandidates(recent: state.recent, count: depth, blocked: { blocked[Int($0)] })
                : self.candidates(context: context, count: depth, source: source, blocked: blocked)
            guard let best = list.first?.score, best > 0 else { continue }
            let scale = Float(weight) / best
            for candidate in list where candidate.score > 0 {
                fusion.add(candidate.item, candidate.score * scale, candidate.reason)
            }
        }
        // The embedding re-scores the candidates the other sources found (and, when configured, its own nearest
        // items over the whole catalogue, which enter the pool with no score of their own).
        if self.configuration.embeddingCandidates > 0, context.vector != nil {
            let nearest = self.candidates(
                context: context,
                count: self.configuration.embeddingCandidates,
                source: .embedding,
                blocked: blocked
            )
            for candidate in nearest { fusion.add(candidate.item, 0, .taste) }
        }
        if let embeddingWeight = self.configuration.blendWeights[.embedding], embeddingWeight > 0,
            !fusion.items.isEmpty, let vector = context.vector
        {
            let weight = Float(embeddingWeight * activity)
            let d = self.factors.configuration.dimensions
            let scores = vector.withUnsafeBufferPointer { user in
                self.factors.itemFactors.withUnsafeBufferPointer { items in
                    fusion.items.map { VectorMath.dot(user.baseAddress!, items.baseAddress! + Int($0) * d, d) }
                }
            }
            if let best = scores.max(), best > 0 {
                for (item, score) in zip(fusion.items, scores) where score > 0 {
                    fusion.add(item, weight * score / best, .taste)
                }
            }
        }
        var top = TopK(count)
        for (k, item) in fusion.items.enumerated() { top.offer(item, fusion.scores[k]) }
        return self.explained(
            top.sorted().map {
                Candidate(item: $0.id, score: $0.score, reason: fusion.reasons[Int(fusion.slots[$0.id]!)])
            },
            recent: state.recent
        )
    }
}
