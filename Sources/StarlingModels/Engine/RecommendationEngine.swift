public import StarlingCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// All of Starling's incremental models in one value, learning from every event and answering from any source.
///
/// It owns dense ids for users and items, and per event updates, in O(embedding size + recent window):
/// - the user's history (seen items, recent window, running mean rating, disliked items);
/// - the matrix-factorisation embeddings (``FactorModel``);
/// - item-to-item co-occurrence with the user's recent items (``CooccurrenceModel``);
/// - time-decayed popularity, global, per category (from the event's `context.category`) and per segment;
/// - the user's k-means segment over embeddings (``OnlineKMeans``);
/// - the session's recent items, for anonymous visitors.
///
/// Every time it reasons about is event time: replaying a log reproduces exactly what happened live.
/// A plain value with no locks, clocks or I/O; the stream processor owns the one mutable copy.
public struct RecommendationEngine: Recommender, Sendable {

    /// What the engine remembers of one user: the models' per-user state and the user's versioned profile, in one
    /// record (see `RecommendationEngine+Profile.swift`).
    public struct UserState: Sendable {
        /// Items the user interacted with, sorted ascending (dense ids).
        public internal(set) var seen: [Int32] = []
        /// The latest positively chosen items, oldest first, at most `recentWindow`.
        public internal(set) var recent: [Int32] = []
        /// Items the user disliked: never recommended again.
        public internal(set) var disliked: [Int32] = []
        public internal(set) var ratingSum: Float = 0
        public internal(set) var ratingCount: Float = 0
        public internal(set) var segment: Int16 = -1
        /// How many of ``history``'s leading words are counts by event type (placed here to fill padding).
        var typeKinds: UInt16 = 0
        /// Events with an item learned by the models.
        public internal(set) var events: UInt32 = 0
        /// Event time of the user's latest event with an item, in milliseconds.
        public internal(set) var lastEvent: Int64 = 0
        /// The profile's version (``UserProfile/version``): one more per event of the user, with or without an item.
        public internal(set) var version: UInt64 = 0
        /// The profile's ``UserProfile/eventCount``.
        public internal(set) var eventCount: UInt64 = 0
        /// Event time of the user's first and latest events of any kind, in milliseconds.
        public internal(set) var firstSeen: Int64 = 0
        public internal(set) var lastSeen: Int64 = 0
        /// The profile's counts by event type, then its recent interactions, packed in one allocation (the layout
        /// is described in `RecommendationEngine+Profile.swift`). The interacted items are ``seen``.
        var history: [UInt64] = []
    }

    public let configuration: Configuration
    /// Item names by dense id, and the ids by name.
    var itemKeys: [ItemKey] = []
    var itemIndex = StringInterner()
    /// User ids by name; ``users`` is indexed by them.
    var userIndex = StringInterner()
    var users: [UserState] = []
    /// Event types by the small id profiles store them under, and the ids by name.
    var eventTypes: [EventType] = []
    var eventTypeIDs: [String: UInt16] = [:]
    public internal(set) var factors: FactorModel
    public internal(set) var cooccurrence: CooccurrenceModel
    /// Time-decayed popularity with an exact top list (also what `/v1/trending` serves).
    public internal(set) var trending: TrendingCounter
    /// Popularity without decay (the baseline), as a counter whose half-life is a century.
    public internal(set) var popularity: TrendingCounter
    /// Time-decayed popularity within each k-means segment.
    public internal(set) var segmentPopularity: [TrendingCounter]
    /// Time-decayed popularity within each category.
    public internal(set) var categoryPopularity: [String: TrendingCounter] = [:]
    public internal(set) var itemCategories: [Int32: String] = [:]
    public internal(set) var kmeans: OnlineKMeans
    /// Anonymous sessions' recent items.
    public internal(set) var sessions: [String: SessionState] = [:]
    /// The latest event time seen.
    public internal(set) var latest = EventTime(milliseconds: 0)
    /// Events learned.
    public internal(set) var eventCount: UInt64 = 0
    /// Increases by one each time retrained embeddings are installed.
    public internal(set) var modelVersion: UInt64 = 0
    /// While a retrain runs: the embedding updates learned online since it took its snapshot, replayed on top of
    /// the retrained vectors when they are installed, so that no event's effect is lost by the swap.
    public internal(set) var pendingReplay: [FactorTrainer.Interaction]?
    /// With the iALS trainer: every pair's net signal and the Gram matrices the per-event fold-in solves against.
    public internal(set) var implicitFoldIn: ImplicitFoldIn?

    public init(configuration: Configuration = .init()) {
        self.configuration = configuration
        self.factors = FactorModel(configuration: configuration.factors)
        if configuration.trainer == .ials {
            self.implicitFoldIn = ImplicitFoldIn(
                solver: ImplicitALS(configuration: configuration.implicitALS, dimensions: configuration.factors.dimensions)
            )
        }
        self.cooccurrence = CooccurrenceModel(configuration: configuration.cooccurrence)
        self.trending = TrendingCounter(configuration: configuration.trendingConfiguration)
        self.popularity = TrendingCounter(configuration: .init(halfLife: .seconds(100 * 365 * 24 * 3_600), topSize: 1_000))
        self.segmentPopularity = (0..<configuration.segments.clusters).map { _ in
            TrendingCounter(configuration: .init(halfLife: configuration.trendingHalfLife, topSize: 300))
        }
        self.kmeans = OnlineKMeans(dimensions: configuration.factors.dimensions, configuration: configuration.segments)
    }

