public import StarlingCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How each event type turns into a learning signal: a signed preference weight.
///
/// - Implicit feedback (`view`, `click`, `add_to_cart`, `share`, `purchase`) has a fixed positive weight.
/// - `dwell` seconds and `scroll` depth become a confidence through a saturating function
///   `weight · (1 − e^(−value / scale))`, so a long read counts more than a glance but never without bound.
/// - `like` is strongly positive and `dislike` negative; a disliked item is never recommended to that user again.
/// - `rating` is centred on the user's running mean rating: `ratingBase + ratingScale · (rating − mean)`. The base
///   is the implicit part (the user chose to rate, so engaged with the item); the centred part is the explicit
///   preference, so a generous rater's 4 counts less than a harsh rater's 4, and far-below-mean ratings turn
///   negative.
///
/// Defaults are listed in ``defaultWeights``; deployments change them without code changes (`starling serve
/// --signal TYPE=WEIGHT`), and declared event types default to ``Configuration/customWeight``.
public struct SignalConfiguration: Sendable {
    /// Weights per event type name.
    public var weights: [String: Double]
    /// Seconds at which a dwell reaches 63 % of its weight. Defaults to 30.
    public var dwellScale: Double
    /// Depth at which a scroll reaches 63 % of its weight. Defaults to 0.5.
    public var scrollScale: Double
    /// Multiplier of `rating − user mean`. Defaults to 1.
    public var ratingScale: Double
    /// Signal of a rating exactly at the user's mean. Defaults to 2.
    public var ratingBase: Double
    /// The prior mean rating of a user with no ratings, and how many ratings it counts as. Defaults to 3.5 and 2.
    public var ratingPriorMean: Double
    public var ratingPriorCount: Double
    /// Weight of a declared custom event type without its own entry. Defaults to 1.
    public var customWeight: Double

    public static let defaultWeights: [String: Double] = [
        "view": 1, "click": 2, "add_to_cart": 3, "share": 3, "purchase": 5, "like": 4, "dislike": -4,
        "dwell": 2, "scroll": 1, "rating": 1, "navigate": 0,
    ]

    public init(
        weights: [String: Double] = SignalConfiguration.defaultWeights,
        dwellScale: Double = 30,
        scrollScale: Double = 0.5,
        ratingScale: Double = 1,
        ratingBase: Double = 2,
        ratingPriorMean: Double = 3.5,
        ratingPriorCount: Double = 2,
        customWeight: Double = 1
    ) {
        self.weights = weights
        self.dwellScale = dwellScale
        self.scrollScale = scrollScale
        self.ratingScale = ratingScale
        self.ratingBase = ratingBase
        self.ratingPriorMean = ratingPriorMean
        self.ratingPriorCount = ratingPriorCount
        self.customWeight = customWeight
    }

    /// Parses `type=weight` overrides, as given on the command line.
    public mutating func override(_ specification: String) throws(EventSchemaError) {
        let parts = specification.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, let weight = Double(parts[1]), weight.isFinite else {
            throw EventSchemaError(description: "signal '\(specification)' must be TYPE=WEIGHT, for example like=4")
        }
        self.weights[String(parts[0])] = weight
    }

    /// The signed signal of `event`.
    ///
    /// - Parameter userMeanRating: The user's mean rating before this event (for `rating` events).
    public func signal(of event: Event, userMeanRating: Double) -> Double {
        let weight = self.weights[event.type.name] ?? self.customWeight
        switch event.type {
        case .dwell:
            return weight * (1 - exp(-(event.value ?? 0) / self.dwellScale))
        case .scroll:
            return weight * (1 - exp(-(event.value ?? 0) / self.scrollScale))
        case .rating:
            return self.signal(ofRating: event.value, userMeanRating: userMeanRating)
        default:
            return weight
        }
    }

    /// The signed signal of a rating of `stars` (at the user's mean when `nil`).
    public func signal(ofRating stars: Double?, userMeanRating: Double) -> Double {
        let weight = self.weights[EventType.rating.name] ?? self.customWeight
        return weight * (self.ratingBase + self.ratingScale * ((stars ?? userMeanRating) - userMeanRating))
    }
}
