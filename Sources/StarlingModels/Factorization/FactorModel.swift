#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Matrix-factorisation embeddings learned online, one event at a time.
///
/// Positive feedback takes Bayesian-personalised-ranking steps (the event's item should score above a sampled
/// item the user did not touch); negative feedback pushes the item's score down through a logistic loss. Each step
/// touches only the user's vector and two item vectors, O(dimensions), so learning costs well under a microsecond
/// at 64 dimensions. A plain value: the owner decides when to learn and when to publish.
public struct FactorModel: Sendable {
    /// Configuration of a ``FactorModel``.
    public struct Configuration: Sendable {
        /// Embedding size. Defaults to 64.
        public var dimensions: Int
        /// SGD step size. Defaults to 0.05.
        public var learningRate: Float
        /// L2 regularisation. Defaults to 0.01.
        public var regularization: Float
        /// Sampled negatives per positive event. Defaults to 4.
        public var negatives: Int
        /// Signal weights above this are clipped, to keep steps stable. Defaults to 4.
        public var maxWeight: Float
        /// Standard deviation of the initial vectors. Defaults to 0.1.
        public var initialScale: Float
        /// Seed of the sampler and initialisation, for reproducible runs. Defaults to 1.
        public var seed: UInt64

        public init(
            dimensions: Int = 64,
            learningRate: Float = 0.05,
            regularization: Float = 0.01,
            negatives: Int = 4,
            maxWeight: Float = 4,
            initialScale: Float = 0.1,
            seed: UInt64 = 1
        ) {
            precondition(dimensions > 0 && negatives >= 0, "dimensions must be positive, negatives not negative")
            self.dimensions = dimensions
            self.learningRate = learningRate
            self.regularization = regularization
            self.negatives = negatives
            self.maxWeight = maxWeight
            self.initialScale = initialScale
            self.seed = seed
        }
    }

    public let configuration: Configuration
    /// User vectors, row-major: user `u` occupies `[u·d, (u+1)·d)`.
    public internal(set) var userFactors: [Float] = []
    /// Item vectors, row-major.
    public internal(set) var itemFactors: [Float] = []
    private var random: SplitMix64

    public init(configuration: Configuration = .init()) {
        self.configuration = configuration
        self.random = SplitMix64(seed: configuration.seed)
    }

    public var userCount: Int { self.userFactors.count / self.configuration.dimensions }
    public var itemCount: Int { self.itemFactors.count / self.configuration.dimensions }

    /// Makes room for users up to `user` with small random vectors.
    public mutating func ensureUser(_ user: Int32) {
        while self.userCount <= Int(user) { Self.appendRandomVector(to: &self.userFactors, &self.random, self.configuration) }
    }

    /// Makes room for items up to `item` with small random vectors.
    public mutating func ensureItem(_ item: Int32) {
        while self.itemCount <= Int(item) { Self.appendRandomVector(to: &self.itemFactors, &self.random, self.configuration) }
    }

    /// Appends one vector of ``Configuration/initialScale`` standard deviation. Each value is the centred sum of four
    /// 16-bit uniforms (Irwin–Hall, close to normal): one random draw per value and no transcendental functions,
    /// since a new user's vector is made on the learning path.
    private static func appendRandomVector(
        to matrix: inout [Float],
        _ random: inout SplitMix64,
        _ configuration: Configuration
    ) {
        // The sum of four U(0, 1) has mean 2 and variance 4/12.
        let scale = configuration.initialScale * Float(3).squareRoot() / 65_536
        for _ in 0..<configuration.dimensions {
            let bits = random.next()
            let sum = (bits & 0xFFFF) + (bits >> 16 & 0xFFFF) + (bits >> 32 & 0xFFFF) + (bits >> 48)
            matrix.append((Float(sum) - 2 * 65_536) * scale)
        }
    }

    /// Learns that `user` prefers `item` with `weight` (> 0): one BPR step against each of
    /// ``Configuration/negatives`` items sampled uniformly.
    public mutating func learnPositive(user: Int32, item: Int32, weight: Float) {
        let d = self.configuration.dimensions
        let lr = self.configuration.learningRate * min(weight, self.configuration.maxWeight)
        let decay = lr * self.configuration.regularization
        let items = self.itemCount
        guard items > 1 else { return }
        // A local copy, so that sampling does not overlap the access to the vectors.
        let negatives = self.configuration.negatives
        var random = self.random
        defer { self.random = random }
        self.withVectors { users, itemVectors in
            let u = users.baseAddress! + Int(user) * d
            let vi = itemVectors.baseAddress! + Int(item) * d
            for _ in 0..<negatives {
                var j = Int(truncatingIfNeeded: random.next() % UInt64(items))
                if j == Int(item) { j = (j + 1) % items }
                VectorMath.bprStep(user: u, positive: vi, negative: itemVectors.baseAddress! + j * d, count: d, rate: lr, decay: decay)
            }
        }
    }