    public var sources: [RecommendationSource] {
        [.blend, .embedding, .cooccurrence, .trending, .segment, .popularity]
    }

    // MARK: - Ids

    /// The number of items the engine knows (their dense ids are `0..<itemCount`).
    public var itemCount: Int { self.itemKeys.count }

    /// The number of users the engine knows.
    public var userCount: Int { self.users.count }

    /// The dense id of the item `key`, if the engine knows it.
    public func itemID(_ key: ItemKey) -> Int32? {
        self.itemIndex.id(of: key.name)
    }

    /// The dense id of the item named `name`, if the engine knows it.
    public func itemID(named name: String) -> Int32? {
        self.itemIndex.id(of: name)
    }

    /// The item with dense id `id` (below ``itemCount``).
    public func itemKey(_ id: Int32) -> ItemKey {
        self.itemKeys[Int(id)]
    }

    /// Whether the engine's models have learned from an event of `user` with an item.
    public func knows(user: String) -> Bool {
        self.userIndex.id(of: user).map { self.users[Int($0)].events > 0 } ?? false
    }

    /// The dense id of `user`, if known.
    public func userID(_ user: String) -> Int32? {
        self.userIndex.id(of: user)
    }

    /// The name of the user with dense id `id` (below ``userCount``).
    public func userName(_ id: Int32) -> String {
        self.userIndex.key(id)
    }

    /// Every known user's state, indexed by dense user id.
    public var userStates: [UserState] { self.users }

    /// Bytes held by the user-id index (for memory accounting).
    public var userIndexBytes: Int { self.userIndex.memoryBytes }

    /// Approximate bytes held by each of the engine's stores (for `/metrics`), cheap enough to compute under the read
    /// lock at every scrape: the users' records are measured on an evenly spaced sample of at most `sample` users and
    /// extrapolated; arrays count by capacity, not including the allocator's own overhead.
    public struct MemoryEstimate: Sendable, Hashable {
        /// The users' records: models' state, profile and history (without the embedding rows).
        public var userRecords: Int
        /// The embedding rows of users and items.
        public var embeddings: Int
        /// The items' co-occurrence neighbour lists.
        public var cooccurrence: Int
        /// The user-id index.
        public var userIndex: Int
    }

    /// See ``MemoryEstimate``.
    public func memoryEstimate(sample: Int = 1_000) -> MemoryEstimate {
        let step = max(1, self.users.count / max(1, sample))
        var sampled = 0
        var sampledBytes = 0
        var index = 0
        while index < self.users.count {
            sampledBytes += Self.bytes(of: self.users[index])
            sampled += 1
            index += step
        }
        let userRecords = sampled == 0 ? 0 : Int(Double(sampledBytes) / Double(sampled) * Double(self.users.count))
        let dimensions = self.configuration.factors.dimensions
        let neighbourEntries = self.cooccurrence.neighbours.reduce(0) { $0 + $1.count }
        return MemoryEstimate(
            userRecords: userRecords,
            embeddings: (self.users.count + self.itemCount) * dimensions * MemoryLayout<Float>.stride,
            cooccurrence: self.cooccurrence.neighbours.count * MemoryLayout<CooccurrenceModel.Neighbours>.stride
                + neighbourEntries * (MemoryLayout<Int32>.stride + MemoryLayout<Float>.stride),
            userIndex: self.userIndexBytes
        )
    }

    /// One user's record: its fixed part, its arrays by capacity and its packed history.
    public static func bytes(of state: UserState) -> Int {
        func array<T>(_ values: [T]) -> Int { values.capacity == 0 ? 0 : 32 + values.capacity * MemoryLayout<T>.stride }
        return MemoryLayout<UserState>.stride + array(state.seen) + array(state.recent) + array(state.disliked)
            + state.historyBytes
    }

    /// The dense id of `key`, creating it.
    public mutating func internItem(_ key: ItemKey) -> Int32 {
        self.internItem(named: key.name)
    }

    /// The dense id of the item named `name`, creating it.
    mutating func internItem(named name: String) -> Int32 {
        let (id, inserted) = self.itemIndex.intern(name)
        if inserted {
            self.itemKeys.append(ItemKey(name))
            self.factors.ensureItem(id)
        }
        return id
    }

    mutating func internUser(_ user: String) -> Int32 {
        let (id, inserted) = self.userIndex.intern(user)
        if inserted {
            self.users.append(UserState())
            self.factors.ensureUser(id)
        }
        return id
    }

    /// The engine's state of `user`, if known.
    public func userState(_ user: String) -> UserState? {
        self.userID(user).map { self.users[Int($0)] }
    }
}
