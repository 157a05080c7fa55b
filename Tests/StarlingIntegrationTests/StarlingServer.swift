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
    private let environment: [String: String]
    private let logLevel: String
    private let standardError: String?

    /// The built binary: `$STARLING_BINARY`, or the package's debug build.
    static var binaryPath: String {
        if let path = ProcessInfo.processInfo.environment["STARLING_BINARY"] { return path }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        return root.appendingPathComponent(".build/debug/starling").path
    }

    /// - Parameters:
    ///   - environment: Variables set for the server besides the test's own.
    ///   - logLevel: `--log-level` (`warning` unless a test reads the log).
    ///   - standardError: A file that receives the server's standard error (its log), or `nil` for the test's own.
    init(
        dataDirectory: String,
        extraArguments: [String] = [],
        environment: [String: String] = [:],
        logLevel: String = "warning",
        standardError: String? = nil
    ) throws {
        self.port = try freeLoopbackPort()
        self.dataDirectory = dataDirectory
        self.extraArguments = extraArguments
        self.environment = environment
        self.logLevel = logLevel
        self.standardError = standardError
    }

    /// Starts the binary and waits until `/ready` answers 200; returns the time from launch to ready.
    @discardableResult
    func start() async throws -> Duration {
        guard FileManager.default.isExecutableFile(atPath: Self.binaryPath) else {
            throw ServerError("no starling binary at \(Self.binaryPath): run `swift build` first (scripts/test does)")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.binaryPath)
        process.arguments =
            ["serve", "--port", "\(self.port)", "--data-dir", self.dataDirectory, "--log-level", self.logLevel]
            + self.extraArguments
        process.standardOutput = FileHandle.nullDevice
        process.environment = ProcessInfo.processInfo.environment.merging(self.environment) { $1 }
        if let path = self.standardError {
            guard FileManager.default.createFile(atPath: path, contents: nil),
                let file = FileHandle(forWritingAtPath: path)
            else { throw ServerError("cannot write the server's log to \(path)") }
            process.standardError = file
        }
        let launched = ContinuousClock.now
        try process.run()
        self.process = process
        let port = self.port
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            guard process.isRunning else { throw ServerError("the server on port \(port) exited while starting") }
            // A raw connection that the client closes: readiness polls leave no connection behind on the server.
            // Its blocking reads run on a thread of their own, not on the cooperative pool.
            let ready = await onOwnThread { () -> Bool in
                guard let connection = try? RawConnection(port: port) else { return false }
                connection.send("GET /ready HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                let (response, _) = connection.readUntilClosed(timeout: .seconds(10))
                connection.close()
                return response.hasPrefix("HTTP/1.1 200")
            }
            if ready { return ContinuousClock.now - launched }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw ServerError("server on port \(port) did not become ready within 60 s")
    }

    /// Kills the server with SIGKILL (no shutdown, no flush, no final checkpoint) and waits until it has exited.
    func kill9() async throws {
        guard let process = self.process else { return }
        kill(process.processIdentifier, SIGKILL)
        self.process = nil
        try await waitForExit(of: process)
    }

    /// Stops the server with SIGTERM and waits until it has exited.
    func stop() async throws {
        guard let process = self.process else { return }
        process.terminate()
        self.process = nil
        try await waitForExit(of: process)
    }

    /// A server the test did not stop (it failed before) is killed; nothing waits for it.
    deinit {
        if let process = self.process { kill(process.processIdentifier, SIGKILL) }
    }

    /// Sends a request on `session`; the body and the HTTP response.
    private func exchange(
        _ method: String,
        _ path: String,
        body: String?,
        contentType: String = "application/json",
        headers: [String: String] = [:],
        timeout: TimeInterval = 10,
        session: URLSession = .shared
    ) async throws -> (Data, HTTPURLResponse?) {
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(self.port)\(path)")!)
        request.httpMethod = method
        request.timeoutInterval = timeout
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        if let body {
            request.httpBody = Data(body.utf8)
            request.setValue(contentType, forHTTPHeaderField: "Content-Type")
        }
        let (data, response) = try await session.data(for: request)
        return (data, response as? HTTPURLResponse)
    }

    /// Sends a request; returns the status and the body.
    func request(_ method: String, _ path: String, body: String? = nil, contentType: String = "application/json")
        async throws -> (Int, Data)
    {
        let (data, http) = try await self.exchange(method, path, body: body, contentType: contentType)
        return (http?.statusCode ?? 0, data)
    }

    /// Up to 64 connections to one host (the shared session opens only a few), for tests that load the server from
    /// many clients at once.
    static let loadSession: URLSession = {
        let configuration = URLSessionConfiguration.ephemeral
        configuration.httpMaximumConnectionsPerHost = 64
        configuration.timeoutIntervalForRequest = 30
        return URLSession(configuration: configuration)
    }()

    /// An answer with its headers.
    struct Answer: Sendable {
        var status: Int
        var retryAfter: String?
        var contentType: String?
        var body: Data
        var json: JSONValue? { try? JSONScanner.parse([UInt8](self.body)) }
    }

    /// Sends a request on ``loadSession``; the answer with its `Retry-After` and `Content-Type` headers.
    func send(_ method: String, _ path: String, body: String? = nil) async throws -> Answer {
        let (data, http) = try await self.exchange(method, path, body: body, timeout: 30, session: Self.loadSession)
        return Answer(
            status: http?.statusCode ?? 0,
            retryAfter: http?.value(forHTTPHeaderField: "Retry-After"),
            contentType: http?.value(forHTTPHeaderField: "Content-Type"),
            body: data
        )
    }

    /// The processor's lag in records, from `/metrics`.
    func lag() async throws -> Int64? {
        let (_, metrics) = try await self.request("GET", "/metrics")
        for line in String(decoding: metrics, as: UTF8.self).split(separator: "\n")
        where line.hasPrefix("starling_processor_lag_records ") {
            return line.split(separator: " ").last.flatMap { Double($0) }.map { Int64($0) }
        }
        return nil
    }

    /// Sends a request; returns the status, the body and the response's headers.
    func response(_ method: String, _ path: String, body: String? = nil, headers: [String: String] = [:]) async throws
        -> (status: Int, body: Data, headers: [String: String])
    {
        let (data, http) = try await self.exchange(method, path, body: body, headers: headers)
        var headers: [String: String] = [:]
        for (name, value) in http?.allHeaderFields ?? [:] {
            headers["\(name)".lowercased()] = "\(value)"
        }
        return (http?.statusCode ?? 0, data, headers)
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

/// Runs `executable` until it exits; returns its exit status and its standard output and error.
func runToEnd(_ executable: String, _ arguments: [String]) async throws -> (Int32, String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let output = Pipe()
    process.standardOutput = output
    process.standardError = output
    try process.run()
    let reader = output.fileHandleForReading
    let data = await onOwnThread { reader.readDataToEndOfFile() }
    try await waitForExit(of: process)
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}

/// Checks a metrics exposition with `promtool check metrics` (every metric needs HELP and TYPE lines).
func expectPromtoolAccepts(_ metrics: Data, sourceLocation: SourceLocation = #_sourceLocation) async throws {
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
    let reader = output.fileHandleForReading
    let report = String(decoding: await onOwnThread { reader.readDataToEndOfFile() }, as: UTF8.self)
    try await waitForExit(of: process)
    #expect(process.terminationStatus == 0, "promtool: \(report)", sourceLocation: sourceLocation)
}

/// A raw TCP connection to the server: what a stalled or idle client looks like.
///
/// Its reads block; tests run them with `onOwnThread`, one at a time (hence `@unchecked Sendable`).
final class RawConnection: @unchecked Sendable {
    private var descriptor: Int32

    init(port: Int) throws {
        self.descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard self.descriptor >= 0 else { throw ServerError("socket() failed: errno \(errno)") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(self.descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else { throw ServerError("connect() failed: errno \(errno)") }
    }

    func send(_ text: String) {
        _ = text.utf8CString.withUnsafeBufferPointer { Glibc.send(self.descriptor, $0.baseAddress, $0.count - 1, 0) }
    }

    /// Reads until the server closes the connection or `timeout` passes: the bytes read, and whether it closed.
    func readUntilClosed(timeout: Duration) -> (text: String, closed: Bool) {
        self.setReceiveTimeout(timeout)
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4_096)
        while true {
            let count = recv(self.descriptor, &buffer, buffer.count, 0)
            if count == 0 { return (String(decoding: received, as: UTF8.self), true) }
            if count < 0 { return (String(decoding: received, as: UTF8.self), errno == ECONNRESET) }
            received.append(contentsOf: buffer[0..<count])
        }
    }

    /// Reads until `marker` arrives or `timeout` passes.
    func read(until marker: String, timeout: Duration) -> String? {
        self.setReceiveTimeout(timeout)
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4_096)
        while true {
            let count = recv(self.descriptor, &buffer, buffer.count, 0)
            guard count > 0 else { return nil }
            received.append(contentsOf: buffer[0..<count])
            let text = String(decoding: received, as: UTF8.self)
            if text.contains(marker) { return text }
        }
    }

    /// Each `recv` returns after at most `timeout` without data.
    private func setReceiveTimeout(_ timeout: Duration) {
        let (seconds, attoseconds) = timeout.components
        var limit = timeval(tv_sec: Int(seconds), tv_usec: Int(attoseconds / 1_000_000_000_000))
        setsockopt(self.descriptor, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
    }

    /// Closes the connection (idempotent).
    func close() {
        guard self.descriptor >= 0 else { return }
        _ = Glibc.close(self.descriptor)
        self.descriptor = -1
    }

    deinit {
        self.close()
    }
}