    /// Learns that `user` does not want `item`, with strength `weight` (> 0).
    public mutating func learnNegative(user: Int32, item: Int32, weight: Float) {
        let d = self.configuration.dimensions
        let lr = self.configuration.learningRate * min(weight, self.configuration.maxWeight)
        let reg = self.configuration.regularization
        self.withVectors { users, itemVectors in
            let u = users.baseAddress! + Int(user) * d
            let v = itemVectors.baseAddress! + Int(item) * d
            let x = VectorMath.dot(u, v, d)
            let g = lr / (1 + expf(-x))  // σ(x) · step: push the score towards "no"
            for k in 0..<d {
                let uk = u[k]
                u[k] -= g * v[k] + lr * reg * uk
                v[k] -= g * uk + lr * reg * v[k]
            }
        }
    }

    /// Runs `body` on the user and item vectors in place. The arrays are moved out of `self` first so that they stay
    /// uniquely referenced: writing through them never triggers a copy-on-write of the whole matrix.
    mutating func withVectors<Result>(
        _ body: (UnsafeMutableBufferPointer<Float>, UnsafeMutableBufferPointer<Float>) -> Result
    ) -> Result {
        var userFactors = self.userFactors
        var itemFactors = self.itemFactors
        self.userFactors = []
        self.itemFactors = []
        defer {
            self.userFactors = userFactors
            self.itemFactors = itemFactors
        }
        return userFactors.withUnsafeMutableBufferPointer { users in
            itemFactors.withUnsafeMutableBufferPointer { items in body(users, items) }
        }
    }

    /// Scores every item for `user` into `scores` (resized to the item count).
    public func scoreAllItems(for user: Int32, into scores: inout [Float]) {
        guard Int(user) < self.userCount else {
            scores = [Float](repeating: 0, count: self.itemCount)
            return
        }
        self.userFactors.withUnsafeBufferPointer { users in
            self.scoreAllItems(users.baseAddress! + Int(user) * self.configuration.dimensions, into: &scores)
        }
    }

    /// Scores every item for a user vector (of ``Configuration/dimensions`` values) into `scores`.
    public func scoreAllItems(for vector: [Float], into scores: inout [Float]) {
        precondition(vector.count == self.configuration.dimensions, "the vector must have the model's dimensions")
        vector.withUnsafeBufferPointer { self.scoreAllItems($0.baseAddress!, into: &scores) }
    }

    /// The `count` items with the highest score for a user vector, best first, skipping those `blocked` marks:
    /// an exact scan of every item that keeps only a bounded heap (no array of all scores is built).
    func nearestItems(to vector: [Float], count: Int, blocked: [Bool]) -> [(id: Int32, score: Float)] {
        precondition(vector.count == self.configuration.dimensions, "the vector must have the model's dimensions")
        let d = self.configuration.dimensions
        var top = TopK(count)
        vector.withUnsafeBufferPointer { user in
            self.itemFactors.withUnsafeBufferPointer { items in
                blocked.withUnsafeBufferPointer { blocked in
                    for i in 0..<min(self.itemCount, blocked.count) where !blocked[i] {
                        let score = VectorMath.dot(user.baseAddress!, items.baseAddress! + i * d, d)
                        if score > top.threshold { top.offer(Int32(i), score) }
                    }
                }
            }
        }
        return top.sorted()
    }

    private func scoreAllItems(_ u: UnsafePointer<Float>, into scores: inout [Float]) {
        let d = self.configuration.dimensions
        let items = self.itemCount
        if scores.count != items { scores = [Float](repeating: 0, count: items) }
        self.itemFactors.withUnsafeBufferPointer { itemVectors in
            scores.withUnsafeMutableBufferPointer { out in
                for i in 0..<items {
                    out[i] = VectorMath.dot(u, itemVectors.baseAddress! + i * d, d)
                }
            }
        }
    }

    /// The user's vector.
    public func userVector(_ user: Int32) -> ArraySlice<Float> {
        let d = self.configuration.dimensions
        return self.userFactors[(Int(user) * d)..<(Int(user) * d + d)]
    }

    /// The item's vector.
    public func itemVector(_ item: Int32) -> ArraySlice<Float> {
        let d = self.configuration.dimensions
        return self.itemFactors[(Int(item) * d)..<(Int(item) * d + d)]
    }

    /// Replaces all vectors (restoring a checkpoint or hot-swapping a retrained model).
    public mutating func replace(userFactors: [Float], itemFactors: [Float]) {
        precondition(userFactors.count % self.configuration.dimensions == 0)
        precondition(itemFactors.count % self.configuration.dimensions == 0)
        self.userFactors = userFactors
        self.itemFactors = itemFactors
    }
}

/// A small, fast, seedable generator (SplitMix64).
package struct SplitMix64: Sendable {
    private var state: UInt64

    package init(seed: UInt64) {
        self.state = seed
    }

    package mutating func next() -> UInt64 {
        self.state &+= 0x9E37_79B9_7F4A_7C15
        var z = self.state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
