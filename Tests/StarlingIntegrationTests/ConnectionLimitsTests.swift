import Foundation
import StarlingTestSupport
import Testing

struct ConnectionLimitsTests {
    private static func directory() -> String {
        NSTemporaryDirectory() + "starling-connections-\(UUID().uuidString)"
    }

    @Test func idleAndStalledConnectionsAreClosedAfterTheIdleTimeout() async throws {
        let server = try StarlingServer(dataDirectory: Self.directory(), extraArguments: ["--idle-timeout-seconds", "0.5"])
        try await server.start()
        let idle = try RawConnection(port: server.port)
        let stalled = try RawConnection(port: server.port)
        stalled.send("POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"ev")
        // Generous bounds: the server closes each after about 0.5 s of silence.
        #expect(await onOwnThread { idle.readUntilClosed(timeout: .seconds(30)).closed })
        #expect(await onOwnThread { stalled.readUntilClosed(timeout: .seconds(30)).closed })
        // A client that speaks is served as usual.
        let (status, _) = try await server.request("GET", "/health")
        #expect(status == 200)
        try await server.stop()
    }

    @Test func connectionsBeyondTheLimitWaitUntilOneCloses() async throws {
        let server = try StarlingServer(dataDirectory: Self.directory(), extraArguments: ["--max-connections", "2"])
        try await server.start()
        let holders = [try RawConnection(port: server.port), try RawConnection(port: server.port)]
        // Both holders are accepted and served.
        for holder in holders {
            holder.send("GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(await onOwnThread { holder.read(until: "\r\n\r\n", timeout: .seconds(30)) } != nil)
        }
        let third = try RawConnection(port: server.port)
        third.send("GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        // While two connections are open, the third is not accepted. (A short look: on a slow machine this can only
        // miss a violation, never fail a correct server.)
        #expect(await onOwnThread { third.read(until: "\r\n\r\n", timeout: .milliseconds(300)) } == nil)
        holders[0].close()
        #expect(await onOwnThread { third.read(until: "200 OK", timeout: .seconds(30)) } != nil)
        try await server.stop()
    }
}
