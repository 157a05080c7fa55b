/// Turns one decoded JSON event into a validated, enriched ``Event``, or says which field is wrong.
///
/// The rules are those of the public API v1 (`POST /v1/events`):
/// - `type` (required): a built-in type or one declared in the ``EventSchema``.
/// - `user` (required, 1–256 characters); `item` (required except for `navigate`, 1–256 characters).
/// - `session` (optional, 1–256 characters); `id` (optional, 1–128 characters).
/// - `timestamp` (optional): an RFC 3339 string or integer epoch milliseconds, not negative and not more than
///   ``Configuration/maxFutureSkewMilliseconds`` ahead of the server; the receive time when absent.
/// - `value` (optional number, finite): required and 1–5 for `rating`, required and ≥ 0 seconds for `dwell`,
///   required and 0–1 for `scroll`.
/// - `context` (optional): an object whose values are strings, numbers or booleans, at most
///   ``Configuration/maxContextBytes`` bytes counting keys and string values in UTF-8 and 8 bytes per number or
///   boolean.
///
/// Unknown fields are ignored, so that newer clients can talk to older servers.
public struct EventValidator: Sendable {
    /// Limits applied to each event.
    public struct Configuration: Sendable {
        /// The accepted event types and their topics.
        public var schema: EventSchema
        /// How far ahead of the server's clock a timestamp may be. Defaults to 24 hours.
        public var maxFutureSkewMilliseconds: Int64
        /// The maximum size of `context`. Defaults to 4096 bytes.
        public var maxContextBytes: Int

        /// Creates a configuration.
        public init(
            schema: EventSchema = EventSchema(),
            maxFutureSkewMilliseconds: Int64 = 24 * 3_600 * 1_000,
            maxContextBytes: Int = 4_096
        ) {
            self.schema = schema
            self.maxFutureSkewMilliseconds = maxFutureSkewMilliseconds
            self.maxContextBytes = maxContextBytes
        }
    }

    /// The limits in force.
    public var configuration: Configuration

    /// Creates a validator.
    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
    }

    /// Validates one event.
    ///
    /// - Parameters:
    ///   - json: The event object as sent.
    ///   - receivedAt: The server's receive time, recorded on the event and used when it has no timestamp.
    public func validate(_ json: JSONValue, receivedAt: EventTime) -> Result<Event, EventValidationError> {
        guard case .object(let members) = json else {
            return .failure(EventValidationError(field: nil, "each event must be a JSON object, found \(json.typeName)"))
        }
        do throws(EventValidationError) {
            return .success(try self.validate(members: members, receivedAt: receivedAt))
        } catch {
            return .failure(error)
        }
    }

    private func validate(members: [JSONMember], receivedAt: EventTime) throws(EventValidationError) -> Event {
        var type: EventType?
        var user: String?
        var item: String?
        var session: String?
        var id: String?
        var timestamp: EventTime?
        var value: Double?
        var context: [(key: String, value: ContextValue)] = []
        var seen = Set<String>()
        for member in members {
            guard seen.insert(member.key).inserted else {
                throw EventValidationError(field: member.key, "appears more than once")
            }
            switch member.key {
            case "type":
                guard case .string(let name) = member.value else {
                    throw EventValidationError(field: "type", "must be a string, found \(member.value.typeName)")
                }
                let candidate = EventType(name)
                guard self.configuration.schema.topic(for: candidate) != nil else {
                    throw EventValidationError(
                        field: "type",
                        "unknown event type '\(Self.truncated(name))'; expected one of "
                            + self.configuration.schema.routes.keys.sorted().joined(separator: ", ")
                    )
                }
                type = candidate
            case "user":
                user = try FieldParsing.identifier(member.value, field: "user", maxLength: 256)
            case "item":
                if member.value != .null {
                    item = try FieldParsing.identifier(member.value, field: "item", maxLength: 256)
                }
            case "session":
                if member.value != .null {
                    session = try FieldParsing.identifier(member.value, field: "session", maxLength: 256)
                }
            case "id":
                if member.value != .null {
                    id = try FieldParsing.identifier(member.value, field: "id", maxLength: 128)
                }
            case "timestamp":
                timestamp = try self.timestamp(member.value, receivedAt: receivedAt)
            case "value":
                switch member.value {
                case .null: break
                case .number(let number, _): value = number
                default: throw EventValidationError(field: "value", "must be a number, found \(member.value.typeName)")
                }
            case "context":
                context = try self.context(member.value)
            default:
                continue
            }
        }
        guard let type else { throw EventValidationError(field: "type", "is required") }
        guard let user else { throw EventValidationError(field: "user", "is required") }
        if item == nil, type != .navigate {
            throw EventValidationError(field: "item", "is required for '\(type.name)' events")
        }
        try Self.checkValue(value, for: type)
        return Event(
            type: type,
            user: user,
            item: item,
            session: session,
            id: id,
            timestamp: timestamp ?? receivedAt,
            receivedAt: receivedAt,
            value: value,
            context: context
        )
    }

    private func timestamp(_ json: JSONValue, receivedAt: EventTime) throws(EventValidationError) -> EventTime? {
        guard let time = try FieldParsing.time(json, field: "timestamp") else { return nil }
        let limit = receivedAt.advanced(byMilliseconds: self.configuration.maxFutureSkewMilliseconds)
        guard time <= limit else {
            throw EventValidationError(
                field: "timestamp",
                "\(time) is more than \(self.configuration.maxFutureSkewMilliseconds / 1_000) seconds in the future"
            )
        }
        return time
    }

    private static func checkValue(_ value: Double?, for type: EventType) throws(EventValidationError) {
        if let value, !value.isFinite {
            throw EventValidationError(field: "value", "must be a finite number")
        }
        switch type {
        case .rating:
            guard let value else { throw EventValidationError(field: "value", "is required for 'rating' events (1-5)") }
            guard value >= 1, value <= 5 else {
                throw EventValidationError(field: "value", "must be between 1 and 5 for 'rating' events, found \(value)")
            }
        case .dwell:
            guard let value else {
                throw EventValidationError(field: "value", "is required for 'dwell' events (seconds)")
            }
            guard value >= 0 else {
                throw EventValidationError(field: "value", "must be at least 0 seconds for 'dwell' events, found \(value)")
            }
        case .scroll:
            guard let value else {
                throw EventValidationError(field: "value", "is required for 'scroll' events (depth 0-1)")
            }
            guard value >= 0, value <= 1 else {
                throw EventValidationError(field: "value", "must be between 0 and 1 for 'scroll' events, found \(value)")
            }
        default:
            break
        }
    }

    private func context(_ json: JSONValue) throws(EventValidationError) -> [(key: String, value: ContextValue)] {
        try FieldParsing.flatObject(json, field: "context", maxBytes: self.configuration.maxContextBytes)
    }

    private static func truncated(_ string: String) -> String {
        FieldParsing.truncated(string)
    }
}
