public import Logging
import NIOConcurrencyHelpers
public import NIOCore
public import NIOPosix

/// A Redis client speaking RESP2 over one pipelined TCP connection.
///
/// Any number of tasks share the client: their commands are written to one connection as they come, without waiting
/// for earlier replies, and each gets its own reply (Redis answers in order). The connection is opened by the first
/// command and reopened by the first command after it drops.
///
/// ```swift
/// let redis = RedisClient(configuration: try .init(url: "redis://127.0.0.1:6379"), logger: logger)
/// try await redis.set("user:42", bytes, expiresIn: .seconds(60))
/// let cached = try await redis.get("user:42")
/// await redis.close()
/// ```
///
/// Failures are bounded in time: every command fails with a ``RedisError`` within
/// ``Configuration/commandTimeout`` rather than hang, and while Redis is unreachable commands fail at once with
/// ``RedisError/unavailable`` (see ``Configuration/maximumReconnectBackoff``). The client never retries a command
/// itself: a command that timed out or lost its connection may or may not have been executed.
///
/// Connection events are logged with the logger the client was created with. Each command is logged at `trace`
/// (name, duration) and a failed one at `debug`, with the `logger` passed to the command when there is one: a
/// request handler passes its request's logger, so the command's lines carry the request's id and trace.
///
/// - Note: Publish/subscribe *subscriptions* (and `MONITOR`) need a dedicated connection and are not supported;
///   ``publish(_:to:)`` is.
public final class RedisClient: Sendable {
    /// The configuration the client was created with.
    public let configuration: Configuration
    private let eventLoopGroup: any EventLoopGroup
    private let logger: Logger
    private let endpoint: String
    private let state: NIOLockedValueBox<StateMachine<RedisConnection, EventLoopPromise<RedisConnection>>>
    private let counts = NIOLockedValueBox(Statistics())

    /// Commands (a pipeline counts once) sent since the client was created, and those that failed because Redis
    /// could not be reached or did not answer in time (``RedisError/isTransient``): for metrics.
    public struct Statistics: Hashable, Sendable {
        public var commands: UInt64 = 0
        public var transientFailures: UInt64 = 0
        /// Whether the latest command failed transiently (`false` before the first).
        public var lastCommandFailed = false

        public init() {}
    }

    /// The commands sent so far and how many failed transiently.
    public var statistics: Statistics {
        self.counts.withLockedValue { $0 }
    }

    /// A logger that drops everything: the default when none is given.
    public static let loggingDisabled = Logger(label: "starling.redis", factory: { _ in SwiftLogNoOpLogHandler() })

    /// Creates a client. It connects when the first command is sent.
    ///
    /// - Parameters:
    ///   - configuration: Where Redis is and the timeouts.
    ///   - eventLoopGroup: The event loops for the connection. The client does not shut it down.
    ///   - logger: Where connection events are logged (at `info` and below).
    public init(
        configuration: Configuration,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger = RedisClient.loggingDisabled
    ) {
        self.configuration = configuration
        self.eventLoopGroup = eventLoopGroup
        self.endpoint =
            configuration.host.contains(":")
            ? "[\(configuration.host)]:\(configuration.port)" : "\(configuration.host):\(configuration.port)"
        var logger = logger
        logger[metadataKey: "starling.redis.endpoint"] = "\(self.endpoint)"
        self.logger = logger
        self.state = NIOLockedValueBox(
            StateMachine(endpoint: self.endpoint, maximumBackoff: configuration.maximumReconnectBackoff)
        )
    }

    deinit {
        self.closeWithoutWaiting()
    }

    /// Closes the connection and fails the commands in flight with ``RedisError/closed``; later commands fail the
    /// same way. Calling it again does nothing.
    public func close() async {
        let action = self.state.withLockedValue { $0.close() }
        switch action {
        case .none:
            break
        case .failPendingConnection(let pending):
            // The attempt closes its channel when it completes.
            pending.fail(self.closedError)
        case .closeConnection(let connection):
            await connection.close(reason: self.closedError)
            self.logger.debug("Redis client closed")
        }
    }

    private func closeWithoutWaiting() {
        let action = self.state.withLockedValue { $0.close() }
        switch action {
        case .none: break
        case .failPendingConnection(let pending): pending.fail(self.closedError)
        case .closeConnection(let connection): connection.closeSoon(reason: self.closedError)
        }
    }

    private var closedError: RedisError { .closed("the Redis client for \(self.endpoint) was closed") }

    // MARK: Commands

