import Foundation
import StarlingCore
import StarlingEvaluation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `starling serve` run by this binary as a child process, on a free loopback port with a temporary data directory,
/// for evaluation through the API. Its output goes to `server.log` in that directory, whose tail is shown when it
/// fails to start; ``stop()`` ends it (SIGTERM) and removes the directory.
final class LocalServer {
    /// `http://127.0.0.1:<port>`.
    let url: String
    /// The temporary directory holding the data directory and the server's log.
    let directory: String
    private let process: Process

    /// Starts the server and waits until `GET /ready` answers 200.
    ///
    /// - Parameters:
    ///   - arguments: Arguments after `serve --host 127.0.0.1 --port P --data-dir D --log-level warning` (later
    ///     ones win, so they may override those).
    ///   - timeoutSeconds: How long to wait for readiness.
    /// - Throws: ``EvalError`` naming what failed, with the tail of the server's log.
    static func start(arguments: [String], timeoutSeconds: Double = 60) throws -> LocalServer {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("starling-eval-api-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let port = try Self.freeLoopbackPort()
        let logPath = directory + "/server.log"
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        guard let log = FileHandle(forWritingAtPath: logPath) else {
            throw EvalError("cannot write the server log \(logPath)")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.executablePath)
        process.arguments =
            [
                "serve", "--host", "127.0.0.1", "--port", "\(port)", "--data-dir", directory + "/data",
                "--log-level", "warning",
            ] + arguments
        process.standardOutput = log
        process.standardError = log
        process.standardInput = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            throw EvalError("cannot start \(Self.executablePath) serve: \(error)")
        }
        let server = LocalServer(url: "http://127.0.0.1:\(port)", directory: directory, process: process)
        let deadline = ContinuousClock.now + .seconds(timeoutSeconds)
        var client: StarlingAPIClient?
        while ContinuousClock.now < deadline {
            guard process.isRunning else {
                let tail = server.logTail()
                server.stop()
                throw EvalError(
                    "the server exited with status \(process.terminationStatus) before it was ready; its log ends with:\n\(tail)"
                )
            }
            if client == nil { client = try? StarlingAPIClient(url: server.url) }
            if let client, client.isReady() { return server }
            usleep(50_000)
        }
        let tail = server.logTail()
        server.stop()
        throw EvalError("the server on \(server.url) was not ready after \(Int(timeoutSeconds)) s; its log ends with:\n\(tail)")
    }

    private init(url: String, directory: String, process: Process) {
        self.url = url
        self.directory = directory
        self.process = process
    }

    /// Stops the server (SIGTERM, then waits) and removes its directory.
    func stop() {
        if self.process.isRunning {
            self.process.terminate()
            self.process.waitUntilExit()
        }
        try? FileManager.default.removeItem(atPath: self.directory)
    }

    /// The last lines of the server's log.
    func logTail(lines: Int = 20) -> String {
        let text = (try? String(contentsOfFile: self.directory + "/server.log", encoding: .utf8)) ?? ""
        return text.split(separator: "\n", omittingEmptySubsequences: false).suffix(lines).joined(separator: "\n")
    }

    /// This binary's path (the server is the same `starling`).
    static var executablePath: String {
        #if os(Linux)
        if let resolved = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            return resolved
        }
        #endif
        return Bundle.main.executablePath ?? CommandLine.arguments[0]
    }

    /// A loopback TCP port that was free a moment ago.
    static func freeLoopbackPort() throws -> Int {
        do {
            return try LoopbackPort.free()
        } catch {
            throw EvalError(error.description)
        }
    }
}
