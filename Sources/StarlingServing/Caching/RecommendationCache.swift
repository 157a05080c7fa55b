import Metrics
public import StarlingCore

/// Recommendation lists cached per user in process memory, with a time to live and bounded size.
///
/// Correctness rules:
/// - A list is stored with the user's epoch (``CacheInvalidation``: by default the profile version it was computed
///   from) and the model version, and served only while both are unchanged: the next list after any action of the
///   user reflects it, with nothing to bust.
/// - The time to live runs on two clocks: wall-clock time, and the event time the models have learned up to. When
///   events arrive live the two agree; when the log is replayed or backfilled faster than real time, a list expires
///   once the item-side models (trending, co-occurrence) have moved on by that much event time. The caller reads the epoch *before* computing, and the processor moves
///   a profile version only after the models learned the event, so a stored list never claims less than it has.
/// - Items that became unrecommendable (unavailable, expired, deleted) since a list was cached are checked on
///   every hit; a hit that lost any item is treated as a miss.
///
/// Capacity is per shard; when a shard is full, the least recently used tenth of it is evicted.
public final class RecommendationCache: Sendable {
    /// Configuration of a ``RecommendationCache``.
    public struct Configuration: Sendable {
        /// Cached users, in all. Defaults to 100,000.
        public var capacity: Int
        /// How long a list stays valid. Defaults to 60 seconds.
        public var timeToLive: Duration
        /// Which events invalidate a user's lists. Defaults to every event.
        public var invalidation: CacheInvalidation
        /// Most lists (request shapes) kept per user; the least recently used is dropped beyond. Defaults to 8.
        public var listsPerUser: Int
        /// Renders a list's items once when it is stored, for the serving layer to send as they are on every hit
        /// (a hit then costs no per-item work). `nil`: hits are rendered by their caller.
        public var render: (@Sendable ([Recommendation]) -> [UInt8])?

        public init(
            capacity: Int = 100_000,
            timeToLive: Duration = .seconds(60),
            invalidation: CacheInvalidation = .everyEvent,
            listsPerUser: Int = 8,
            render: (@Sendable ([Recommendation]) -> [UInt8])? = nil
        ) {
            precondition(capacity > 0, "capacity must be positive")
            precondition(listsPerUser > 0, "listsPerUser must be positive")
            self.capacity = capacity
            self.timeToLive = timeToLive
            self.invalidation = invalidation
            self.listsPerUser = listsPerUser
            self.render = render
        }
    }

    /// A cached list.
    public struct Entry: Sendable {
        public var items: [Recommendation]
        /// The user's epoch when the list was computed.
        public var epoch: UInt64
        public var profileVersion: UInt64
        public var modelVersion: UInt64
        /// The event time (ms) the models had learned up to when the list was computed.
        public var modelTime: Int64
        /// The catalogue version the items were checked against.
        public var catalogVersion: UInt64
        /// The earliest catalogue expiry among the items: after it, hits re-check the items.
        public var earliestExpiry: EventTime?
        /// The items as ``Configuration/render`` wrote them.
        public var rendered: [UInt8]?
        fileprivate var expires: ContinuousClock.Instant
        fileprivate var lastUsed: UInt64
    }

    private struct UserLists: Sendable {
        var lists: [String: Entry] = [:]
        var lastUsed: UInt64 = 0
    }

    private struct Shard: Sendable {
        var users: [String: UserLists] = [:]
        var tick: UInt64 = 0
    }

    public let configuration: Configuration
    private let timeToLiveMilliseconds: Int64
    private let shards: [LockedBox<Shard>]
    private let perShardCapacity: Int
    private let hits = Counter(label: "starling_cache_requests_total", dimensions: [("layer", "process"), ("result", "hit")])
    private let misses = Counter(label: "starling_cache_requests_total", dimensions: [("layer", "process"), ("result", "miss")])
    private let invalidations = CacheInvalidationMetrics(layer: "process")

    public init(configuration: Configuration = .init()) {
        self.configuration = configuration
        self.timeToLiveMilliseconds = configuration.timeToLive.wholeMilliseconds
        let shardCount = 16
        self.shards = (0..<shardCount).map { _ in LockedBox(Shard()) }
        self.perShardCapacity = max(1, configuration.capacity / shardCount)
    }

    private func shard(_ user: String) -> LockedBox<Shard> {
        self.shards[StableHash.partition(for: user, count: self.shards.count)]
    }

