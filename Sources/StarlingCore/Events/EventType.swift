/// The kind of a user behaviour event: `view`, `click`, `like`, … or a type declared in configuration.
///
/// A struct with static members rather than an enum, so that deployments can declare their own types without
/// breaking exhaustive switches in client code.
public struct EventType: Hashable, Sendable, CustomStringConvertible {
    /// The wire name, for example `add_to_cart`.
    public let name: String

    /// Creates an event type from its wire name.
    public init(_ name: String) {
        self.name = name
    }

    public var description: String { self.name }

    /// The user opened or saw an item.
    public static let view = EventType("view")
    /// The user clicked an item.
    public static let click = EventType("click")
    /// Explicit positive feedback.
    public static let like = EventType("like")
    /// Explicit negative feedback.
    public static let dislike = EventType("dislike")
    /// An explicit rating; `value` holds 1–5.
    public static let rating = EventType("rating")
    /// The user bought the item.
    public static let purchase = EventType("purchase")
    /// The user put the item in a cart.
    public static let addToCart = EventType("add_to_cart")
    /// The user shared the item.
    public static let share = EventType("share")
    /// Time spent on the item; `value` holds seconds.
    public static let dwell = EventType("dwell")
    /// How far the user scrolled through the item; `value` holds a depth from 0 to 1.
    public static let scroll = EventType("scroll")
    /// The user navigated (a page change); `item` is optional.
    public static let navigate = EventType("navigate")

    /// The types every deployment accepts.
    public static let builtIn: [EventType] = [
        .view, .click, .like, .dislike, .rating, .purchase, .addToCart, .share, .dwell, .scroll, .navigate,
    ]
}

/// Which event types a deployment accepts, and which log topic each is written to.
///
/// The built-in routing is the documented topic naming convention:
///
/// | topic | event types |
/// |---|---|
/// | `views` | `view` |
/// | `clicks` | `click` |
/// | `feedback` | `like`, `dislike`, `rating` |
/// | `conversions` | `purchase`, `add_to_cart` |
/// | `engagement` | `dwell`, `scroll`, `share` |
/// | `navigation` | `navigate` |
/// | `custom` | every type declared in configuration, unless it names its own topic |
public struct EventSchema: Sendable {
    /// Type name to topic name.
    public private(set) var routes: [String: String]

    /// The built-in types with their default topics.
    public init() {
        self.routes = [
            "view": "views",
            "click": "clicks",
            "like": "feedback", "dislike": "feedback", "rating": "feedback",
            "purchase": "conversions", "add_to_cart": "conversions",
            "dwell": "engagement", "scroll": "engagement", "share": "engagement",
            "navigate": "navigation",
        ]
    }

    /// The topic every custom type goes to unless it names one.
    public static let customTopic = "custom"

    /// Declares an additional event type.
    ///
    /// - Parameters:
    ///   - name: The type's wire name: 1–64 characters of `a-z`, `0-9` and `_`.
    ///   - topic: The topic its events are written to; ``customTopic`` when `nil`.
    /// - Throws: ``EventSchemaError`` when the name or topic is malformed or redeclares a built-in type.
    public mutating func declare(_ name: String, topic: String? = nil) throws(EventSchemaError) {
        guard Self.isWellFormedName(name) else {
            throw EventSchemaError(description: "event type '\(name)' must be 1-64 characters of a-z, 0-9 and _")
        }
        guard !EventType.builtIn.contains(EventType(name)) else {
            throw EventSchemaError(description: "event type '\(name)' is built in and cannot be redeclared")
        }
        let topic = topic ?? Self.customTopic
        guard Self.isWellFormedName(topic) else {
            throw EventSchemaError(description: "topic '\(topic)' must be 1-64 characters of a-z, 0-9 and _")
        }
        self.routes[name] = topic
    }

    /// Parses declarations of the form `name` or `name:topic`, as given on the command line.
    public mutating func declare(specification: String) throws(EventSchemaError) {
        let parts = specification.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        guard let name = parts.first else {
            throw EventSchemaError(description: "empty event type declaration")
        }
        try self.declare(name, topic: parts.count > 1 ? parts[1] : nil)
    }

    /// The topic for an event type, or `nil` when the type is not accepted.
    public func topic(for type: EventType) -> String? {
        self.routes[type.name]
    }

    /// Every topic events can be written to, sorted by name.
    public var topics: [String] {
        Array(Set(self.routes.values)).sorted()
    }

    static func isWellFormedName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 64
            && name.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x5F }
    }
}

/// A malformed event type declaration.
public struct EventSchemaError: Error, Sendable, CustomStringConvertible {
    public var description: String

    public init(description: String) {
        self.description = description
    }
}