    /// Sends a command and returns its reply.
    ///
    /// ```swift
    /// let count = try await redis.send(["INCRBY", "counter", "5"])  // .integer(5)
    /// ```
    ///
    /// - Parameters:
    ///   - arguments: The command name and its arguments, sent as bulk strings (UTF-8).
    ///   - logger: Where the command is logged; the client's own logger when `nil`.
    /// - Returns: The reply; never ``RESPValue/error(_:)``, which is thrown instead.
    /// - Throws: ``RedisError/serverError`` for an error reply, ``RedisError/invalidArgument`` for an empty
    ///   command, and the transient errors of the client (``RedisError/isTransient``).
    @discardableResult
    public func send(_ arguments: [String], logger: Logger? = nil) async throws -> RESPValue {
        guard let name = arguments.first else { throw RedisError.invalidArgument("a command needs at least a name") }
        var bytes: [UInt8] = []
        RESPEncoder.encodeCommand(arguments, into: &bytes)
        return try Self.throwingErrorReply(
            try await self.execute(bytes, replyCount: 1, name: Self.commandName(name), logger: logger)[0]
        )
    }

    /// Sends a command of binary arguments and returns its reply.
    ///
    /// - Parameters:
    ///   - arguments: The command name and its arguments, sent as bulk strings.
    ///   - logger: Where the command is logged; the client's own logger when `nil`.
    /// - Returns: The reply; never ``RESPValue/error(_:)``, which is thrown instead.
    /// - Throws: As ``send(_:logger:)-([String],_)``.
    @discardableResult
    public func send(_ arguments: [[UInt8]], logger: Logger? = nil) async throws -> RESPValue {
        guard let name = arguments.first else { throw RedisError.invalidArgument("a command needs at least a name") }
        var bytes: [UInt8] = []
        RESPEncoder.encodeCommand(arguments, into: &bytes)
        let reply = try await self.execute(
            bytes,
            replyCount: 1,
            name: Self.commandName(String(decoding: name, as: UTF8.self)),
            logger: logger
        )
        return try Self.throwingErrorReply(reply[0])
    }

    /// Sends several commands in one write and returns their replies in order.
    ///
    /// Error replies are returned as ``RESPValue/error(_:)`` in their place, so one failing command does not hide
    /// the others' replies. The whole pipeline shares one ``Configuration/commandTimeout``. It is not a transaction:
    /// other clients' commands may run between these.
    ///
    /// ```swift
    /// let replies = try await redis.pipeline([["INCR", "a"], ["INCR", "b"], ["GET", "c"]])
    /// ```
    ///
    /// - Parameters:
    ///   - commands: The commands, each a name and its arguments.
    ///   - logger: Where the pipeline is logged; the client's own logger when `nil`.
    public func pipeline(_ commands: [[String]], logger: Logger? = nil) async throws -> [RESPValue] {
        try await self.pipeline(commands.map { command in command.map { Array($0.utf8) } }, logger: logger)
    }

    /// Sends several commands of binary arguments in one write and returns their replies in order.
    ///
    /// Behaves as ``pipeline(_:logger:)-([[String]],_)``.
    public func pipeline(_ commands: [[[UInt8]]], logger: Logger? = nil) async throws -> [RESPValue] {
        guard !commands.isEmpty else { return [] }
        var bytes: [UInt8] = []
        for command in commands {
            guard !command.isEmpty else { throw RedisError.invalidArgument("a command needs at least a name") }
            RESPEncoder.encodeCommand(command, into: &bytes)
        }
        return try await self.execute(
            bytes,
            replyCount: commands.count,
            name: "a pipeline of \(commands.count) commands",
            logger: logger
        )
    }

    private static func throwingErrorReply(_ reply: RESPValue) throws -> RESPValue {
        if case .error(let message) = reply { throw RedisError.serverError(message) }
        return reply
    }

    /// The command's name for messages: never its arguments, which may be private.
    private static func commandName(_ name: String) -> String {
        String(name.prefix(32)).uppercased()
    }

    // MARK: Connection handling

    /// Sends encoded command(s) and returns `replyCount` replies, logging the command at `trace` and a failure at
    /// `debug` with `logger` (the caller's, carrying its request's metadata) or else the client's own.
    private func execute(_ bytes: [UInt8], replyCount: Int, name: String, logger: Logger?) async throws
        -> [RESPValue]
    {
        var logger = logger ?? self.logger
        logger[metadataKey: "starling.redis.endpoint"] = "\(self.endpoint)"
        let start = ContinuousClock.now
        do {
            let replies = try await self.execute(bytes, replyCount: replyCount, name: name)
            logger.trace(
                "Redis command",
                metadata: [
                    "starling.redis.command": "\(name)",
                    "starling.redis.duration_ms": "\(Self.milliseconds(since: start))",
                ]
            )
            return replies
        } catch {
            logger.debug(
                "Redis command failed",
                metadata: [
                    "starling.redis.command": "\(name)",
                    "starling.redis.duration_ms": "\(Self.milliseconds(since: start))",
                    "starling.redis.error": "\(error)",
                ]
            )
            throw error
        }
    }

