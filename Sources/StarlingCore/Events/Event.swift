/// A value in an event's free-form `context` object.
public enum ContextValue: Hashable, Sendable {
    case string(String)
    case number(Double)
    case bool(Bool)
}

/// One user behaviour event, validated and enriched, as it is written to the log.
public struct Event: Hashable, Sendable {
    /// What happened.
    public var type: EventType
    /// Who did it (1–256 characters).
    public var user: String
    /// What it happened to; `nil` only for `navigate`.
    public var item: String?
    /// The client's session id, if it sent one.
    public var session: String?
    /// The client's idempotency key: an event whose id was already accepted is never applied twice.
    public var id: String?
    /// When it happened, by the client's clock (event time); the receive time when the client sent none.
    public var timestamp: EventTime
    /// When the server received it (enrichment).
    public var receivedAt: EventTime
    /// A rating (1–5), dwell seconds or scroll depth (0–1), depending on ``type``.
    public var value: Double?
    /// Free-form context, in the order the client sent it.
    public var context: [(key: String, value: ContextValue)]

    /// Creates an event.
    public init(
        type: EventType,
        user: String,
        item: String?,
        session: String? = nil,
        id: String? = nil,
        timestamp: EventTime,
        receivedAt: EventTime? = nil,
        value: Double? = nil,
        context: [(key: String, value: ContextValue)] = []
    ) {
        self.type = type
        self.user = user
        self.item = item
        self.session = session
        self.id = id
        self.timestamp = timestamp
        self.receivedAt = receivedAt ?? timestamp
        self.value = value
        self.context = context
    }

    public static func == (lhs: Event, rhs: Event) -> Bool {
        lhs.type == rhs.type && lhs.user == rhs.user && lhs.item == rhs.item && lhs.session == rhs.session
            && lhs.id == rhs.id && lhs.timestamp == rhs.timestamp && lhs.receivedAt == rhs.receivedAt
            && lhs.value == rhs.value && lhs.context.elementsEqual(rhs.context, by: { $0 == $1 })
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(self.type)
        hasher.combine(self.user)
        hasher.combine(self.item)
        hasher.combine(self.id)
        hasher.combine(self.timestamp)
    }
}
