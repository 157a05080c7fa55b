#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Time-decayed item-to-item co-occurrence within users' recent histories, with cosine-normalised similarity.
///
/// When a user acts positively on item `i`, each of their last few items `j` co-occurs with `i`; the pair's
/// weight (and each item's own weight) grows by the event's weight, forward-decayed by event time like
/// ``TrendingCounter`` so that old co-occurrences fade without ever touching them. Similarity is
/// `c(i, j) / √(n(i) · n(j))`: every term carries the same decay factor, so the ratio needs none.
public struct CooccurrenceModel: Sendable {
    /// Configuration of a ``CooccurrenceModel``.
    public struct Configuration: Sendable {
        /// How long until a co-occurrence counts half. Defaults to 30 days.
        public var halfLife: Duration
        /// The most neighbours kept per item; the weakest are dropped beyond. Defaults to 300.
        public var maxNeighbours: Int

        public init(halfLife: Duration = .seconds(30 * 24 * 3_600), maxNeighbours: Int = 300) {
            self.halfLife = halfLife
            self.maxNeighbours = maxNeighbours
        }
    }

    public let configuration: Configuration
    private let halfLifeMilliseconds: Double
    public private(set) var landmark: Int64?
    /// Per item: neighbour → forward-decayed co-occurrence weight.
    public private(set) var neighbours: [[Int32: Float]] = []
    /// Per item: forward-decayed occurrence weight.
    public private(set) var weights: [Float] = []

    public init(configuration: Configuration = .init()) {
        self.configuration = configuration
        let (seconds, attoseconds) = configuration.halfLife.components
        self.halfLifeMilliseconds = Double(seconds) * 1_000 + Double(attoseconds) / 1e15
    }

    private mutating func ensure(_ item: Int32) {
        while self.weights.count <= Int(item) {
            self.weights.append(0)
            self.neighbours.append([:])
        }
    }

    private mutating func factor(at milliseconds: Int64) -> Float {
        let landmark = self.landmark ?? milliseconds
        if self.landmark == nil { self.landmark = landmark }
        var exponent = Double(milliseconds - landmark) / self.halfLifeMilliseconds
        if exponent > 60 {
            // Move the landmark so that Float sums stay far from overflow; ratios are unchanged.
            let scale = Float(exp2(-exponent))
            for k in self.weights.indices {
                self.weights[k] *= scale
                for (key, value) in self.neighbours[k] { self.neighbours[k][key] = value * scale }
            }
            self.landmark = milliseconds
            exponent = 0
        }
        return Float(exp2(exponent))
    }

    /// Records that `item` was chosen with `weight` (> 0) right after `recent` (most recent last).
    public mutating func record(item: Int32, weight: Float, after recent: some Collection<Int32>, at milliseconds: Int64) {
        self.ensure(item)
        let w = weight * self.factor(at: milliseconds)
        self.weights[Int(item)] += w
        for other in recent where other != item {
            self.ensure(other)
            self.add(item, other, w)
            self.add(other, item, w)
        }
    }

    private mutating func add(_ a: Int32, _ b: Int32, _ w: Float) {
        self.neighbours[Int(a)][b, default: 0] += w
        if self.neighbours[Int(a)].count > self.configuration.maxNeighbours * 2 {
            // Keep the strongest half: amortised O(1) per insertion.
            let kept = self.neighbours[Int(a)].sorted { $0.value > $1.value }.prefix(self.configuration.maxNeighbours)
            self.neighbours[Int(a)] = Dictionary(uniqueKeysWithValues: kept.map { ($0.key, $0.value) })
        }
    }

    /// Cosine similarity of two items.
    public func similarity(_ a: Int32, _ b: Int32) -> Float {
        guard Int(a) < self.weights.count, Int(b) < self.weights.count,
            let c = self.neighbours[Int(a)][b]
        else { return 0 }
        let norm = (self.weights[Int(a)] * self.weights[Int(b)]).squareRoot()
        return norm > 0 ? c / norm : 0
    }

    /// Adds `weight · similarity(item, j)` to `scores[j]` for each neighbour `j` of `item`, and remembers which
    /// source item contributed most to each candidate.
    public func accumulate(
        from item: Int32,
        weight: Float,
        into scores: inout [Int32: (score: Float, best: Int32, bestContribution: Float)]
    ) {
        guard Int(item) < self.weights.count else { return }
        let ni = self.weights[Int(item)]
        guard ni > 0 else { return }
        for (j, c) in self.neighbours[Int(item)] {
            let nj = self.weights[Int(j)]
            guard nj > 0 else { continue }
            let contribution = weight * c / (ni * nj).squareRoot()
            if var entry = scores[j] {
                entry.score += contribution
                if contribution > entry.bestContribution {
                    entry.best = item
                    entry.bestContribution = contribution
                }
                scores[j] = entry
            } else {
                scores[j] = (contribution, item, contribution)
            }
        }
    }

    /// Restores stored state.
    public mutating func restore(landmark: Int64?, weights: [Float], neighbours: [[Int32: Float]]) {
        self.landmark = landmark
        self.weights = weights
        self.neighbours = neighbours
    }
}
