import Logging
import NIOCore

/// A command, or a pipeline of commands, on its way to a connection's ``RedisChannelHandler``.
struct RedisRequest: Sendable {
    /// The encoded command(s).
    var bytes: ByteBuffer
    /// How many replies complete the request: 1 for a command, n for a pipeline of n.
    var replyCount: Int
    /// When the request fails with ``RedisError/timeout`` if its replies have not all arrived.
    var deadline: NIODeadline
    /// The time allowed, for the message.
    var timeout: Duration
    /// Completed with the replies in order.
    var promise: EventLoopPromise<[RESPValue]>
    /// What the request is, for messages: `GET`, or `a pipeline of 3 commands`.
    var name: String
}

/// Asks a connection's handler to fail its in-flight requests with `reason` and close the channel.
struct RedisCloseEvent: Sendable {
    var reason: RedisError
}

/// Writes requests and matches replies to them in order (Redis answers the commands on one connection in the order
/// it received them), so that any number of requests are in flight on one connection.
///
/// Requests are written without a flush each: the first write of an event-loop tick schedules one flush after the
/// tasks already queued, so that the requests of many concurrent callers leave in one system call.
///
/// A request whose replies do not arrive by its deadline fails with ``RedisError/timeout``, and the connection is
/// closed: every later reply is queued behind the late one, so it is the connection that is stuck. A decoding error,
/// an unsolicited reply or the connection closing fails every request in flight.
final class RedisChannelHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = RedisRequest
    typealias OutboundOut = ByteBuffer

    private struct InFlight {
        let id: UInt64
        let name: String
        let deadline: NIODeadline
        let timeout: Duration
        var remaining: Int
        var replies: [RESPValue]
        let promise: EventLoopPromise<[RESPValue]>
        var timer: Scheduled<Void>?
    }

    private var inFlight = CircularBuffer<InFlight>(initialCapacity: 16)
    private var decoder = RESPDecoder()
    private var nextID: UInt64 = 0
    /// Set once the connection is going away; later requests fail with it at once.
    private var failure: RedisError?
    /// Whether a flush is already scheduled for the writes of this tick.
    private var flushScheduled = false
    private let endpoint: String
    private let logger: Logger

    init(endpoint: String, logger: Logger) {
        self.endpoint = endpoint
        self.logger = logger
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let request = Self.unwrapOutboundIn(data)
        if let failure = self.failure {
            request.promise.fail(failure)
            promise?.fail(failure)
            return
        }
        guard request.replyCount > 0 else {
            request.promise.succeed([])
            promise?.succeed()
            return
        }
        let id = self.nextID
        self.nextID &+= 1
        let timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: request.deadline) {
            self.timedOut(id: id, context: context)
        }
        var replies: [RESPValue] = []
        replies.reserveCapacity(request.replyCount)
        self.inFlight.append(
            InFlight(
                id: id,
                name: request.name,
                deadline: request.deadline,
                timeout: request.timeout,
                remaining: request.replyCount,
                replies: replies,
                promise: request.promise,
                timer: timer
            )
        )
        context.write(Self.wrapOutboundOut(request.bytes), promise: promise)
        if !self.flushScheduled {
            self.flushScheduled = true
            context.eventLoop.assumeIsolated().execute {
                self.flushScheduled = false
                // Gone meanwhile (closed or removed): its writes have failed already.
                guard self.failure == nil else { return }
                context.flush()
            }
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard self.failure == nil else { return }
        let buffer = Self.unwrapInboundIn(data)
        buffer.withUnsafeReadableBytes { self.decoder.append($0) }
        do throws(RedisError) {
            while let value = try self.decoder.next() {
                guard var head = self.inFlight.popFirst() else {
                    throw RedisError.protocolError(
                        "unsolicited reply \(value) from \(self.endpoint) with no command in flight "
                            + "(subscriptions and MONITOR are not supported)"
                    )
                }
                head.replies.append(value)
                head.remaining -= 1
                if head.remaining == 0 {
                    head.timer?.cancel()
                    head.promise.succeed(head.replies)
                } else {
                    self.inFlight.prepend(head)
                }
            }
        } catch {
            self.logger.info(
                "Closing the Redis connection after a protocol error",
                metadata: ["starling.redis.endpoint": "\(self.endpoint)", "starling.redis.error": "\(error.message)"]
            )
            self.failAll(error)
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        let cut = self.decoder.hasPartialValue ? " in the middle of a reply" : ""
        self.failAll(.connectionLost("the connection to Redis at \(self.endpoint) was closed\(cut)"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        self.failAll(.connectionLost("the connection to Redis at \(self.endpoint) failed: \(error)"))
        context.close(promise: nil)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.failAll(.connectionLost("the connection to Redis at \(self.endpoint) was closed"))
    }

    func triggerUserOutboundEvent(context: ChannelHandlerContext, event: Any, promise: EventLoopPromise<Void>?) {
        guard let close = event as? RedisCloseEvent else {
            context.triggerUserOutboundEvent(event, promise: promise)
            return
        }
        self.failAll(close.reason)
        context.close(promise: promise)
    }

    /// The timer of request `id` fired.
    private func timedOut(id: UInt64, context: ChannelHandlerContext) {
        // Requests leave only from the front, in id order: request `id` is still waiting iff the front's id is ≤ id.
        guard let first = self.inFlight.first, first.id <= id else { return }
        let now = NIODeadline.now()
        let others = RedisError.connectionLost(
            "the connection to Redis at \(self.endpoint) was closed because an earlier command timed out"
        )
        self.logger.info(
            "Closing the Redis connection after a command timed out",
            metadata: [
                "starling.redis.endpoint": "\(self.endpoint)", "starling.redis.in_flight": "\(self.inFlight.count)",
            ]
        )
        self.failure = others
        while let request = self.inFlight.popFirst() {
            request.timer?.cancel()
            if request.id == id || request.deadline <= now {
                request.promise.fail(
                    RedisError.timeout(
                        "no reply to \(request.name) from Redis at \(self.endpoint) within "
                            + RedisClient.describe(request.timeout)
                    )
                )
            } else {
                request.promise.fail(others)
            }
        }
        context.close(promise: nil)
    }

    /// Fails every request in flight, and every later one, with `error`.
    private func failAll(_ error: RedisError) {
        if self.failure == nil { self.failure = error }
        while let request = self.inFlight.popFirst() {
            request.timer?.cancel()
            request.promise.fail(error)
        }
    }
}

/// An open connection to Redis: a channel whose pipeline ends in a ``RedisChannelHandler``.
final class RedisConnection: Sendable {
    let channel: any Channel
    private let endpoint: String

    init(channel: any Channel, endpoint: String) {
        self.channel = channel
        self.endpoint = endpoint
    }

    /// Sends `request`; its promise is completed with the replies or an error.
    func execute(_ request: RedisRequest) {
        let endpoint = self.endpoint
        // The handler flushes (once per event-loop tick).
        self.channel.write(request).whenFailure { error in
            if let error = error as? RedisError {
                request.promise.fail(error)
            } else {
                request.promise.fail(RedisError.connectionLost("could not write to Redis at \(endpoint): \(error)"))
            }
        }
    }

    /// Fails the in-flight requests with `reason`, closes the channel and waits until it is closed.
    func close(reason: RedisError) async {
        self.channel.triggerUserOutboundEvent(RedisCloseEvent(reason: reason), promise: nil)
        try? await self.channel.closeFuture.get()
    }

    /// Like ``close(reason:)`` without waiting.
    func closeSoon(reason: RedisError) {
        self.channel.triggerUserOutboundEvent(RedisCloseEvent(reason: reason), promise: nil)
    }
}
