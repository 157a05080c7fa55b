/// One interaction in a profile's recent history.
public struct Interaction: Hashable, Sendable {
    public var item: String
    public var type: EventType
    public var timestamp: EventTime

    public init(item: String, type: EventType, timestamp: EventTime) {
        self.item = item
        self.type = type
        self.timestamp = timestamp
    }
}

/// What Starling knows about one user, versioned: every applied event increases ``version`` by one.
public struct UserProfile: Hashable, Sendable {
    /// The number of recent interactions kept.
    public static let recentLimit = 50

    public var user: String
    /// Increases by exactly one per applied event; writers compare-and-swap on it.
    public var version: UInt64
    /// Events applied to this profile.
    public var eventCount: UInt64
    /// Event time of the user's first and latest events.
    public var firstSeen: EventTime
    public var lastSeen: EventTime
    /// The most recent interactions with items, newest first, at most ``recentLimit``.
    public var recent: [Interaction]
    /// Every item the user has interacted with.
    public var interacted: Set<ItemKey>
    /// Events applied, by type name.
    public var typeCounts: [String: UInt64]

    /// An empty profile at version 0.
    public init(user: String) {
        self.user = user
        self.version = 0
        self.eventCount = 0
        self.firstSeen = EventTime(milliseconds: 0)
        self.lastSeen = EventTime(milliseconds: 0)
        self.recent = []
        self.interacted = []
        self.typeCounts = [:]
    }

    /// Applies one event and bumps the version.
    ///
    /// Recent interactions are ordered by event time, so a late event slots in where it belongs.
    public mutating func apply(_ event: Event) {
        if self.eventCount == 0 || event.timestamp < self.firstSeen { self.firstSeen = event.timestamp }
        if event.timestamp > self.lastSeen { self.lastSeen = event.timestamp }
        self.version += 1
        self.eventCount += 1
        self.typeCounts[event.type.name, default: 0] += 1
        guard let item = event.item else { return }
        self.interacted.insert(ItemKey(item))
        let interaction = Interaction(item: item, type: event.type, timestamp: event.timestamp)
        let position = self.recent.firstIndex(where: { $0.timestamp <= event.timestamp }) ?? self.recent.count
        if position < Self.recentLimit {
            self.recent.insert(interaction, at: position)
            if self.recent.count > Self.recentLimit { self.recent.removeLast() }
        }
    }
}
