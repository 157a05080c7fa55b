import Metrics
import MetricsTestKit
import StarlingCore
import StarlingEventLog
import StarlingModels
import StarlingStream
import StarlingTestSupport
import Testing

/// The real log, except that the retrainer's consumer cannot be made: every retrain fails.
private final class NoRetrainLog: EventLog {
    let log: SegmentedEventLog

    init(_ log: SegmentedEventLog) {
        self.log = log
    }

    var topics: [String] { self.log.topics }
    func partitionCount(of topic: String) -> Int { self.log.partitionCount(of: topic) }
    func endOffsets() -> [TopicPartition: Int64] { self.log.endOffsets() }
    func append(_ records: [LogAppend]) async throws -> [LogPosition] { try await self.log.append(records) }
    func makeConsumer(group: String, topics: [String]) async throws -> SegmentedEventLog.Consumer {
        guard group != "starling-retrain" else { throw EventLogError.io("injected failure") }
        return try await self.log.makeConsumer(group: group, topics: topics)
    }
}

struct ModelRetrainerTests {
    @Test func aFailedRetrainIsCountedAsAFailure() async throws {
        let metrics = TestMetrics()
        let directory = TemporaryDirectory()
        let real = try openLog(directory.path)
        let log = NoRetrainLog(real)
        let processor = StreamProcessor(
            log: log,
            deduplication: DeduplicationIndex(),
            checkpoints: MemoryCheckpointStore(),
            logger: testLogger
        )
        let retrainer = withMetricsFactory(metrics) {
            ModelRetrainer(log: log, processor: processor, configuration: .init(interval: nil), logger: testLogger)
        }
        await retrainer.retrain()
        #expect(retrainer.status.lastError != nil)
        #expect(try metrics.expectCounter("starling_retrains_total", [("result", "failure")]).totalValue == 1)
        #expect(try metrics.expectCounter("starling_retrains_total", [("result", "success")]).totalValue == 0)
        #expect(try metrics.expectGauge("starling_retrain_last_success_timestamp_seconds").lastValue == nil)
        await real.close()
    }

    @Test func withTheIALSTrainerTheLiveRetrainIsAnIALSRefit() async throws {
        let directory = TemporaryDirectory()
        let log = try openLog(directory.path)
        let dedup = DeduplicationIndex()
        let engine = try RecommendationEngine.Configuration(settings: ["trainer=ials", "ials_iterations=5"])
        let processor = StreamProcessor(
            log: log,
            deduplication: dedup,
            checkpoints: MemoryCheckpointStore(),
            catalog: ItemCatalog(),
            configuration: .init(checkpointInterval: .seconds(3_600), engine: engine),
            logger: testLogger
        )
        let retrainer = ModelRetrainer(log: log, processor: processor, configuration: .init(interval: nil), logger: testLogger)
        try await withRunningProcessor(processor) {
            // Two tastes: users 0–9 like a and b, users 10–19 like x and y.
            var events: [Event] = []
            for u in 0..<20 {
                let items = u < 10 ? ["a", "b"] : ["x", "y"]
                for (k, item) in items.enumerated() { events.append(event(.like, user: "u\(u)", item: item, at: Int64(u * 10 + k))) }
            }
            let service = IngestService(log: log, deduplication: dedup, decoder: IngestBatchDecoder())
            _ = try await service.ingest(events.map { .success($0) }, receivedAt: .now())
            try await eventually("40 applied") { processor.appliedCount == 40 }
            #expect(processor.engine.read { $0.implicitFoldIn?.feedback.users.count } == 20)
            await retrainer.retrain()
            #expect(retrainer.status.completed == 1)
            #expect(retrainer.status.lastError == nil)
            #expect(processor.engine.read { $0.modelVersion } == 1)
            // After the refit a new user who likes a is folded in and gets b from the embedding alone.
            _ = try await service.ingest([.success(event(.like, user: "new", item: "a", at: 1_000))], receivedAt: .now())
            try await eventually("41 applied") { processor.appliedCount == 41 }
            let top = processor.engine.read { $0.recommend(user: "new", count: 1, source: .embedding) }
            #expect(top.first?.item == "b")
        }
        await log.close()
    }

    @Test func onDemandRetrainsAreRefusedWhileOneIsQueuedAndSoonAfterOneEnded() async throws {
        let directory = TemporaryDirectory()
        let log = try openLog(directory.path)
        let processor = StreamProcessor(
            log: log,
            deduplication: DeduplicationIndex(),
            checkpoints: MemoryCheckpointStore(),
            logger: testLogger
        )
        let patient = ModelRetrainer(
            log: log,
            processor: processor,
            configuration: .init(interval: nil, minimumInterval: .seconds(3_600)),
            logger: testLogger
        )
        try await withRunningProcessor(processor) {
            #expect(patient.requestRetrain() == .started)
            #expect(patient.requestRetrain() == .alreadyRunning)
            await patient.retrain()
            #expect(patient.status.completed == 1)
            guard case .tooSoon(let retryAfter) = patient.requestRetrain() else {
                Issue.record("a request right after a retrain ended was not refused")
                return
            }
            #expect(retryAfter > .seconds(3_000) && retryAfter <= .seconds(3_600))

            let eager = ModelRetrainer(
                log: log,
                processor: processor,
                configuration: .init(interval: nil, minimumInterval: .zero),
                logger: testLogger
            )
            await eager.retrain()
            #expect(eager.requestRetrain() == .started)
        }
        await log.close()
    }
}
