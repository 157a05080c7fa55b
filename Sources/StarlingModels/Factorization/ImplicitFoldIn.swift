/// The per-event side of iALS: the feedback matrix and both Gram matrices, kept in step with the vectors so that a
/// user (or item) can be re-solved against the current other side the moment it has an event.
///
/// On each event ``learn(user:item:signal:factors:)`` adds the signal to the pair, re-solves the user's vector against
/// the current item vectors (``ImplicitALS/Configuration/conjugateGradientSteps`` conjugate-gradient steps
/// warm-started from the current vector, as implicit's `recalculate_user` does, or exactly), then re-solves the item's
/// vector against the user vectors while the item has at most ``ImplicitALS/Configuration/itemFoldInLimit`` users.
/// Each changed vector moves its Gram matrix by a rank-one update, O(k²).
///
/// Per event that is O(steps·(k² + k·n_user)) for the user, the same with `n_item ≤ limit` for the item, plus
/// O(k²) per Gram update: bounded by the user's history and the limit, never by the catalogue.
public struct ImplicitFoldIn: Sendable {
    public let solver: ImplicitALS
    /// Every (user, item) pair's net signal.
    public internal(set) var feedback: ImplicitFeedback
    /// `YᵀY` over the first ``itemGramRows`` item vectors; empty until first needed.
    private var itemGram: [Double] = []
    private var itemGramRows = 0
    /// `XᵀX` over the first ``userGramRows`` user vectors.
    private var userGram: [Double] = []
    private var userGramRows = 0

    public init(solver: ImplicitALS, feedback: ImplicitFeedback = .init()) {
        self.solver = solver
        self.feedback = feedback
    }

    /// Records `signal` for the pair and folds in the user, then the item.
    public mutating func learn(user: Int32, item: Int32, signal: Float, factors: inout FactorModel) {
        self.feedback.add(user: user, item: item, signal: signal)
        self.foldIn(user: user, factors: &factors)
        if self.feedback.items[Int(item)].ids.count <= self.solver.configuration.itemFoldInLimit {
            self.foldIn(item: item, factors: &factors)
        }
    }

    /// Re-solves `user`'s vector against the current item vectors.
    public mutating func foldIn(user: Int32, factors: inout FactorModel) {
        guard Int(user) < factors.userCount, Int(user) < self.feedback.users.count else { return }
        self.foldIn(user, isUser: true, row: self.feedback.users[Int(user)], factors: &factors)
    }

    /// Re-solves `item`'s vector against the current user vectors.
    public mutating func foldIn(item: Int32, factors: inout FactorModel) {
        guard Int(item) < factors.itemCount, Int(item) < self.feedback.items.count else { return }
        self.foldIn(item, isUser: false, row: self.feedback.items[Int(item)], factors: &factors)
    }

    /// Re-solves row `index` of the user (or item) vectors against the other side, then moves that side's Gram matrix
    /// from the old vector's outer product to the new one's.
    private mutating func foldIn(_ index: Int32, isUser: Bool, row: ImplicitFeedback.Row, factors: inout FactorModel) {
        self.synchronizeGrams(with: factors)
        let d = self.solver.dimensions
        let gram = isUser ? self.itemGram : self.userGram
        let (old, new) = factors.withVectors { users, items in
            let (vectors, others) = isUser ? (users, items) : (items, users)
            return self.solve(vectors.baseAddress! + Int(index) * d, row, against: others, gram: gram)
        }
        if isUser {
            self.solver.addOuterProduct(old, sign: -1, to: &self.userGram)
            self.solver.addOuterProduct(new, sign: 1, to: &self.userGram)
        } else {
            self.solver.addOuterProduct(old, sign: -1, to: &self.itemGram)
            self.solver.addOuterProduct(new, sign: 1, to: &self.itemGram)
        }
    }

    /// Forgets the Gram matrices, after the vectors were replaced wholesale; they are rebuilt when next needed.
    public mutating func invalidateGrams() {
        self.itemGram = []
        self.itemGramRows = 0
        self.userGram = []
        self.userGramRows = 0
    }

    /// Solves `x` for `row` in place; returns its value before and after.
    private func solve(
        _ x: UnsafeMutablePointer<Float>,
        _ row: ImplicitFeedback.Row,
        against others: UnsafeMutableBufferPointer<Float>,
        gram: [Double]
    ) -> (old: [Float], new: [Float]) {
        let d = self.solver.dimensions
        let old = Array(UnsafeBufferPointer(start: x, count: d))
        gram.withUnsafeBufferPointer { gram in
            row.ids.withUnsafeBufferPointer { ids in
                row.signals.withUnsafeBufferPointer { signals in
                    self.solver.solve(x, ids: ids, signals: signals, others: others.baseAddress!, gram: gram.baseAddress!)
                }
            }
        }
        return (old, Array(UnsafeBufferPointer(start: x, count: d)))
    }

    /// Adds the vectors created since the Gram matrices were last brought up to date (new users and items start
    /// with small random vectors), or computes them from scratch after ``invalidateGrams()``.
    private mutating func synchronizeGrams(with factors: FactorModel) {
        let d = self.solver.dimensions
        if self.itemGram.isEmpty { self.itemGram = [Double](repeating: 0, count: d * d) }
        if self.userGram.isEmpty { self.userGram = [Double](repeating: 0, count: d * d) }
        guard self.itemGramRows < factors.itemCount || self.userGramRows < factors.userCount else { return }
        factors.userFactors.withUnsafeBufferPointer { users in
            for row in self.userGramRows..<(users.count / d) {
                self.solver.addOuterProduct(users.baseAddress! + row * d, sign: 1, to: &self.userGram)
            }
        }
        factors.itemFactors.withUnsafeBufferPointer { items in
            for row in self.itemGramRows..<(items.count / d) {
                self.solver.addOuterProduct(items.baseAddress! + row * d, sign: 1, to: &self.itemGram)
            }
        }
        self.userGramRows = factors.userCount
        self.itemGramRows = factors.itemCount
    }
}
