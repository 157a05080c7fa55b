import Metrics
import StarlingCore

/// `starling_recommendation_duration_seconds`: the time to produce a list inside the service (read-your-writes
/// wait, cache look-ups, computation), by endpoint and by where the list came from. Timers are created once per
/// pair, never per user.
struct RecommendationMetrics: Sendable {
    /// The endpoint a list was asked for.
    enum Endpoint: String, CaseIterable, Sendable {
        case user
        case session
        /// The precompute job's background refreshes of cached lists.
        case precompute
    }

    static let shared = RecommendationMetrics()

    private let timers: [Endpoint: [CacheResult: Timer]]

    private init() {
        var timers: [Endpoint: [CacheResult: Timer]] = [:]
        for endpoint in Endpoint.allCases {
            for cache in CacheResult.allCases {
                timers[endpoint, default: [:]][cache] = Timer(
                    label: "starling_recommendation_duration_seconds",
                    dimensions: [("endpoint", endpoint.rawValue), ("cache", cache.rawValue)]
                )
            }
        }
        self.timers = timers
    }

    func record(_ endpoint: Endpoint, cache: CacheResult, since started: ContinuousClock.Instant) {
        self.timers[endpoint]?[cache]?.recordNanoseconds((ContinuousClock.now - started).wholeNanoseconds)
    }
}
