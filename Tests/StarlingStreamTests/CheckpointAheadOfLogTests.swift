import Foundation
import StarlingCore
import StarlingEventLog
import StarlingStream
import StarlingTestSupport
import Testing

/// Issue 9, part 3: a checkpoint whose positions lie beyond the end of the log — recovery truncated a partition
/// after the checkpoint was written (a power loss with buffered durability, or a damaged tail no journal covered).
/// New events then reuse the lost offsets; a processor that seeks to the checkpoint's positions skips them silently
/// and reports lag 0.
struct CheckpointAheadOfLogTests {
    static let views = TopicPartition(topic: "views", partition: 0)

    private func makeProcessor(
        _ log: SegmentedEventLog,
        _ checkpoints: any CheckpointStore,
        _ deduplication: DeduplicationIndex
    ) -> StreamProcessor<SegmentedEventLog> {
        StreamProcessor(
            log: log,
            deduplication: deduplication,
            checkpoints: checkpoints,
            configuration: .init(checkpointInterval: .seconds(3_600)),
            logger: testLogger
        )
    }

    private func ingest(_ log: SegmentedEventLog, _ deduplication: DeduplicationIndex, users: [String]) async throws {
        let service = IngestService(log: log, deduplication: deduplication, decoder: IngestBatchDecoder())
        for (k, user) in users.enumerated() {
            let result = try await service.ingest(
                [.success(event(.view, user: user, item: "item-\(k)", at: Int64(k)))], receivedAt: .now())
            #expect(result.accepted == 1)
        }
    }

    /// Cuts a segment file after its first `records` records, as a power loss that kept only them would.
    private func keepRecords(_ records: Int, of path: String) throws {
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        var position = 0
        for _ in 0..<records {
            let length = Int(bytes[position]) | Int(bytes[position + 1]) << 8 | Int(bytes[position + 2]) << 16
                | Int(bytes[position + 3]) << 24
            position += 8 + length
        }
        try Data(bytes[0..<position]).write(to: URL(fileURLWithPath: path))
    }

    @Test func eventsAtOffsetsReusedAfterATruncationAreApplied() async throws {
        let directory = TemporaryDirectory()
        let configuration = SegmentedEventLog.Configuration(
            directory: "\(directory.path)/log", topics: ["views": 1], durability: .buffered)
        let checkpoints = MemoryCheckpointStore()

        // First life: 20 events applied; stopping writes a checkpoint at offset 20.
        do {
            let log = try SegmentedEventLog.open(configuration: configuration, logger: testLogger)
            let deduplication = DeduplicationIndex()
            let processor = self.makeProcessor(log, checkpoints, deduplication)
            try await withRunningProcessor(processor) {
                try await self.ingest(log, deduplication, users: (0..<20).map { "old-\($0)" })
                try await eventually("20 events applied") { processor.appliedCount == 20 }
            }
            await log.close()
            #expect(try await checkpoints.load()?.positions[Self.views] == 20)
        }
        // The power loss kept only the first 15 records: the log now ends at 15, behind the checkpoint.
        try self.keepRecords(15, of: "\(directory.path)/log/views/0/\(String(repeating: "0", count: 20)).log")

        let log = try SegmentedEventLog.open(configuration: configuration, logger: testLogger)
        #expect(log.endOffsets()[Self.views] == 15)
        let deduplication = DeduplicationIndex()
        let processor = self.makeProcessor(log, checkpoints, deduplication)
        try await withRunningProcessor(processor) {
            try await eventually("recovered") { processor.isRecovered }
            // Flagged: the checkpoint had applied five records the log no longer holds.
            #expect(processor.checkpointAheadOfLog == [Self.views: 5])
            // Six new events: offsets 15 to 19 (reused) and 20.
            let users = (0..<6).map { "new-\($0)" }
            try await self.ingest(log, deduplication, users: users)
            try await eventually("the event at offset 20 applied") { processor.positions[Self.views] == 21 }
            #expect(users.filter { processor.profiles.profile(for: $0) == nil } == [], "new events skipped")
            #expect(processor.appliedCount == 6)
            #expect(processor.lag() == 0)
        }
        await log.close()
    }
}
