/// Implicit-feedback alternating least squares (Hu, Koren and Volinsky, "Collaborative Filtering for Implicit
/// Feedback Datasets", 2008): the row solves shared by the batch refit and the per-event fold-in.
///
/// Each (user, item) pair with a net signal `s` is an observation with confidence `c = 1 + alpha·|s|` and preference
/// 1 when `s > 0`, 0 when `s < 0` (a confident "no"); every other pair is a preference 0 with confidence 1. A user's
/// vector `x` minimises `Σ_i c_i (p_i − x·y_i)² + λ|x|²` over *all* items, which is the linear system
///
///     (YᵀY + λI + Σ_{i observed} (c_i − 1) y_i y_iᵀ) x = Σ_{i: p_i = 1} c_i y_i
///
/// The Gram matrix `YᵀY` is shared by every user, so one solve costs O(k² + k·n) per conjugate-gradient step, with
/// `n` the user's observed items and `k` the dimensions, or O(k²·n + k³) exactly (Cholesky). Items are solved the
/// same way against the user vectors.
public struct ImplicitALS: Sendable {
    /// Configuration of the iALS trainer and of the per-event fold-in.
    public struct Configuration: Sendable {
        /// Confidence per unit of signal: `c = 1 + alpha·|signal|`. Defaults to 1 (chosen with ``regularization`` on
        /// MovieLens-100K's first 80,000 events; see `docs/models.md`).
        public var alpha: Float
        /// L2 regularisation `λ`. Defaults to 10.
        public var regularization: Float
        /// Alternating passes (all users, then all items) of a batch refit. Defaults to 15.
        public var iterations: Int
        /// Conjugate-gradient steps per row solve, warm-started from the row's current vector; 0 solves each row
        /// exactly by Cholesky instead. Defaults to 3 (as implicit's ALS does).
        public var conjugateGradientSteps: Int
        /// Per event, the item's vector is folded in too while the item has at most this many users; a more popular
        /// item's vector is already well determined and waits for the next refit, which bounds the per-event cost.
        /// Defaults to 200.
        public var itemFoldInLimit: Int
        /// Per event, the user's vector is folded in while the user has at most this many distinct items; a heavier
        /// user's vector waits for the next refit. Bounds the per-event cost. Defaults to 1,000 (every MovieLens-100K
        /// user is below it).
        public var userFoldInLimit: Int

        public init(
            alpha: Float = 1,
            regularization: Float = 10,
            iterations: Int = 15,
            conjugateGradientSteps: Int = 3,
            itemFoldInLimit: Int = 200,
            userFoldInLimit: Int = 1_000
        ) {
            precondition(alpha >= 0 && regularization >= 0, "alpha and regularization must not be negative")
            precondition(iterations > 0 && conjugateGradientSteps >= 0, "iterations must be positive")
            self.alpha = alpha
            self.regularization = regularization
            self.iterations = iterations
            self.conjugateGradientSteps = conjugateGradientSteps
            self.itemFoldInLimit = itemFoldInLimit
            self.userFoldInLimit = userFoldInLimit
        }
    }

    public let configuration: Configuration
    /// The vectors' size.
    public let dimensions: Int

    public init(configuration: Configuration = .init(), dimensions: Int) {
        precondition(dimensions > 0, "dimensions must be positive")
        self.configuration = configuration
        self.dimensions = dimensions
    }

    /// The Gram matrix `FᵀF` (row-major, `dimensions²` values) of the first `rows` vectors of `factors`, summed in
    /// double precision.
    func gram(of factors: UnsafeBufferPointer<Float>, rows: Int) -> [Float] {
        let d = self.dimensions
        var sums = [Double](repeating: 0, count: d * d)
        for row in 0..<rows {
            let v = factors.baseAddress! + row * d
            for a in 0..<d {
                let va = Double(v[a])
                for b in 0..<d { sums[a * d + b] += va * Double(v[b]) }
            }
        }
        return sums.map { Float($0) }
    }

    /// `gram += new newᵀ − old oldᵀ`: the Gram matrix after one vector changed from `old` (`nil`: a vector that was not
    /// in it) to `new`. O(k²), single precision: the drift of many updates stays far below the regularisation, and a
    /// refit recomputes the matrix.
    func moveOuterProduct(from old: UnsafePointer<Float>?, to new: UnsafePointer<Float>, in gram: UnsafeMutablePointer<Float>) {
        let d = self.dimensions
        for a in 0..<d {
            let row = gram + a * d
            let na = new[a]
            if let old {
                let oa = old[a]
                for b in 0..<d { row[b] += na * new[b] - oa * old[b] }
            } else {
                for b in 0..<d { row[b] += na * new[b] }
            }
        }
    }

    /// Solves one row (a user against the item vectors, or an item against the user vectors) in place.
    ///
    /// - Parameters:
    ///   - x: The row's vector: the warm start of the conjugate gradient, and the result.
    ///   - ids: The row's observed columns.
    ///   - signals: Their net signals (same count as `ids`).
    ///   - others: The other side's vectors, row-major.
    ///   - gram: `othersᵀ·others`, row-major.
    func solve(
        _ x: UnsafeMutablePointer<Float>,
        ids: UnsafeBufferPointer<Int32>,
        signals: UnsafeBufferPointer<Float>,
        others: UnsafePointer<Float>,
        gram: UnsafePointer<Float>
    ) {
        if self.configuration.conjugateGradientSteps > 0 {
            self.conjugateGradient(x, ids: ids, signals: signals, others: others, gram: gram)
        } else {
            self.exact(x, ids: ids, signals: signals, others: others, gram: gram)
        }
    }

