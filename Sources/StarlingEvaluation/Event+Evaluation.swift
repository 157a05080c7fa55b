package import StarlingCore

extension Event {
    /// Whether the event is a positive example for evaluation: a rating of at least `threshold`, with an item.
    package func isPositive(threshold: Double) -> Bool {
        self.item != nil && self.type == .rating && (self.value ?? -.infinity) >= threshold
    }
}

extension Array where Element == Event {
    /// The events ordered by timestamp; events with equal timestamps keep their order in `self` (a stable sort).
    package func sortedByTime() -> [Event] {
        let order = self.indices.sorted { lhs, rhs in
            let left = self[lhs].timestamp
            let right = self[rhs].timestamp
            return left != right ? left < right : lhs < rhs
        }
        return order.map { self[$0] }
    }
}