    private static func milliseconds(since start: ContinuousClock.Instant) -> Double {
        let (seconds, attoseconds) = (ContinuousClock.now - start).components
        return Double(seconds) * 1_000 + Double(attoseconds) / 1e15
    }

    /// Sends encoded command(s) and counts the outcome in ``statistics``.
    private func execute(_ bytes: [UInt8], replyCount: Int, name: String) async throws -> [RESPValue] {
        do {
            let replies = try await self.executeOnConnection(bytes, replyCount: replyCount, name: name)
            self.counts.withLockedValue {
                $0.commands += 1
                $0.lastCommandFailed = false
            }
            return replies
        } catch {
            let transient = (error as? RedisError)?.isTransient ?? false
            self.counts.withLockedValue {
                $0.commands += 1
                if transient { $0.transientFailures += 1 }
                $0.lastCommandFailed = transient
            }
            throw error
        }
    }

    /// Sends encoded command(s) on the connection, opening it first when needed, and returns `replyCount` replies.
    private func executeOnConnection(_ bytes: [UInt8], replyCount: Int, name: String) async throws -> [RESPValue] {
        try Task.checkCancellation()
        let timeout = self.configuration.commandTimeout
        let deadline = NIODeadline.now() + TimeAmount(timeout)
        let now = ContinuousClock.now
        let action = self.state.withLockedValue { state in
            state.acquire(now: now, makePending: { self.eventLoopGroup.next().makePromise(of: RedisConnection.self) })
        }

        let promise: EventLoopPromise<[RESPValue]>
        switch action {
        case .fail(let error):
            throw error
        case .execute(let connection):
            promise = connection.channel.eventLoop.makePromise()
            connection.execute(Self.request(bytes, replyCount, deadline, timeout, promise, name, connection))
        case .connect(let attempt, let pending):
            self.connect(attempt: attempt, pending: pending)
            promise = pending.futureResult.eventLoop.makePromise()
            self.execute(bytes, replyCount, deadline, timeout, promise, name, after: pending.futureResult)
        case .waitForConnection(let pending):
            promise = pending.futureResult.eventLoop.makePromise()
            self.execute(bytes, replyCount, deadline, timeout, promise, name, after: pending.futureResult)
        }
        return try await withTaskCancellationHandler {
            try await promise.futureResult.get()
        } onCancel: {
            promise.fail(CancellationError())
        }
    }

    /// Sends the request once `connection` is open, failing it if that takes past `deadline`.
    private func execute(
        _ bytes: [UInt8],
        _ replyCount: Int,
        _ deadline: NIODeadline,
        _ timeout: Duration,
        _ promise: EventLoopPromise<[RESPValue]>,
        _ name: String,
        after connection: EventLoopFuture<RedisConnection>
    ) {
        let endpoint = self.endpoint
        let timer = promise.futureResult.eventLoop.scheduleTask(deadline: deadline) {
            promise.fail(
                RedisError.timeout("no connection to Redis at \(endpoint) for \(name) within \(Self.describe(timeout))")
            )
        }
        connection.whenComplete { result in
            timer.cancel()
            switch result {
            case .success(let connection):
                guard NIODeadline.now() < deadline else {
                    promise.fail(
                        RedisError.timeout(
                            "no connection to Redis at \(endpoint) for \(name) within \(Self.describe(timeout))"
                        )
                    )
                    return
                }
                connection.execute(Self.request(bytes, replyCount, deadline, timeout, promise, name, connection))
            case .failure(let error):
                promise.fail(error)
            }
        }
    }

    private static func request(
        _ bytes: [UInt8],
        _ replyCount: Int,
        _ deadline: NIODeadline,
        _ timeout: Duration,
        _ promise: EventLoopPromise<[RESPValue]>,
        _ name: String,
        _ connection: RedisConnection
    ) -> RedisRequest {
        RedisRequest(
            bytes: connection.channel.allocator.buffer(bytes: bytes),
            replyCount: replyCount,
            deadline: deadline,
            timeout: timeout,
            promise: promise,
            name: name
        )
    }

