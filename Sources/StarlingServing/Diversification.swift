/// Re-ranking by maximal marginal relevance (Carbonell and Goldstein, 1998): each pick maximises
/// `(1 − λ) · score / best remaining score − λ · (similarity to the closest item already picked)`.
///
/// The closest similarity of every remaining candidate is kept up to date as items are picked, so each pick costs
/// one similarity per remaining candidate: O(count · candidates) in all, where recomputing it against every picked
/// item costs O(count² · candidates) — seconds under the engine's lock for `count=200`.
enum Diversification {
    /// The indexes of the picked candidates, in the order picked.
    ///
    /// - Parameters:
    ///   - scores: The candidates' scores, best first.
    ///   - count: The most candidates to pick.
    ///   - lambda: The weight of dissimilarity, 0 (score order) to 1.
    ///   - similarity: The similarity of two candidates, by index.
    ///   - admit: Asked once per candidate that would be picked; a refused candidate is dropped (a category cap).
    static func pick(
        scores: [Double],
        count: Int,
        lambda: Double,
        similarity: (Int, Int) -> Double,
        admit: (Int) -> Bool
    ) -> [Int] {
        var remaining = Array(scores.indices)
        var closest = [Double](repeating: 0, count: scores.count)
        var picked: [Int] = []
        picked.reserveCapacity(min(count, scores.count))
        while picked.count < count, !remaining.isEmpty {
            var position = 0
            if lambda > 0, !picked.isEmpty {
                let best = max(scores[remaining[0]], 1e-12)
                var bestValue = -Double.infinity
                for (k, candidate) in remaining.enumerated() {
                    let value = (1 - lambda) * scores[candidate] / best - lambda * closest[candidate]
                    if value > bestValue {
                        bestValue = value
                        position = k
                    }
                }
            }
            let candidate = remaining.remove(at: position)
            guard admit(candidate) else { continue }
            picked.append(candidate)
            if lambda > 0 {
                for other in remaining { closest[other] = max(closest[other], similarity(other, candidate)) }
            }
        }
        return picked
    }
}
