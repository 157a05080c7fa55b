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
import StarlingServing
import StarlingStream
import Testing

/// A real log in a temporary directory, a running processor, and the API router in front of them.
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

    func run(
        _ mode: TestingSetup = .router,
        _ test: @Sendable (any TestClientProtocol, StreamProcessor<SegmentedEventLog>) async throws -> Void
    ) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("starling-http-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let logger = Logger(label: "starling.test")
        var topics = Dictionary(uniqueKeysWithValues: EventSchema().topics.map { ($0, 2) })
        topics[CatalogService<SegmentedEventLog>.topic] = 2
        let catalog = ItemCatalog()
        let invalidation = self.invalidation
        let cache = self.cacheTTL.map {
            RecommendationCache(configuration: .init(timeToLive: $0, invalidation: invalidation, render: Responses.renderItems))
        }
        let acknowledgements = AcknowledgedEvents()
        let log = try SegmentedEventLog.open(
            configuration: .init(directory: directory, topics: topics, maxPendingBytes: self.maxPendingBytes),
            logger: logger
        )
        let profiles = MemoryProfileStore()
        let dedup = DeduplicationIndex()
        let processor = StreamProcessor(
            log: log,
            profiles: profiles,
            deduplication: dedup,
            checkpoints: MemoryCheckpointStore(),
            catalog: catalog,
            logger: logger,
            acknowledgements: acknowledgements
        )
        let forceRecovering = self.forceRecovering
        let retrainer = ModelRetrainer(
            log: log,
            processor: processor,
            configuration: .init(interval: nil, trainer: .init(epochs: 2)),
            logger: logger
        )
        let components = APIComponents(
            ingest: IngestService(
                log: log,
                deduplication: dedup,
                decoder: IngestBatchDecoder(maxEvents: self.maxEvents),
                acknowledgements: [acknowledgements],
                backlog: processor.backlog
            ),
            recommendations: RecommendationService(
                profiles: profiles,
                trending: processor.trending,
                engine: processor.engine,
                catalog: catalog,
                cache: cache,
                readYourWrites: .init(acknowledgements: acknowledgements, timeout: self.readYourWritesTimeout)
            ),
            readiness: {
                forceRecovering ? (false, false, 0) : (processor.isReady, processor.isRecovered, processor.lag())
            },
            metricsText: { "" },
            maxBodyBytes: self.maxBodyBytes,
            models: ModelsController(
                status: {
                    .init(
                        modelVersion: processor.engine.read { $0.modelVersion },
                        retraining: retrainer.status.running,
                        retrainsCompleted: retrainer.status.completed,
                        lastRetrainSeconds: nil,
                        lastInteractions: retrainer.status.lastInteractions,
                        lastError: retrainer.status.lastError
                    )
                },
                requestRetrain: { retrainer.requestRetrain() }
            ),
            catalog: CatalogService(log: log, catalog: catalog)
        )
        let app = Application(router: buildRouter(components), configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await processor.run() }
            group.addTask { try? await retrainer.run() }
            do {
                while !processor.isRecovered { try await Task.sleep(for: .milliseconds(1)) }
                try await app.test(mode) { client in try await test(client, processor) }
            } catch {
                group.cancelAll()
                await log.close()
                throw error
            }
            group.cancelAll()
            try await group.waitForAll()
        }
        await log.close()
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

/// Polls until `condition` holds, for up to 10 s.
func eventually(_ what: String, sourceLocation: SourceLocation = #_sourceLocation, _ condition: () async throws -> Bool)
    async throws
{
    let deadline = ContinuousClock.now + .seconds(10)
    while ContinuousClock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(5))
    }
    Issue.record("timed out waiting for \(what)", sourceLocation: sourceLocation)
}
