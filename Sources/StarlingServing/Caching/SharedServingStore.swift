import Metrics
public import StarlingCore
public import StarlingStream

/// A recommendation list kept where every serving process can read it (the second cache layer).
public struct SharedList: Hashable, Sendable {
    public var items: [Recommendation]
    /// The user's epoch when the list was computed (``CacheInvalidation``: the profile version by default): the list
    /// is valid only while it has not moved.
    public var epoch: UInt64
    public var profileVersion: UInt64
    public var modelVersion: UInt64
    /// When the list was computed, in wall-clock milliseconds; it is valid for the time to live from then.
    public var computedAt: Int64
    /// The event time (ms) the models had learned up to when the list was computed; it is valid until they have
    /// learned the time to live beyond it.
    public var modelTime: Int64

    public init(
        items: [Recommendation],
        epoch: UInt64,
        profileVersion: UInt64,
        modelVersion: UInt64,
        computedAt: Int64,
        modelTime: Int64 = 0
    ) {
        self.modelTime = modelTime
        self.items = items
        self.epoch = epoch
        self.profileVersion = profileVersion
        self.modelVersion = modelVersion
        self.computedAt = computedAt
    }
}

extension SharedList {
    private static let formatVersion: UInt8 = 2

    /// The binary form.
    public func encoded() -> [UInt8] {
        var w = BinaryWriter(capacity: 64 + self.items.count * 48)
        w.write(Self.formatVersion)
        w.write(self.epoch)
        w.write(self.profileVersion)
        w.write(self.modelVersion)
        w.write(self.computedAt)
        w.write(self.modelTime)
        w.writeVarint(UInt64(self.items.count))
        for item in self.items {
            w.write(item.item)
            w.write(item.score)
            w.write(item.reason)
        }
        return w.bytes
    }

    /// Reads what ``encoded()`` wrote.
    public init(decoding bytes: [UInt8]) throws(BinaryFormatError) {
        let result = bytes.withUnsafeBytes { raw in
            Result { () throws(BinaryFormatError) -> SharedList in
                var r = BinaryReader(raw)
                guard try r.readUInt8() == Self.formatVersion else { throw .malformed }
                let epoch = try r.readUInt64()
                let profileVersion = try r.readUInt64()
                let modelVersion = try r.readUInt64()
                let computedAt = try r.readInt64()
                let modelTime = try r.readInt64()
                let count = try r.readVarint()
                guard count <= UInt64(r.remaining) else { throw .truncated }
                var items: [Recommendation] = []
                items.reserveCapacity(Int(count))
                for _ in 0..<count {
                    let item = try r.readString()
                    let score = try r.readDouble()
                    items.append(Recommendation(item: item, score: score, reason: try r.readString()))
                }
                guard r.remaining == 0 else { throw .malformed }
                return SharedList(
                    items: items,
                    epoch: epoch,
                    profileVersion: profileVersion,
                    modelVersion: modelVersion,
                    computedAt: computedAt,
                    modelTime: modelTime
                )
            }
        }
        self = try result.get()
    }
}

/// What one lookup in the shared store found.
public struct SharedLookup: Sendable {
    /// The user's published state, when asked for and present.
    public var user: PublishedUser?
    /// The cached list under the requested key, when present.
    public var list: SharedList?
    /// The positions (next offset) of the user's acknowledged events, as ingest recorded them, when the user's
    /// state was asked for.
    public var acknowledged: [TopicPartition: Int64]

    public init(user: PublishedUser?, list: SharedList?, acknowledged: [TopicPartition: Int64] = [:]) {
        self.user = user
        self.list = list
        self.acknowledged = acknowledged
    }

    /// Whether the published state reflects every acknowledged event of the user.
    public var isCurrent: Bool {
        AcknowledgedEvents.covers(self.user?.applied ?? [:], self.acknowledged)
    }
}

/// Where serving processes share cached lists and read users' published state (Redis in production).
public protocol SharedServingStore: Sendable {
    /// In one round trip: the list cached for `user` under `key` and, when `includeUser`, the user's published
    /// state and the positions of their acknowledged events.
    func lookup(user: String, key: String, includeUser: Bool) async throws -> SharedLookup
    /// Stores a list for `user` under `key`, to be dropped after `timeToLive`.
    func store(_ list: SharedList, user: String, key: String, timeToLive: Duration) async throws
    /// The recent items of an anonymous session, oldest first, if published.
    func sessionItems(_ session: String) async throws -> [ItemKey]?
}

/// The shared store could not be reached and this process has nothing of its own to answer with.
public struct SharedStoreUnavailable: Error, CustomStringConvertible {
    /// What the store's client reported.
    public var underlying: String

    public init(underlying: String) {
        self.underlying = underlying
    }

    public var description: String {
        "the shared store (Redis) is unreachable: \(self.underlying)"
    }
}

/// How a ``RecommendationService`` uses a ``SharedServingStore``.
public struct SharedServing: Sendable {
    public var store: any SharedServingStore
    /// How long a shared list stays valid.
    public var timeToLive: Duration
    /// Which events make a user's cached lists invalid (must be the same in every process).
    public var invalidation: CacheInvalidation
    /// Whether users' state comes from the store (API processes without a processor) rather than from this
    /// process's own profiles and engine.
    public var usersFromStore: Bool
    /// The latest users' states fetched, served from while the store is unreachable (API processes).
    public let recentUsers: RecentUsers

    public init(
        store: any SharedServingStore,
        timeToLive: Duration,
        invalidation: CacheInvalidation = .everyEvent,
        usersFromStore: Bool,
        recentUsers: RecentUsers = RecentUsers()
    ) {
        self.recentUsers = recentUsers
        self.store = store
        self.timeToLive = timeToLive
        self.invalidation = invalidation
        self.usersFromStore = usersFromStore
    }
}

/// How requests wait for a user's acknowledged events (read-your-writes).
public struct ReadYourWrites: Sendable {
    /// This process's acknowledgements, when it ingests and applies events itself; `nil` in API processes (which
    /// compare the published state with the acknowledgements in the shared store) and where nothing is tracked.
    public var acknowledgements: AcknowledgedEvents?
    /// The longest a request waits before serving what is visible and saying so. Defaults to 10 milliseconds.
    public var timeout: Duration
    /// How often an API process asks the shared store again while it waits. Defaults to 1 millisecond.
    public var pollInterval: Duration

    public init(
        acknowledgements: AcknowledgedEvents? = nil,
        timeout: Duration = .milliseconds(10),
        pollInterval: Duration = .milliseconds(1)
    ) {
        self.acknowledgements = acknowledgements
        self.timeout = timeout
        self.pollInterval = pollInterval
    }
}

/// Metrics of read-your-writes, created once.
struct ReadYourWritesMetrics: Sendable {
    static let shared = ReadYourWritesMetrics()
    /// Requests served after the wait for the user's acknowledged events passed its bound.
    let timeouts = Counter(label: "starling_read_your_writes_timeouts_total")
}

/// Metrics of the shared layer, created once.
struct SharedServingMetrics: Sendable {
    static let shared = SharedServingMetrics()
    let hits = Counter(label: "starling_cache_requests_total", dimensions: [("layer", "shared"), ("result", "hit")])
    let misses = Counter(label: "starling_cache_requests_total", dimensions: [("layer", "shared"), ("result", "miss")])
    /// Lookups that failed (the store unreachable or slow): the request was computed from local state.
    let errors = Counter(label: "starling_cache_requests_total", dimensions: [("layer", "shared"), ("result", "error")])
    /// Shared lists found but no longer valid.
    let invalidations = CacheInvalidationMetrics(layer: "shared")
}