    /// The confidence and preference of a net signal.
    @inline(__always)
    func observation(_ signal: Float) -> (confidence: Float, preference: Float) {
        (1 + self.configuration.alpha * abs(signal), signal > 0 ? 1 : 0)
    }

    /// `out = (gram + λI)·p`.
    private func regularizedGramTimes(_ gram: UnsafePointer<Float>, _ p: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>) {
        let d = self.dimensions
        let lambda = self.configuration.regularization
        for b in 0..<d { out[b] = lambda * p[b] }
        for a in 0..<d {
            let pa = p[a]
            let column = gram + a * d  // symmetric: column a is row a
            for b in 0..<d { out[b] += column[b] * pa }
        }
    }

    /// `out += Σ_i (c_i − 1)(y_i·p) y_i` over the row's observations.
    private func addObservedTimes(
        _ p: UnsafePointer<Float>,
        ids: UnsafeBufferPointer<Int32>,
        signals: UnsafeBufferPointer<Float>,
        others: UnsafePointer<Float>,
        _ out: UnsafeMutablePointer<Float>
    ) {
        let d = self.dimensions
        for (id, signal) in zip(ids, signals) {
            let y = others + Int(id) * d
            let w = (self.observation(signal).confidence - 1) * VectorMath.dot(y, p, d)
            for k in 0..<d { out[k] += w * y[k] }
        }
    }

    private func conjugateGradient(
        _ x: UnsafeMutablePointer<Float>,
        ids: UnsafeBufferPointer<Int32>,
        signals: UnsafeBufferPointer<Float>,
        others: UnsafePointer<Float>,
        gram: UnsafePointer<Float>
    ) {
        let d = self.dimensions
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 3 * d) { buffer in
            let r = buffer.baseAddress!
            let p = r + d
            let ap = p + d
            // r = b − A x
            self.regularizedGramTimes(gram, x, r)
            for k in 0..<d { r[k] = -r[k] }
            for (id, signal) in zip(ids, signals) {
                let y = others + Int(id) * d
                let (c, preference) = self.observation(signal)
                let w = c * preference - (c - 1) * VectorMath.dot(y, x, d)
                for k in 0..<d { r[k] += w * y[k] }
            }
            for k in 0..<d { p[k] = r[k] }
            var rsOld = VectorMath.dot(r, r, d)
            for _ in 0..<self.configuration.conjugateGradientSteps {
                if rsOld < 1e-20 { break }
                self.regularizedGramTimes(gram, p, ap)
                self.addObservedTimes(p, ids: ids, signals: signals, others: others, ap)
                let curvature = VectorMath.dot(p, ap, d)
                guard curvature > 0 else { break }
                let step = rsOld / curvature
                for k in 0..<d {
                    x[k] += step * p[k]
                    r[k] -= step * ap[k]
                }
                let rsNew = VectorMath.dot(r, r, d)
                let beta = rsNew / rsOld
                for k in 0..<d { p[k] = r[k] + beta * p[k] }
                rsOld = rsNew
            }
        }
    }

    private func exact(
        _ x: UnsafeMutablePointer<Float>,
        ids: UnsafeBufferPointer<Int32>,
        signals: UnsafeBufferPointer<Float>,
        others: UnsafePointer<Float>,
        gram: UnsafePointer<Float>
    ) {
        let d = self.dimensions
        var a = UnsafeBufferPointer(start: gram, count: d * d).map { Double($0) }
        var b = [Double](repeating: 0, count: d)
        let lambda = Double(self.configuration.regularization)
        for k in 0..<d { a[k * d + k] += lambda }
        for (id, signal) in zip(ids, signals) {
            let y = others + Int(id) * d
            let (c, preference) = self.observation(signal)
            let w = Double(c - 1)
            for i in 0..<d {
                let wy = w * Double(y[i])
                for j in 0..<d { a[i * d + j] += wy * Double(y[j]) }
                b[i] += Double(c * preference) * Double(y[i])
            }
        }
        guard let solution = Self.choleskySolve(&a, b, d) else { return }
        for k in 0..<d { x[k] = Float(solution[k]) }
    }

    /// Solves `A x = b` for a symmetric positive-definite `A` (overwritten by its Cholesky factor); `nil` if `A` is not
    /// positive definite.
    static func choleskySolve(_ a: inout [Double], _ b: [Double], _ d: Int) -> [Double]? {
        for j in 0..<d {
            var diagonal = a[j * d + j]
            for k in 0..<j { diagonal -= a[j * d + k] * a[j * d + k] }
            guard diagonal > 0 else { return nil }
            let l = diagonal.squareRoot()
            a[j * d + j] = l
            for i in (j + 1)..<max(j + 1, d) {
                var sum = a[i * d + j]
                for k in 0..<j { sum -= a[i * d + k] * a[j * d + k] }
                a[i * d + j] = sum / l
            }
        }
        var y = b
        for i in 0..<d {
            for k in 0..<i { y[i] -= a[i * d + k] * y[k] }
            y[i] /= a[i * d + i]
        }
        for i in stride(from: d - 1, through: 0, by: -1) {
            for k in (i + 1)..<max(i + 1, d) { y[i] -= a[k * d + i] * y[k] }
            y[i] /= a[i * d + i]
        }
        return y
    }
}
