/// An error from the Redis client or from Redis itself.
///
/// Compare with the static members to tell the kind (`error == .timeout`): equality looks at the kind only, while
/// ``message`` says what happened in words.
///
/// | Kind | When |
/// |---|---|
/// | ``unavailable`` | Redis cannot be reached: connecting failed or timed out, or the client waits to retry |
/// | ``connectionLost`` | The connection dropped (or was dropped after a timeout) while the command was in flight |
/// | ``timeout`` | No reply within ``RedisClient/Configuration/commandTimeout`` |
/// | ``serverError`` | Redis answered with an error reply (`ERR`, `WRONGTYPE`, …) |
/// | ``protocolError`` | The bytes received are not valid RESP2 |
/// | ``unexpectedReply`` | The reply's type does not fit the command (for example `GET` answered with an integer) |
/// | ``invalidConfiguration`` | A bad URL or configuration value |
/// | ``invalidArgument`` | An empty command, or a non-positive expiry |
/// | ``closed`` | ``RedisClient/close()`` was called |
public struct RedisError: Error, Hashable, Sendable, CustomStringConvertible {
    private enum Code: Hashable, Sendable {
        case unavailable
        case connectionLost
        case timeout
        case serverError
        case protocolError
        case unexpectedReply
        case invalidConfiguration
        case invalidArgument
        case closed
    }

    private let code: Code
    /// What went wrong, in words.
    public let message: String

    private init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// Redis cannot be reached: connecting failed or timed out, or the client is backing off before the next attempt.
    public static let unavailable = Self(.unavailable, "Redis is unavailable")
    /// The connection was lost while the command was in flight; it may or may not have been executed.
    public static let connectionLost = Self(.connectionLost, "the connection to Redis was lost")
    /// No reply arrived in time; the command may or may not have been executed.
    public static let timeout = Self(.timeout, "the Redis command timed out")
    /// Redis answered with an error reply.
    public static let serverError = Self(.serverError, "Redis returned an error")
    /// The bytes received are not valid RESP2.
    public static let protocolError = Self(.protocolError, "invalid RESP2 data")
    /// The reply does not have the type the command returns.
    public static let unexpectedReply = Self(.unexpectedReply, "unexpected reply from Redis")
    /// A URL or configuration value is not valid.
    public static let invalidConfiguration = Self(.invalidConfiguration, "invalid Redis configuration")
    /// A command's arguments are not valid (an empty command, a non-positive expiry).
    public static let invalidArgument = Self(.invalidArgument, "invalid Redis command arguments")
    /// The client was closed.
    public static let closed = Self(.closed, "the Redis client is closed")

    static func unavailable(_ message: String) -> Self { Self(.unavailable, message) }
    static func connectionLost(_ message: String) -> Self { Self(.connectionLost, message) }
    static func timeout(_ message: String) -> Self { Self(.timeout, message) }
    public static func serverError(_ message: String) -> Self { Self(.serverError, message) }
    static func protocolError(_ message: String) -> Self { Self(.protocolError, message) }
    public static func unexpectedReply(_ message: String) -> Self { Self(.unexpectedReply, message) }
    static func invalidConfiguration(_ message: String) -> Self { Self(.invalidConfiguration, message) }
    static func invalidArgument(_ message: String) -> Self { Self(.invalidArgument, message) }
    static func closed(_ message: String) -> Self { Self(.closed, message) }

    /// Whether the command might succeed if sent again later (Redis unreachable, connection lost, timeout).
    ///
    /// A cache treats these as misses; the others point at a bug or bad data.
    public var isTransient: Bool {
        switch self.code {
        case .unavailable, .connectionLost, .timeout: true
        case .serverError, .protocolError, .unexpectedReply, .invalidConfiguration, .invalidArgument, .closed: false
        }
    }

    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.code == rhs.code }

    public func hash(into hasher: inout Hasher) { hasher.combine(self.code) }

    public var description: String { "RedisError.\(self.code): \(self.message)" }
}
