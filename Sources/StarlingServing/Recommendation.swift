/// One recommended item with its score and why it was chosen.
public struct Recommendation: Hashable, Sendable {
    public var item: String
    public var score: Double
    /// A short human-readable reason, for example `trending`.
    public var reason: String

    public init(item: String, score: Double, reason: String) {
        self.item = item
        self.score = score
        self.reason = reason
    }
}

/// Where a list came from, as the `cache` dimension of `starling_recommendation_duration_seconds`.
public enum CacheResult: String, Hashable, Sendable, CaseIterable {
    /// Served from the in-process cache.
    case processHit = "process_hit"
    /// Served from the shared (Redis) cache.
    case sharedHit = "shared_hit"
    /// Computed: no cache layer held a valid list.
    case miss
    /// Computed: no cache layer is on (or the list is never cached, as for sessions).
    case disabled
}

/// A user's recommendations and the profile version they were computed from.
public struct Recommendations: Hashable, Sendable {
    public var user: String
    public var items: [Recommendation]
    /// The profile version the list reflects (0 for an unknown user).
    public var profileVersion: UInt64
    /// The version of the retrained embeddings in use (0 until the first full retrain).
    public var modelVersion: UInt64
    /// Whether the list reflects every event of the user acknowledged before the request (`false`: the wait for
    /// the processor passed its bound, and the list may miss the latest of them).
    public var fresh: Bool
    /// ``items`` as the cache's renderer wrote them (see ``RecommendationCache/Configuration/render``), when the
    /// list came from the in-process cache.
    public var renderedItems: [UInt8]?
    /// Where the list came from: a cache layer, or computed (for `starling_recommendation_duration_seconds`).
    public var cache: CacheResult = .disabled

    public init(
        user: String,
        items: [Recommendation],
        profileVersion: UInt64,
        modelVersion: UInt64 = 0,
        renderedItems: [UInt8]? = nil,
        fresh: Bool = true
    ) {
        self.fresh = fresh
        self.user = user
        self.items = items
        self.profileVersion = profileVersion
        self.modelVersion = modelVersion
        self.renderedItems = renderedItems
    }
}
