import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import StarlingCore
import StarlingEventLog
import StarlingHTTP
import StarlingModels
import StarlingServer
import StarlingServing
import StarlingStream
import Testing

/// A real log in a temporary directory, a running processor, and the API router in front of them: the application
/// `starling serve --role all` builds (``ProcessorRole``), with the settings below.
struct APIFixture {
    var maxBodyBytes = 1 << 20
    var maxPendingBytes = 64 << 20
    var maxEvents = 10_000
    /// Overrides the processor's recovery state as seen by the API.
    var forceRecovering = false
    /// Caches recommendation lists for this long (no cache when `nil`).
    var cacheTTL: Duration? = nil
    /// Which events invalidate cached lists.
    var invalidation = CacheInvalidation.everyEvent
    /// The longest a request waits for the user's acknowledged events.
    var readYourWritesTimeout = Duration.seconds(5)
    /// Scripted `fsync` failures of the log.
    var syncFaults: FileSyncFaults? = nil
    /// Scripted full-disk write failures of the log.
    var writeFaults: FileWriteFaults? = nil
    /// API keys and CORS.
    var security = HTTPSecurity.open
    /// The application's logger (requests log with it).
    var logger = Logger(label: "starling.test")
    /// The dashboard's series (`GET /v1/stats`).
    var stats: LiveStats? = nil

    /// The server's configuration: two partitions per topic, retraining on request only (two epochs) and no
    /// background precomputation, so that tests see only the requests they make.
    func configuration(directory: String) -> ServerConfiguration {
        var configuration = ServerConfiguration(
            http: .init(host: "127.0.0.1", port: 0, maxBodyBytes: self.maxBodyBytes, security: self.security),
            storage: .init(directory: directory, partitions: 2, maxPendingBytes: self.maxPendingBytes),
            processing: .init(maxEventsPerBatch: self.maxEvents, retrainInterval: nil, retrainEpochs: 2),
            serving: .init(
                cacheTimeToLive: self.cacheTTL ?? .zero,
                invalidation: self.invalidation,
                readYourWritesTimeout: self.readYourWritesTimeout,
                precomputePerSecond: 0
            )
        )
        configuration.storage.syncFaults = self.syncFaults
        configuration.storage.writeFaults = self.writeFaults
        return configuration
    }

    func run(
        _ mode: TestingSetup = .router,
        _ test: @Sendable (any TestClientProtocol, StreamProcessor<SegmentedEventLog>) async throws -> Void
    ) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("starling-http-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let logger = self.logger
        var role = try ProcessorRole(
            configuration: self.configuration(directory: directory),
            metricsText: { "" },
            logger: logger
        )
        if self.forceRecovering {
            role.components.readiness = { (false, false, 0) }
            role.components.isRecovered = { false }
        }
        let processor = role.processor
        do {
            // The application runs the role's services (log, processor, retrainer) and stops them gracefully.
            try await role.application(logger: logger, stats: self.stats).test(mode) { client in
                while !processor.isRecovered { try await Task.sleep(for: .milliseconds(1)) }
                try await test(client, processor)
            }
        } catch {
            await role.log.close()
            throw error
        }
        await role.log.close()
    }
}

extension TestClientProtocol {
    func postEvents(_ body: String, contentType: String = "application/json") async throws -> TestResponse {
        try await self.execute(
            uri: "/v1/events",
            method: .post,
            headers: [.contentType: contentType],
            body: ByteBuffer(string: body)
        )
    }

    /// Sends `body` with `Content-Type: application/json`.
    func sendJSON(_ method: HTTPRequest.Method, _ uri: String, _ body: String) async throws -> TestResponse {
        try await self.execute(
            uri: uri,
            method: method,
            headers: [.contentType: "application/json"],
            body: ByteBuffer(string: body)
        )
    }

    func getJSON(_ uri: String) async throws -> (HTTPResponse.Status, JSONValue) {
        let response = try await self.execute(uri: uri, method: .get)
        return (response.status, try JSONScanner.parse(String(buffer: response.body)))
    }
}

extension TestResponse {
    var json: JSONValue {
        get throws { try JSONScanner.parse(String(buffer: self.body)) }
    }
}

