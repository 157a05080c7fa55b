import StarlingModels
@testable import StarlingServing
import Testing

struct DiversificationTests {
    /// Maximal marginal relevance as first written: each pick recomputes every candidate's closest similarity
    /// against everything picked so far.
    private func reference(
        scores: [Double],
        count: Int,
        lambda: Double,
        similarity: (Int, Int) -> Double,
        admit: (Int) -> Bool
    ) -> [Int] {
        var remaining = Array(scores.indices)
        var picked: [Int] = []
        while picked.count < count, !remaining.isEmpty {
            var position = 0
            if lambda > 0, !picked.isEmpty {
                let best = max(scores[remaining[0]], 1e-12)
                var bestValue = -Double.infinity
                for (k, candidate) in remaining.enumerated() {
                    var closest = 0.0
                    for other in picked { closest = max(closest, similarity(candidate, other)) }
                    let value = (1 - lambda) * scores[candidate] / best - lambda * closest
                    if value > bestValue {
                        bestValue = value
                        position = k
                    }
                }
            }
            let candidate = remaining.remove(at: position)
            if admit(candidate) { picked.append(candidate) }
        }
        return picked
    }

    /// Deterministic pseudo-random numbers in [0, 1).
    private struct Numbers {
        var generator: SplitMix64
        mutating func next() -> Double { Double(self.generator.next() >> 11) / Double(1 << 53) }
    }

    @Test(arguments: [0.0, 0.3, 0.7, 1.0])
    func picksWhatRecomputingEverySimilarityPicks(lambda: Double) {
        var numbers = Numbers(generator: SplitMix64(seed: UInt64(lambda * 1_000) + 7))
        for round in 0..<20 {
            let n = 5 + round * 7
            let scores = (0..<n).map { _ in numbers.next() }.sorted(by: >)
            // Points on a line: similarity falls with distance, and some pairs are negative (counted as 0).
            let positions = (0..<n).map { _ in numbers.next() }
            let similarity = { (a: Int, b: Int) in 1 - 3 * abs(positions[a] - positions[b]) }
            let categories = (0..<n).map { _ in Int(numbers.next() * 4) }
            let count = 1 + round % 12
            var taken = [Int: Int]()
            var takenByReference = [Int: Int]()
            let picked = Diversification.pick(
                scores: scores,
                count: count,
                lambda: lambda,
                similarity: similarity,
                admit: { k in
                    defer { taken[categories[k], default: 0] += 1 }
                    return taken[categories[k], default: 0] < 2
                }
            )
            let expected = self.reference(
                scores: scores,
                count: count,
                lambda: lambda,
                similarity: similarity,
                admit: { k in
                    defer { takenByReference[categories[k], default: 0] += 1 }
                    return takenByReference[categories[k], default: 0] < 2
                }
            )
            #expect(picked == expected, "round \(round): \(n) candidates, count \(count)")
        }
    }

    @Test func eachPickComparesEveryRemainingCandidateOnce() {
        let n = 1_000
        let count = 200
        var comparisons = 0
        let picked = Diversification.pick(
            scores: (0..<n).map { Double(n - $0) },
            count: count,
            lambda: 1,
            similarity: { a, b in
                comparisons += 1
                return a % 7 == b % 7 ? 1 : 0
            },
            admit: { _ in true }
        )
        #expect(picked.count == count)
        // With λ = 1 only dissimilarity counts: the first seven picks cover the seven classes.
        #expect(Set(picked.prefix(7).map { $0 % 7 }).count == 7)
        // Recomputing against every picked item would make about count²·n / 2 = 20 million comparisons.
        #expect(comparisons <= count * n)
    }
}
