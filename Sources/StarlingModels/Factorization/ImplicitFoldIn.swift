/// The per-event side of iALS: the feedback matrix and both Gram matrices, kept in step with the vectors so that a
/// user (or item) can be re-solved against the current other side the moment it has an event.
///
/// On each event ``learn(user:item:signal:factors:)`` adds the signal to the pair, re-solves the user's vector against
/// the current item vectors (``ImplicitALS/Configuration/conjugateGradientSteps`` conjugate-gradient steps
/// warm-started from the current vector, as implicit's `recalculate_user` does, or exactly) while the user has at
/// most ``ImplicitALS/Configuration/userFoldInLimit`` items, then re-solves the item's vector against the user vectors
/// while the item has at most ``ImplicitALS/Configuration/itemFoldInLimit`` users.
/// Each changed vector moves its Gram matrix by a rank-one update, O(k²); the Gram matrices are kept in single
/// precision and recomputed from scratch after a refit is installed.
///
/// Per event that is O(steps·(k² + k·n_user)) for the user and O(steps·(k² + k·n_item)) for the item, with both `n`
/// capped by their limits, plus O(k²) per Gram update: bounded, and never dependent on the catalogue's size.
public struct ImplicitFoldIn: Sendable {
    public let solver: ImplicitALS
    /// Every (user, item) pair's net signal.
    public internal(set) var feedback: ImplicitFeedback
    /// `YᵀY` over the first ``itemGramRows`` item vectors; empty until first needed.
    private var itemGram: [Float] = []
    private var itemGramRows = 0
    /// `XᵀX` over the first ``userGramRows`` user vectors.
    private var userGram: [Float] = []
    private var userGramRows = 0

    public init(solver: ImplicitALS, feedback: ImplicitFeedback = .init()) {
        self.solver = solver
        self.feedback = feedback
    }

    /// Records `signal` for the pair and folds in the user, then the item.
    public mutating func learn(user: Int32, item: Int32, signal: Float, factors: inout FactorModel) {
        self.feedback.add(user: user, item: item, signal: signal)
        if self.feedback.users[Int(user)].ids.count <= self.solver.configuration.userFoldInLimit {
            self.foldIn(user: user, factors: &factors)
        }
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
        var ownGram = isUser ? self.userGram : self.itemGram
        let otherGram = isUser ? self.itemGram : self.userGram
        // Moved out so that it stays uniquely referenced while it changes.
        if isUser { self.userGram = [] } else { self.itemGram = [] }
        factors.withVectors { users, items in
            let (vectors, others) = isUser ? (users, items) : (items, users)
            let x = vectors.baseAddress! + Int(index) * d
            withUnsafeTemporaryAllocation(of: Float.self, capacity: d) { old in
                old.baseAddress!.initialize(from: x, count: d)
                otherGram.withUnsafeBufferPointer { gram in
                    row.ids.withUnsafeBufferPointer { ids in
                        row.signals.withUnsafeBufferPointer { signals in
                            self.solver.solve(x, ids: ids, signals: signals, others: others.baseAddress!, gram: gram.baseAddress!)
                        }
                    }
                }
                ownGram.withUnsafeMutableBufferPointer {
                    self.solver.moveOuterProduct(from: old.baseAddress!, to: x, in: $0.baseAddress!)
                }
            }
        }
        if isUser { self.userGram = ownGram } else { self.itemGram = ownGram }
    }

    /// Forgets the Gram matrices, after the vectors were replaced wholesale; they are rebuilt when next needed.
    public mutating func invalidateGrams() {
        self.itemGram = []
        self.itemGramRows = 0
        self.userGram = []
        self.userGramRows = 0
    }

    /// Adds the vectors created since the Gram matrices were last brought up to date (new users and items start
    /// with small random vectors), or computes them from scratch after ``invalidateGrams()``.
    private mutating func synchronizeGrams(with factors: FactorModel) {
        let d = self.solver.dimensions
        if self.itemGram.isEmpty { self.itemGram = [Float](repeating: 0, count: d * d) }
        if self.userGram.isEmpty { self.userGram = [Float](repeating: 0, count: d * d) }
        guard self.itemGramRows < factors.itemCount || self.userGramRows < factors.userCount else { return }
        let solver = self.solver
        let (userRows, itemRows) = (self.userGramRows, self.itemGramRows)
        factors.userFactors.withUnsafeBufferPointer { users in
            self.userGram.withUnsafeMutableBufferPointer { gram in
                for row in userRows..<(users.count / d) {
                    solver.moveOuterProduct(from: nil, to: users.baseAddress! + row * d, in: gram.baseAddress!)
                }
            }
        }
        factors.itemFactors.withUnsafeBufferPointer { items in
            self.itemGram.withUnsafeMutableBufferPointer { gram in
                for row in itemRows..<(items.count / d) {
                    solver.moveOuterProduct(from: nil, to: items.baseAddress! + row * d, in: gram.baseAddress!)
                }
            }
        }
        self.userGramRows = factors.userCount
        self.itemGramRows = factors.itemCount
    }
}
