import Foundation
import StarlingClient
import StarlingCore
import StarlingTestSupport
import Testing

/// API keys with the released binary: keys made by `starling keys create`, given to `starling serve` by file or
/// environment, and what a client with each kind of key gets.
@Suite(.serialized)
struct APIKeyTests {
    /// Runs `starling ARGUMENTS`; its standard output, trimmed, and its exit status.
    private func starling(_ arguments: [String], environment: [String: String] = [:]) async throws
        -> (output: String, status: Int32)
    {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: StarlingServer.binaryPath)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let data = await onOwnThread { output.fileHandleForReading.readDataToEndOfFile() }
        try await waitForExit(of: process)
        return (String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines),
                process.terminationStatus)
    }

    private func directory() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("starling-keys-\(UUID())").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    @Test func keysMadeByTheCLIGuardTheServer() async throws {
        let directory = try self.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let file = "\(directory)/keys.json"
        let secret = try await self.starling(["keys", "create", "--kind", "secret", "--name", "backend", "--file", file])
        #expect(secret.status == 0 && secret.output.hasPrefix("sk_"))
        let publishable = try await self.starling([
            "keys", "create", "--kind", "publishable", "--name", "web", "--origin", "https://shop.example",
            "--file", file,
        ])
        #expect(publishable.status == 0 && publishable.output.hasPrefix("pk_"))
        let document = try String(contentsOfFile: file, encoding: .utf8)
        #expect(!document.contains(secret.output) && !document.contains(publishable.output), "only hashes are stored")
        let mode = try FileManager.default.attributesOfItem(atPath: file)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        let duplicate = try await self.starling(["keys", "create", "--kind", "secret", "--name", "web", "--file", file])
        #expect(duplicate.status != 0 && duplicate.output.contains("two keys are named 'web'"))

        let server = try StarlingServer(dataDirectory: "\(directory)/data", extraArguments: ["--api-keys", file])
        try await server.start()
        let event = #"{"events": [{"type": "like", "user": "ada", "item": "dune"}]}"#
        #expect(try await server.response("POST", "/v1/events", body: event).status == 401)
        let sent = try await server.response(
            "POST", "/v1/events", body: event,
            headers: ["Authorization": "Bearer \(publishable.output)", "Origin": "https://shop.example"]
        )
        #expect(sent.status == 200)
        #expect(sent.headers["access-control-allow-origin"] == "https://shop.example")
        let forbidden = try await server.response(
            "GET", "/v1/users/ada", headers: ["Authorization": "Bearer \(publishable.output)"]
        )
        #expect(forbidden.status == 403)
        let profile = try await server.response("GET", "/v1/users/ada", headers: ["Authorization": "Bearer \(secret.output)"])
        #expect(profile.status == 200)
        #expect(try JSONScanner.parse([UInt8](profile.body))["version"]?.int == 1)

        // The Swift SDK: without a key its events stay queued and flush says why; with the app's key they go out.
        let queue = URL(fileURLWithPath: "\(directory)/queue")
        let base = URL(string: "http://127.0.0.1:\(server.port)")!
        let keyless = try StarlingClient(configuration: .init(baseURL: base, queueDirectory: queue))
        try await keyless.track(StarlingEvent(type: "view", user: "ada", item: "alien"))
        await #expect(throws: StarlingClientError.self) { try await keyless.flush() }
        #expect(await keyless.pendingCount == 1)
        let app = try StarlingClient(configuration: .init(baseURL: base, apiKey: publishable.output, queueDirectory: queue))
        #expect(await app.pendingCount == 1)
        try await app.flush()
        let after = try await server.response("GET", "/v1/users/ada", headers: ["Authorization": "Bearer \(secret.output)"])
        #expect(try JSONScanner.parse([UInt8](after.body))["event_count"]?.int == 2)
        try await server.stop()
    }

    @Test func keysCanComeFromTheEnvironment() async throws {
        let directory = try self.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let file = "\(directory)/keys.json"
        let secret = try await self.starling(["keys", "create", "--kind", "secret", "--name", "ops", "--file", file])
        let server = try StarlingServer(
            dataDirectory: "\(directory)/data",
            extraArguments: ["--protect-metrics"],
            environment: ["STARLING_API_KEYS": try String(contentsOfFile: file, encoding: .utf8)]
        )
        try await server.start()
        #expect(try await server.response("GET", "/metrics").status == 401)
        #expect(try await server.response("GET", "/metrics", headers: ["Authorization": "Bearer \(secret.output)"]).status == 200)
        #expect(try await server.response("GET", "/health").status == 200)
        try await server.stop()
        // Keys from both places is a mistake, named before anything starts.
        let both = try await self.starling(
            ["serve", "--api-keys", file, "--port", "\(try freeLoopbackPort())", "--data-dir", "\(directory)/other"],
            environment: ["STARLING_API_KEYS": try String(contentsOfFile: file, encoding: .utf8)]
        )
        #expect(both.status != 0)
        #expect(both.output.contains("give API keys by --api-keys or STARLING_API_KEYS, not both"))
    }
}
