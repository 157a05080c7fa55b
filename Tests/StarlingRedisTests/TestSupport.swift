import Foundation
import NIOCore
import NIOPosix
import StarlingRedis
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A TCP server on loopback that is not Redis: it accepts connections and answers each read with `reply`, or
/// never answers when `reply` is `nil`.
final class FakeServer: Sendable {
    let channel: any Channel

    static func start(reply: [UInt8]?) async throws -> FakeServer {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(FakeReplyHandler(reply: reply))
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        return FakeServer(channel: channel)
    }

    private init(channel: any Channel) {
        self.channel = channel
    }

    var port: Int { self.channel.localAddress?.port ?? 0 }

    func close() async {
        try? await self.channel.close()
    }
}

private final class FakeReplyHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let reply: [UInt8]?

    init(reply: [UInt8]?) {
        self.reply = reply
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let reply = self.reply else { return }
        context.writeAndFlush(Self.wrapOutboundOut(context.channel.allocator.buffer(bytes: reply)), promise: nil)
    }
}

/// Runs `body` and returns how long it took and what it threw (or `nil`).
func measure<T>(_ body: () async throws -> T) async -> (elapsed: Duration, error: (any Error)?) {
    let start = ContinuousClock.now
    do {
        _ = try await body()
        return (ContinuousClock.now - start, nil)
    } catch {
        return (ContinuousClock.now - start, error)
    }
}
