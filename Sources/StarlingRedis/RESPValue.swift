/// A value of the Redis serialization protocol, version 2 (RESP2).
///
/// Replies from Redis decode into this type (see ``RESPDecoder``); commands are sent as an array of bulk strings
/// (see ``RESPEncoder``).
///
/// ```swift
/// let reply = try await client.send(["INCR", "counter"])
/// if case .integer(let count) = reply { print(count) }
/// ```
public enum RESPValue: Hashable, Sendable {
    /// A simple string (`+OK`).
    case simpleString(String)
    /// An error reply (`-ERR unknown command`): the text after the `-`.
    case error(String)
    /// A signed 64-bit integer (`:42`).
    case integer(Int64)
    /// A binary-safe bulk string (`$3\r\nabc`); `nil` is the null bulk string (`$-1`).
    case bulkString([UInt8]?)
    /// An array of values (`*2\r\n…`); `nil` is the null array (`*-1`).
    case array([RESPValue]?)
}

extension RESPValue {
    /// Whether this is the null bulk string or the null array.
    public var isNull: Bool {
        switch self {
        case .bulkString(nil), .array(nil): true
        default: false
        }
    }

    /// The bytes of a bulk string or a simple string; `nil` for anything else, including null.
    public var bytes: [UInt8]? {
        switch self {
        case .bulkString(let bytes?): bytes
        case .simpleString(let string): Array(string.utf8)
        default: nil
        }
    }

    /// A bulk string or a simple string as text (invalid UTF-8 is repaired); `nil` for anything else.
    public var string: String? {
        switch self {
        case .simpleString(let string): string
        case .bulkString(let bytes?): String(decoding: bytes, as: UTF8.self)
        default: nil
        }
    }

    /// An integer reply, or a bulk or simple string holding a decimal integer (as `INCRBYFLOAT` or `GET` return).
    public var integer: Int64? {
        switch self {
        case .integer(let value): value
        case .simpleString, .bulkString: self.string.flatMap { Int64($0) }
        default: nil
        }
    }

    /// The elements of a non-null array; `nil` for anything else.
    public var array: [RESPValue]? {
        if case .array(let elements?) = self { return elements }
        return nil
    }

    /// The message of an error reply; `nil` for anything else.
    public var errorMessage: String? {
        if case .error(let message) = self { return message }
        return nil
    }
}

extension RESPValue: CustomStringConvertible {
    /// A readable form for logs and test failures, close to `redis-cli`'s.
    public var description: String {
        switch self {
        case .simpleString(let string): return string
        case .error(let message): return "(error) \(message)"
        case .integer(let value): return "(integer) \(value)"
        case .bulkString(nil), .array(nil): return "(nil)"
        case .bulkString(let bytes?):
            let text = String(decoding: bytes.prefix(256), as: UTF8.self)
            let suffix = bytes.count > 256 ? "… (\(bytes.count) bytes)" : ""
            return "\"\(text)\"\(suffix)"
        case .array(let elements?):
            return "[" + elements.map(\.description).joined(separator: ", ") + "]"
        }
    }
}
