public import StarlingCore

/// How much each event type adds to an item's popularity.
///
/// Defaults: `purchase` 5, `like` 4, `add_to_cart` 3, `share` 3, `click` 2, `view` 1, `dwell` 1, `scroll` 0.5,
/// `rating` 1–5 by its value minus 2 (so 3 stars adds 1 and 1–2 stars add nothing), `dislike` and `navigate` 0.
/// Types declared in configuration add 1 unless given a weight.
public struct SignalWeights: Sendable {
    public var weights: [String: Double]

    public init(weights: [String: Double] = SignalWeights.defaults) {
        self.weights = weights
    }

    public static let defaults: [String: Double] = [
        "purchase": 5, "like": 4, "add_to_cart": 3, "share": 3, "click": 2, "view": 1, "dwell": 1, "scroll": 0.5,
        "dislike": 0, "navigate": 0,
    ]

    /// The popularity weight of `event`.
    public func popularity(of event: Event) -> Double {
        if event.type == .rating { return max(0, (event.value ?? 0) - 2) }
        return self.weights[event.type.name] ?? 1
    }
}
