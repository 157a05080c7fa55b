import Metrics
public import StarlingCore

/// Recommendation lists cached per user in process memory, with a time to live, bounded size and immediate
/// busting on significant events.
///
/// Correctness rules:
/// - A significant event (like, dislike, purchase, add_to_cart by default) *busts* the user's lists before the
///   user's profile version moves, and bumps the user's epoch. A list computed under an older epoch is never
///   stored and never served, so a request racing with the event cannot put a stale list back.
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
        /// Event types that bust a user's lists.
        public var significantEvents: Set<String>
        /// Renders a list's items once when it is stored, for the serving layer to send as they are on every hit
        /// (a hit then costs no per-item work). `nil`: hits are rendered by their caller.
        public var render: (@Sendable ([Recommendation]) -> [UInt8])?

        public init(
            capacity: Int = 100_000,
            timeToLive: Duration = .seconds(60),
            significantEvents: Set<String> = ["like", "dislike", "purchase", "add_to_cart"],
            render: (@Sendable ([Recommendation]) -> [UInt8])? = nil
        ) {
            precondition(capacity > 0, "capacity must be positive")
            self.capacity = capacity
            self.timeToLive = timeToLive
            self.significantEvents = significantEvents
            self.render = render
        }
    }

    /// A cached list.
    public struct Entry: Sendable {
        public var items: [Recommendation]
        public var profileVersion: UInt64
        public var modelVersion: UInt64
        /// The catalogue version the items were checked against.
        public var catalogVersion: UInt64
        /// The earliest catalogue expiry among the items: after it, hits re-check the items.
        public var earliestExpiry: EventTime?
        /// The items as ``Configuration/render`` wrote them.
        public var rendered: [UInt8]?
        fileprivate var expires: ContinuousClock.Instant
    }

    private struct UserLists: Sendable {
        var epoch: UInt64 = 0
        var lists: [String: Entry] = [:]
        var lastUsed: UInt64 = 0
    }

    private struct Shard: Sendable {
        var users: [String: UserLists] = [:]
        var tick: UInt64 = 0
    }

    public let configuration: Configuration
    private let shards: [LockedBox<Shard>]
    private let perShardCapacity: Int
    private let hits = Counter(label: "starling_cache_requests_total", dimensions: [("layer", "process"), ("result", "hit")])
    private let misses = Counter(label: "starling_cache_requests_total", dimensions: [("layer", "process"), ("result", "miss")])
    private let busts = Counter(label: "starling_cache_busts_total")

    public init(configuration: Configuration = .init()) {
        self.configuration = configuration
        let shardCount = 16
        self.shards = (0..<shardCount).map { _ in LockedBox(Shard()) }
        self.perShardCapacity = max(1, configuration.capacity / shardCount)
    }

    private func shard(_ user: String) -> LockedBox<Shard> {
        self.shards[StableHash.partition(for: user, count: self.shards.count)]
    }

    /// A valid cached list for `user` under `key`, if any, and the user's epoch (pass it to
    /// ``store(_:user:key:epoch:profileVersion:modelVersion:catalogVersion:)`` after a miss).
    ///
    /// - Parameters:
    ///   - catalogVersion: The catalogue's current version; entries checked at an older one are re-checked.
    ///   - isRecommendable: Whether an item may still be recommended.
    public func lookup(
        user: String,
        key: String,
        catalogVersion: UInt64,
        at time: EventTime,
        isRecommendable: (String) -> Bool
    ) -> (entry: Entry?, epoch: UInt64) {
        let now = ContinuousClock.now
        let (entry, epoch) = self.shard(user).withLock { shard -> (Entry?, UInt64) in
            // One hash of the user for the look-up and the recency update.
            guard let index = shard.users.index(forKey: user) else { return (nil, 0) }
            let epoch = shard.users.values[index].epoch
            guard let entry = shard.users.values[index].lists[key] else { return (nil, epoch) }
            guard entry.expires > now else {
                shard.users.values[index].lists[key] = nil
                return (nil, epoch)
            }
            shard.tick &+= 1
            shard.users.values[index].lastUsed = shard.tick
            return (entry, epoch)
        }
        guard let entry,
            (entry.catalogVersion == catalogVersion && (entry.earliestExpiry.map { time < $0 } ?? true))
                || entry.items.allSatisfy({ isRecommendable($0.item) })
        else {
            self.misses.increment()
            return (nil, epoch)
        }
        self.hits.increment()
        return (entry, epoch)
    }

    /// Stores a list computed while the user's epoch was `epoch`; ignored if a bust happened since.
    public func store(
        _ items: [Recommendation],
        user: String,
        key: String,
        epoch: UInt64,
        profileVersion: UInt64,
        modelVersion: UInt64,
        catalogVersion: UInt64,
        earliestExpiry: EventTime?
    ) {
        let entry = Entry(
            items: items,
            profileVersion: profileVersion,
            modelVersion: modelVersion,
            catalogVersion: catalogVersion,
            earliestExpiry: earliestExpiry,
            rendered: self.configuration.render?(items),
            expires: ContinuousClock.now.advanced(by: self.configuration.timeToLive)
        )
        self.shard(user).withLock { shard in
            var lists = shard.users[user] ?? UserLists()
            guard lists.epoch == epoch else { return }
            shard.tick &+= 1
            lists.lists[key] = entry
            lists.lastUsed = shard.tick
            shard.users[user] = lists
            if shard.users.count > self.perShardCapacity { Self.evict(&shard, keep: self.perShardCapacity * 9 / 10) }
        }
    }

    private static func evict(_ shard: inout Shard, keep: Int) {
        let cutoff = shard.users.values.map(\.lastUsed).sorted(by: >)[min(keep, shard.users.count - 1)]
        shard.users = shard.users.filter { $0.value.lastUsed > cutoff }
    }

    /// Drops every list of `user` and bumps their epoch.
    public func bust(user: String) {
        self.shard(user).withLock { shard in
            var lists = shard.users[user] ?? UserLists()
            lists.epoch &+= 1
            lists.lists = [:]
            shard.users[user] = lists
        }
        self.busts.increment()
    }

    /// Busts the user's lists when `event` is significant.
    public func observe(_ event: Event) {
        if self.configuration.significantEvents.contains(event.type.name) { self.bust(user: event.user) }
    }

    /// Cached users.
    public var count: Int {
        self.shards.reduce(0) { $0 + $1.withLock { $0.users.count } }
    }
}
