extension ImplicitALS {
    /// A batch refit: ``Configuration/iterations`` alternating passes over `model`'s vectors (all users against the
    /// items, then all items against the users), each row solved against a Gram matrix computed once per half-pass.
    ///
    /// The vectors already in `model` are the starting point (the conjugate gradient is warm-started from them).
    /// One pass costs O(nnz·k·steps + (users + items)·k²·steps) with conjugate gradients.
    ///
    /// - Parameter shouldStop: Polled between passes; returning `true` abandons the refit (returns `false`).
    public func train(_ feedback: ImplicitFeedback, into model: inout FactorModel, shouldStop: () -> Bool = { false })
        -> Bool
    {
        precondition(model.configuration.dimensions == self.dimensions, "the model must have the solver's dimensions")
        if !feedback.users.isEmpty { model.ensureUser(Int32(feedback.users.count - 1)) }
        if !feedback.items.isEmpty { model.ensureItem(Int32(feedback.items.count - 1)) }
        for _ in 0..<self.configuration.iterations {
            if shouldStop() { return false }
            model.withVectors { users, items in
                self.solveAll(feedback.users, rows: users, against: UnsafeBufferPointer(items))
                self.solveAll(feedback.items, rows: items, against: UnsafeBufferPointer(users))
            }
        }
        return true
    }

    /// Solves every row of `vectors` that `rows` describes against `others`.
    private func solveAll(
        _ rows: [ImplicitFeedback.Row],
        rows vectors: UnsafeMutableBufferPointer<Float>,
        against others: UnsafeBufferPointer<Float>
    ) {
        let d = self.dimensions
        let gram = self.gram(of: others, rows: others.count / d)
        gram.withUnsafeBufferPointer { gram in
            for (index, row) in rows.enumerated() where index * d < vectors.count {
                row.ids.withUnsafeBufferPointer { ids in
                    row.signals.withUnsafeBufferPointer { signals in
                        self.solve(
                            vectors.baseAddress! + index * d,
                            ids: ids,
                            signals: signals,
                            others: others.baseAddress!,
                            gram: gram.baseAddress!
                        )
                    }
                }
            }
        }
    }
}
