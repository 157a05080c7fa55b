import StarlingCore
import StarlingEventLog
import StarlingStream
import StarlingTestSupport
import Synchronization
import Testing

/// A checkpoint that finds the disk full (issue 9, staged faults) fails alone: the processor goes on applying events,
/// the next interval tries again, and a processor restarted from the one checkpoint that was written (the disk is
/// full again for every later one, its final checkpoint included) replays the rest of the log and applies every
/// event exactly once.
struct CheckpointDiskFullTests {
    /// A checkpoint store whose saves fail as on a full disk, except the one after the first `failures`.
    private final class FullDiskCheckpointStore: CheckpointStore {
        private let stored = MemoryCheckpointStore()
        private let counts: Mutex<(failuresLeft: Int, failed: Int, saved: Int)>

        init(failures: Int) {
            self.counts = Mutex((failures, 0, 0))
        }

        var failed: Int { self.counts.withLock { $0.failed } }
        var saved: Int { self.counts.withLock { $0.saved } }

        func load() async throws -> Checkpoint? { try await self.stored.load() }

        func save(_ checkpoint: Checkpoint) async throws {
            let fail = self.counts.withLock { counts in
                guard counts.failuresLeft > 0 || counts.saved > 0 else { return false }
                counts.failuresLeft -= 1
                counts.failed += 1
                return true
            }
            if fail { throw EventLogError.diskFull("cannot write processor.checkpoint.tmp: No space left on device") }
            try await self.stored.save(checkpoint)
            self.counts.withLock { $0.saved += 1 }
        }
    }

    private static func processor(
        _ log: SegmentedEventLog,
        _ checkpoints: any CheckpointStore,
        _ deduplication: DeduplicationIndex
    ) -> StreamProcessor<SegmentedEventLog> {
        StreamProcessor(
            log: log,
            deduplication: deduplication,
            checkpoints: checkpoints,
            catalog: ItemCatalog(),
            configuration: .init(checkpointInterval: .milliseconds(1)),
            logger: testLogger
        )
    }

    @Test func aCheckpointThatFindsTheDiskFullIsRetriedAndNothingIsAppliedTwice() async throws {
        let directory = TemporaryDirectory()
        let checkpoints = FullDiskCheckpointStore(failures: 2)
        let log = try openLog(directory.path)
        let deduplication = DeduplicationIndex()
        let ingest = IngestService(log: log, deduplication: deduplication, decoder: IngestBatchDecoder())
        var sent = 0
        let processor = Self.processor(log, checkpoints, deduplication)
        try await withRunningProcessor(processor) {
            // One event at a time until a checkpoint was saved (each applied batch may request one), then 5 more.
            let deadline = ContinuousClock.now + .seconds(30)
            var afterSave = 0
            while afterSave < 5, ContinuousClock.now < deadline {
                if checkpoints.saved > 0 { afterSave += 1 }
                let next = event(.view, user: "u", item: "i\(sent)", id: "e\(sent)", at: Int64(sent))
                _ = try await ingest.ingest([.success(next)], receivedAt: .now())
                sent += 1
                try await eventually("event \(sent) applied") { processor.appliedCount == sent }
            }
        }
        #expect(checkpoints.failed >= 3)  // two before the save, the final one at least after it
        #expect(checkpoints.saved == 1)
        #expect(processor.profiles.profile(for: "u")?.eventCount == UInt64(sent))
        await log.close()

        // Restarted from the checkpoint that was written: every event once, none twice.
        let reopened = try openLog(directory.path)
        let restarted = Self.processor(reopened, checkpoints, DeduplicationIndex())
        try await withRunningProcessor(restarted) {
            try await eventually("recovered") { restarted.isRecovered }
        }
        #expect(restarted.profiles.profile(for: "u")?.eventCount == UInt64(sent))
        await reopened.close()
    }
}
