public import Foundation
public import StarlingRedis
import StarlingCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public struct TestSupportError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// A real `redis-server` started by a test as a child process on a free loopback port, with no persistence.
public final class RedisServerProcess: @unchecked Sendable {
    // @unchecked: `process` is only touched from the test's own task.
    static let executable = "/usr/bin/redis-server"

    public let port: Int
    public let directory: URL
    private var process: Process?

    /// Picks a free port (or uses `port`) and makes a temporary directory; ``start()`` starts the server.
    public init(port: Int? = nil) throws {
        guard FileManager.default.isExecutableFile(atPath: Self.executable) else {
            throw TestSupportError(
                "\(Self.executable) is missing: these tests need a real Redis. Install redis-server "
                    + "(`apt-get install redis-server`; scripts/test installs it)."
            )
        }
        self.port = try port ?? freeLoopbackPort()
        self.directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("starling-redis-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: self.directory, withIntermediateDirectories: true)
    }

    /// Starts a server and waits until it answers PING.
    public static func started() async throws -> RedisServerProcess {
        let server = try RedisServerProcess()
        try await server.start()
        return server
    }

    public var url: String { "redis://127.0.0.1:\(self.port)" }

    public func configuration(
        database: Int = 0,
        commandTimeout: Duration = .seconds(1),
        maximumReconnectBackoff: Duration = .milliseconds(200)
    ) -> RedisClient.Configuration {
        RedisClient.Configuration(
            host: "127.0.0.1",
            port: self.port,
            database: database,
            commandTimeout: commandTimeout,
            connectTimeout: .seconds(1),
            maximumReconnectBackoff: maximumReconnectBackoff
        )
    }

    public func start() async throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.executable)
        process.arguments = [
            "--port", "\(self.port)", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--dir", self.directory.path,
        ]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        self.process = process

        // Wait until PING answers, with a client of our own (short timeouts, quick retries).
        let probe = RedisClient(
            configuration: self.configuration(
                commandTimeout: .milliseconds(500),
                maximumReconnectBackoff: .milliseconds(20)
            )
        )
        // Generous: a server that answers returns at once; only a machine under heavy load is slow to start one.
        let deadline = ContinuousClock.now + .seconds(60)
        var answered = false
        while !answered, process.isRunning, ContinuousClock.now < deadline {
            answered = (try? await probe.ping()) != nil
            if !answered { try? await Task.sleep(for: .milliseconds(20)) }
        }
        await probe.close()
        guard answered else {
            if !process.isRunning {
                throw TestSupportError(
                    "redis-server on port \(self.port) exited with status \(process.terminationStatus)"
                )
            }
            throw TestSupportError("redis-server on port \(self.port) did not answer PING within 60 s")
        }
    }

    // The server is stopped with SIGKILL: it keeps nothing on disk, and a child started by `Process` here inherits
    // a signal mask blocking SIGTERM, so `terminate()` would not stop it. `waitUntilExit()` is avoided too: it spins
    // a run loop at full CPU.

    /// Kills the server with SIGKILL and waits until it has exited (so that its port is free).
    public func killAndWait() async {
        guard let process = self.process else { return }
        kill(process.processIdentifier, SIGKILL)
        try? await waitForExit(of: process, timeout: .seconds(10))
        self.process = nil
    }

    /// Kills the server with SIGKILL without waiting, for `defer`.
    public func stop() {
        guard let process = self.process else { return }
        kill(process.processIdentifier, SIGKILL)
        self.process = nil
    }

    deinit {
        self.stop()
        try? FileManager.default.removeItem(at: self.directory)
    }
}

/// A TCP port on 127.0.0.1 that nothing listens on right now.
public func freeLoopbackPort() throws -> Int {
    try LoopbackPort.free()
}