    /// A valid cached list for `user` under `key`: computed at the user's current `epoch` and `modelVersion`,
    /// within its time to live (in wall-clock time and in the models' event time, `modelTime`), and with every item
    /// still recommendable.
    ///
    /// - Parameters:
    ///   - catalogVersion: The catalogue's current version; entries checked at an older one are re-checked.
    ///   - isRecommendable: Whether an item may still be recommended.
    public func lookup(
        user: String,
        key: String,
        epoch: UInt64,
        modelVersion: UInt64,
        modelTime: Int64,
        catalogVersion: UInt64,
        at time: EventTime,
        isRecommendable: (String) -> Bool
    ) -> Entry? {
        let now = ContinuousClock.now
        let (entry, invalidated) = self.shard(user).withLock { shard -> (Entry?, CacheInvalidationMetrics.Reason?) in
            // One hash of the user for the look-up and the recency update.
            guard let index = shard.users.index(forKey: user) else { return (nil, nil) }
            guard let entry = shard.users.values[index].lists[key] else { return (nil, nil) }
            let reason: CacheInvalidationMetrics.Reason? =
                if entry.epoch != epoch { .userChanged }
                else if entry.modelVersion != modelVersion { .modelChanged }
                else if !(entry.expires > now && modelTime - entry.modelTime < self.timeToLiveMilliseconds) { .expired }
                else { nil }
            if let reason {
                shard.users.values[index].lists[key] = nil
                return (nil, reason)
            }
            shard.tick &+= 1
            shard.users.values[index].lastUsed = shard.tick
            shard.users.values[index].lists[key]?.lastUsed = shard.tick
            return (entry, nil)
        }
        if let invalidated { self.invalidations.record(invalidated) }
        guard let entry else {
            self.misses.increment()
            return nil
        }
        guard (entry.catalogVersion == catalogVersion && (entry.earliestExpiry.map { time < $0 } ?? true))
            || entry.items.allSatisfy({ isRecommendable($0.item) })
        else {
            self.invalidations.record(.catalog)
            self.misses.increment()
            return nil
        }
        self.hits.increment()
        return entry
    }

    /// Stores a list computed at the user's `epoch` (read before computing).
    public func store(
        _ items: [Recommendation],
        user: String,
        key: String,
        epoch: UInt64,
        profileVersion: UInt64,
        modelVersion: UInt64,
        modelTime: Int64,
        catalogVersion: UInt64,
        earliestExpiry: EventTime?
    ) {
        var entry = Entry(
            items: items,
            epoch: epoch,
            profileVersion: profileVersion,
            modelVersion: modelVersion,
            modelTime: modelTime,
            catalogVersion: catalogVersion,
            earliestExpiry: earliestExpiry,
            rendered: self.configuration.render?(items),
            expires: ContinuousClock.now.advanced(by: self.configuration.timeToLive),
            lastUsed: 0
        )
        let listsPerUser = self.configuration.listsPerUser
        let evicted = self.shard(user).withLock { shard -> Int in
            shard.tick &+= 1
            entry.lastUsed = shard.tick
            var lists = shard.users.removeValue(forKey: user) ?? UserLists()
            // Lists of an older epoch can never be served again.
            lists.lists = lists.lists.filter { $0.value.epoch == epoch && $0.key != key }
            if lists.lists.count >= listsPerUser, let oldest = lists.lists.min(by: { $0.value.lastUsed < $1.value.lastUsed }) {
                lists.lists[oldest.key] = nil
            }
            lists.lists[key] = entry
            lists.lastUsed = shard.tick
            shard.users[user] = lists
            if shard.users.count > self.perShardCapacity {
                let before = shard.users.count
                Self.evict(&shard, keep: self.perShardCapacity * 9 / 10)
                return before - shard.users.count
            }
            return 0
        }
        if evicted > 0 { self.invalidations.record(.evicted, count: evicted) }
    }

    private static func evict(_ shard: inout Shard, keep: Int) {
        let cutoff = shard.users.values.map(\.lastUsed).sorted(by: >)[min(keep, shard.users.count - 1)]
        shard.users = shard.users.filter { $0.value.lastUsed > cutoff }
    }

    /// Cached users.
    public var count: Int {
        self.shards.reduce(0) { $0 + $1.withLock { $0.users.count } }
    }
}

/// `starling_cache_invalidations_total`: cached lists dropped, by layer and reason. A list of an older epoch is
/// counted when a look-up finds it, not when the event that outdated it arrives (nothing is busted eagerly).
struct CacheInvalidationMetrics: Sendable {
    enum Reason: String, CaseIterable, Sendable {
        /// The user acted since (their epoch moved).
        case userChanged = "user_changed"
        /// A retrain installed new embeddings.
        case modelChanged = "model_changed"
        /// Its time to live passed (wall time or the models' event time).
        case expired
        /// An item of the list is no longer recommendable (catalogue change or expiry).
        case catalog
        /// Dropped to stay within the cache's capacity (counted per user, with all their lists).
        case evicted
    }

    private let counters: [Reason: Counter]

    init(layer: String) {
        var counters: [Reason: Counter] = [:]
        for reason in Reason.allCases {
            counters[reason] = Counter(
                label: "starling_cache_invalidations_total",
                dimensions: [("layer", layer), ("reason", reason.rawValue)]
            )
        }
        self.counters = counters
    }

    func record(_ reason: Reason, count: Int = 1) {
        self.counters[reason]?.increment(by: count)
    }
}
