import Foundation
import StarlingCore
import StarlingTestSupport
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
#if canImport(Glibc)
import Glibc
#endif

/// The real `starling` binary, started as a child process on a free loopback port.
final class StarlingServer: @unchecked Sendable {
    // @unchecked: `process` is only touched from the test's own task.
    let port: Int
    let dataDirectory: String
    private var process: Process?
    private let extraArguments: [String]

    /// The built binary: `$STARLING_BINARY`, or the package's debug build.
    static var binaryPath: String {
        if let path = ProcessInfo.processInfo.environment["STARLING_BINARY"] { return path }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        return root.appendingPathComponent(".build/debug/starling").path
    }

    init(dataDirectory: String, extraArguments: [String] = []) throws {
        self.port = try freeLoopbackPort()
        self.dataDirectory = dataDirectory
        self.extraArguments = extraArguments
    }

    func start() async throws {
        guard FileManager.default.isExecutableFile(atPath: Self.binaryPath) else {
            throw ServerError("no starling binary at \(Self.binaryPath): run `swift build` first (scripts/test does)")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.binaryPath)
        process.arguments =
            ["serve", "--port", "\(self.port)", "--data-dir", self.dataDirectory, "--log-level", "warning"]
            + self.extraArguments
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        self.process = process
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            if let (status, _) = try? await self.request("GET", "/ready"), status == 200 { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw ServerError("server on port \(self.port) did not become ready")
    }

    /// Kills the server with SIGKILL: no shutdown, no flush, no final checkpoint.
    func kill9() {
        guard let process = self.process else { return }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        self.process = nil
    }

    /// Stops the server with SIGTERM and waits for it to exit.
    func stop() {
        guard let process = self.process else { return }
        process.terminate()
        process.waitUntilExit()
        self.process = nil
    }

    deinit {
        self.kill9()
    }

    /// Sends a request; returns the status and the body.
    func request(_ method: String, _ path: String, body: String? = nil, contentType: String = "application/json")
        async throws -> (Int, Data)
    {
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(self.port)\(path)")!)
        request.httpMethod = method
        request.timeoutInterval = 10
        if let body {
            request.httpBody = Data(body.utf8)
            request.setValue(contentType, forHTTPHeaderField: "Content-Type")
        }
        let (data, response) = try await URLSession.shared.data(for: request)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, data)
    }

    func json(_ method: String, _ path: String, body: String? = nil) async throws -> (Int, JSONValue) {
        let (status, data) = try await self.request(method, path, body: body)
        return (status, try JSONScanner.parse([UInt8](data)))
    }
}

struct ServerError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Checks a metrics exposition with `promtool check metrics` (every metric needs HELP and TYPE lines).
func expectPromtoolAccepts(_ metrics: Data, sourceLocation: SourceLocation = #_sourceLocation) throws {
    let promtool = "/usr/bin/promtool"
    try #require(
        FileManager.default.isExecutableFile(atPath: promtool),
        "promtool is needed (Debian package prometheus; scripts/test installs it)",
        sourceLocation: sourceLocation
    )
    let process = Process()
    process.executableURL = URL(fileURLWithPath: promtool)
    process.arguments = ["check", "metrics"]
    let input = Pipe()
    let output = Pipe()
    process.standardInput = input
    process.standardOutput = output
    process.standardError = output
    try process.run()
    input.fileHandleForWriting.write(metrics)
    try input.fileHandleForWriting.close()
    process.waitUntilExit()
    let report = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    #expect(process.terminationStatus == 0, "promtool: \(report)", sourceLocation: sourceLocation)
}
