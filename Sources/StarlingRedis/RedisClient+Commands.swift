public import Logging
extension RedisClient {
    /// Returns the value of `key`, or `nil` when the key does not exist (`GET`).
    ///
    /// - Parameter logger: Where the command is logged; the client's own logger when `nil`.
    /// - Throws: ``RedisError/serverError`` when the key holds a non-string value (`WRONGTYPE`), and the client's
    ///   transient errors.
    public func get(_ key: String, logger: Logger? = nil) async throws -> [UInt8]? {
        let reply = try await self.send(["GET", key], logger: logger)
        switch reply {
        case .bulkString(let bytes): return bytes
        default: throw RedisError.unexpectedReply("GET answered \(reply.kind) instead of a bulk string")
        }
    }

    /// Returns the values of `keys` in order, `nil` for each key that does not exist or holds no string (`MGET`).
    public func get(_ keys: [String]) async throws -> [[UInt8]?] {
        guard !keys.isEmpty else { return [] }
        let reply = try await self.send(["MGET"] + keys)
        guard case .array(let elements?) = reply, elements.count == keys.count else {
            throw RedisError.unexpectedReply("MGET of \(keys.count) keys answered \(reply.kind)")
        }
        return try elements.map { element in
            guard case .bulkString(let bytes) = element else {
                throw RedisError.unexpectedReply("MGET answered \(element.kind) for a key instead of a bulk string")
            }
            return bytes
        }
    }

    /// Sets `key` to `value` (`SET key value [PX milliseconds]`).
    ///
    /// - Parameters:
    ///   - key: The key.
    ///   - value: The bytes to store.
    ///   - expiresIn: How long the key lives, rounded up to whole milliseconds; `nil` keeps it until it is
    ///     replaced or deleted. Must be positive.
    /// - Throws: ``RedisError/invalidArgument`` for an expiry that is not positive, and the client's errors.
    public func set(_ key: String, _ value: [UInt8], expiresIn: Duration? = nil) async throws {
        var arguments: [[UInt8]] = [Array("SET".utf8), Array(key.utf8), value]
        if let expiresIn {
            guard expiresIn > .zero else {
                throw RedisError.invalidArgument("the expiry of '\(key)' must be positive, not \(expiresIn)")
            }
            let (seconds, attoseconds) = expiresIn.components
            let perMillisecond: Int64 = 1_000_000_000_000_000
            let milliseconds = seconds * 1000 + (attoseconds + perMillisecond - 1) / perMillisecond
            arguments += [Array("PX".utf8), Array(String(milliseconds).utf8)]
        }
        let reply = try await self.send(arguments)
        guard reply == .simpleString("OK") else {
            throw RedisError.unexpectedReply("SET answered \(reply.kind) instead of OK")
        }
    }

    /// Sets `key` to the UTF-8 bytes of `value`; see ``set(_:_:expiresIn:)-([UInt8])``.
    public func set(_ key: String, _ value: String, expiresIn: Duration? = nil) async throws {
        try await self.set(key, Array(value.utf8), expiresIn: expiresIn)
    }

    /// Deletes `keys` and returns how many existed (`DEL`). No keys: returns 0 without a round trip.
    @discardableResult
    public func delete(_ keys: [String]) async throws -> Int {
        guard !keys.isEmpty else { return 0 }
        let reply = try await self.send(["DEL"] + keys)
        guard case .integer(let count) = reply else {
            throw RedisError.unexpectedReply("DEL answered \(reply.kind) instead of an integer")
        }
        return Int(count)
    }

    /// Checks that Redis answers (`PING`).
    public func ping() async throws {
        let reply = try await self.send(["PING"])
        guard reply == .simpleString("PONG") else {
            throw RedisError.unexpectedReply("PING answered \(reply.kind) instead of PONG")
        }
    }

    /// Publishes `message` on `channel` and returns how many subscribers received it (`PUBLISH`).
    @discardableResult
    public func publish(_ message: [UInt8], to channel: String) async throws -> Int {
        let reply = try await self.send([Array("PUBLISH".utf8), Array(channel.utf8), message])
        guard case .integer(let receivers) = reply else {
            throw RedisError.unexpectedReply("PUBLISH answered \(reply.kind) instead of an integer")
        }
        return Int(receivers)
    }

    /// Publishes the UTF-8 bytes of `message` on `channel`; see ``publish(_:to:)-([UInt8],_)``.
    @discardableResult
    public func publish(_ message: String, to channel: String) async throws -> Int {
        try await self.publish(Array(message.utf8), to: channel)
    }
}

extension RESPValue {
    /// The kind of value, for messages: never its content, which may be private.
    public var kind: String {
        switch self {
        case .simpleString: "a simple string"
        case .error: "an error"
        case .integer: "an integer"
        case .bulkString(nil): "a null bulk string"
        case .bulkString: "a bulk string"
        case .array(nil): "a null array"
        case .array: "an array"
        }
    }
}
