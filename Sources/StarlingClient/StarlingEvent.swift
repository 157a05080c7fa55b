public import Foundation

/// A behaviour event as the Starling API takes it (`POST /v1/events`).
///
/// Every event carries an `id` (a UUID unless given) so that a batch sent again after a lost answer is recognised
/// by the server and never counted twice, and a `timestamp` taken when it was tracked, so that events queued while
/// offline keep the time they happened.
public struct StarlingEvent: Codable, Sendable, Hashable {
    /// A value of an event's `context`.
    public enum ContextValue: Codable, Sendable, Hashable {
        case string(String)
        case number(Double)
        case bool(Bool)

        public init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let value = try? container.decode(Bool.self) {
                self = .bool(value)
            } else if let value = try? container.decode(Double.self) {
                self = .number(value)
            } else {
                self = .string(try container.decode(String.self))
            }
        }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            switch self {
            case .string(let value): try container.encode(value)
            case .number(let value): try container.encode(value)
            case .bool(let value): try container.encode(value)
            }
        }
    }

    public var id: String
    /// `view`, `click`, `like`, `dislike`, `rating`, `purchase`, `add_to_cart`, `share`, `dwell`, `scroll`,
    /// `navigate`, or a type the server declares.
    public var type: String
    public var user: String
    public var item: String?
    public var session: String?
    /// 1–5 for `rating`, seconds for `dwell`, 0–1 for `scroll`.
    public var value: Double?
    /// Milliseconds since 1970.
    public var timestamp: Int64
    public var context: [String: ContextValue]?

    public init(
        type: String,
        user: String,
        item: String? = nil,
        session: String? = nil,
        value: Double? = nil,
        context: [String: ContextValue]? = nil,
        id: String = UUID().uuidString.lowercased(),
        timestamp: Date = Date()
    ) {
        self.id = id
        self.type = type
        self.user = user
        self.item = item
        self.session = session
        self.value = value
        self.timestamp = Int64((timestamp.timeIntervalSince1970 * 1_000).rounded())
        self.context = context
    }
}

/// An item of a recommendation list.
public struct StarlingRecommendation: Decodable, Sendable, Hashable {
    public var item: String
    public var score: Double
    /// Why the item is in the list ("similar to dune", "trending"…).
    public var reason: String
}
