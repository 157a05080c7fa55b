import StarlingCore
import StarlingEventLog
import StarlingStream
import StarlingTestSupport
import Testing

/// Issue 9, part 3: retention must never delete what the processor has not checkpointed — it replays from its
/// checkpoint after a restart. The processor commits its checkpoint's positions to its consumer group, and the log
/// names that group in ``SegmentedEventLog/Configuration/retentionGroups`` (as `starling serve` does).
struct ProcessorRetentionTests {
    @Test func retentionWaitsForTheProcessorsCheckpoint() async throws {
        let directory = TemporaryDirectory()
        var configuration = SegmentedEventLog.Configuration(
            directory: "\(directory.path)/log", topics: ["views": 1], segmentBytes: 1_024, retentionBytes: 2_048,
            retentionGroups: ["starling-processor"])
        configuration.maintenance = .manual
        let views = TopicPartition(topic: "views", partition: 0)
        let checkpoints = MemoryCheckpointStore()
        let log = try SegmentedEventLog.open(configuration: configuration, logger: testLogger)
        let deduplication = DeduplicationIndex()
        let service = IngestService(log: log, deduplication: deduplication, decoder: IngestBatchDecoder())
        let processor = StreamProcessor(
            log: log,
            deduplication: deduplication,
            checkpoints: checkpoints,
            configuration: .init(checkpointInterval: .seconds(3_600)),
            logger: testLogger
        )
        try await withRunningProcessor(processor) {
            for k in 0..<100 {
                _ = try await service.ingest(
                    [.success(event(.view, user: "user-\(k % 7)", item: "item-\(k)", at: Int64(k)))], receivedAt: .now())
            }
            try await eventually("100 events applied") { processor.appliedCount == 100 }
            // Applied but not checkpointed: a restart would replay these segments, so none may go.
            let pass = await log.enforceRetention()
            #expect(pass.deleted.isEmpty)
            #expect((pass.held[views] ?? 0) > 0)
        }
        // Stopping wrote the final checkpoint and committed its positions: now retention may delete.
        #expect(try await checkpoints.load()?.positions[views] == 100)
        let pass = await log.enforceRetention()
        #expect(!pass.deleted.isEmpty)
        #expect(pass.held.isEmpty)
        #expect(log.startOffsets()[views]! > 0)

        // A restarted processor resumes from its checkpoint and finds nothing missing.
        let restarted = StreamProcessor(
            log: log,
            deduplication: DeduplicationIndex(),
            checkpoints: checkpoints,
            configuration: .init(checkpointInterval: .seconds(3_600)),
            logger: testLogger
        )
        try await withRunningProcessor(restarted) {
            try await eventually("recovered") { restarted.isRecovered }
            #expect(restarted.lag() == 0)
            #expect(restarted.appliedCount == 0)
        }
        await log.close()
    }
}