    /// Opens a connection for attempt `attempt` and completes `pending` with it (or with the failure).
    private func connect(attempt: Int, pending: EventLoopPromise<RedisConnection>) {
        let configuration = self.configuration
        let endpoint = self.endpoint
        let logger = self.logger
        let state = self.state
        let connectTimeout = configuration.connectTimeout
        let connectDeadline = NIODeadline.now() + TimeAmount(connectTimeout)
        logger.debug("Connecting to Redis", metadata: ["starling.redis.attempt": "\(attempt)"])

        ClientBootstrap(group: self.eventLoopGroup)
            .connectTimeout(TimeAmount(connectTimeout))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelOption(.socketOption(.so_keepalive), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        RedisChannelHandler(endpoint: endpoint, logger: logger)
                    )
                }
            }
            .connect(host: configuration.host, port: configuration.port)
            .flatMap { channel -> EventLoopFuture<RedisConnection> in
                let connection = RedisConnection(channel: channel, endpoint: endpoint)
                guard configuration.database != 0 else { return channel.eventLoop.makeSucceededFuture(connection) }
                let select = ["SELECT", "\(configuration.database)"]
                let promise = channel.eventLoop.makePromise(of: [RESPValue].self)
                connection.execute(
                    RedisRequest(
                        bytes: channel.allocator.buffer(bytes: RESPEncoder.command(select)),
                        replyCount: 1,
                        deadline: connectDeadline,
                        timeout: connectTimeout,
                        promise: promise,
                        name: "SELECT"
                    )
                )
                return promise.futureResult.flatMapThrowing { replies in
                    guard replies.first == .simpleString("OK") else {
                        let reply = replies.first.map { "\($0)" } ?? "no reply"
                        throw RedisError.unavailable("SELECT \(configuration.database) failed: \(reply)")
                    }
                    return connection
                }.flatMapErrorThrowing { error in
                    channel.close(promise: nil)
                    throw error
                }
            }
            .whenComplete { result in
                switch result {
                case .success(let connection):
                    switch state.withLockedValue({ $0.connectSucceeded(attempt: attempt, connection: connection) }) {
                    case .resumeWaiters:
                        logger.debug("Connected to Redis", metadata: ["starling.redis.attempt": "\(attempt)"])
                        connection.channel.closeFuture.whenComplete { _ in
                            state.withLockedValue { $0.connectionClosed(attempt: attempt) }
                            logger.debug("Redis connection closed", metadata: ["starling.redis.attempt": "\(attempt)"])
                        }
                        pending.succeed(connection)
                    case .closeConnection:
                        let error = RedisError.closed("the Redis client for \(endpoint) was closed")
                        connection.closeSoon(reason: error)
                        pending.fail(error)
                    }
                case .failure(let error):
                    let failure = Self.connectFailure(error, endpoint: endpoint, timeout: connectTimeout)
                    state.withLockedValue { $0.connectFailed(attempt: attempt, error: failure, now: .now) }
                    logger.debug(
                        "Could not connect to Redis",
                        metadata: [
                            "starling.redis.attempt": "\(attempt)", "starling.redis.error": "\(failure.message)",
                        ]
                    )
                    pending.fail(failure)
                }
            }
    }

    /// Phrases a connection failure as ``RedisError/unavailable``.
    private static func connectFailure(_ error: any Error, endpoint: String, timeout: Duration) -> RedisError {
        let reason: String
        switch error {
        case let error as RedisError where error == .unavailable:
            return .unavailable("cannot connect to Redis at \(endpoint): \(error.message)")
        case let error as RedisError where error == .timeout:
            reason = "no reply to SELECT within \(Self.describe(timeout))"
        case let error as RedisError:
            reason = error.message
        case ChannelError.connectTimeout:
            reason = "connect timed out after \(Self.describe(timeout))"
        case let error as NIOConnectionError:
            if let failure = error.connectionErrors.first {
                reason = "\(failure.error)"
            } else if let dns = error.dnsAError ?? error.dnsAAAAError {
                reason = "cannot resolve '\(error.host)': \(dns)"
            } else {
                reason = "cannot resolve '\(error.host)'"
            }
        default:
            reason = "\(error)"
        }
        return .unavailable("cannot connect to Redis at \(endpoint): \(reason)")
    }

    /// `1 s`, `250 ms`, `1.5 s`.
    static func describe(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        let milliseconds = seconds * 1000 + attoseconds / 1_000_000_000_000_000
        if milliseconds % 1000 == 0 { return "\(milliseconds / 1000) s" }
        if milliseconds < 1000 { return "\(milliseconds) ms" }
        return "\(Double(milliseconds) / 1000) s"
    }
}
