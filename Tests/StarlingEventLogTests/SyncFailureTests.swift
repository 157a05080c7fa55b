import Foundation
import StarlingCore
import StarlingEventLog
import Testing

/// A failed `fsync` (issue 9, part 3). Linux reports a failed write-back once: the failing `fdatasync` returns `EIO`,
/// the dirty pages are marked clean without reaching the disk, and the next sync of the file succeeds. A log that
/// takes that second sync as success deletes the journal — the only durable copy of what it acknowledged.
/// ``FileSyncFaults`` scripts exactly that, without a broken disk.
struct SyncFailureTests {
    static let topicPartition = TopicPartition(topic: "t", partition: 0)
    static let size = recordSize(payloadSize: 10)

    private static func configuration(_ directory: String, faults: FileSyncFaults?) -> SegmentedEventLog.Configuration {
        var configuration = SegmentedEventLog.Configuration(directory: directory, topics: ["t": 1])
        configuration.maintenance = .manual
        configuration.syncFaults = faults
        return configuration
    }

    @Test func aFailedPartitionSyncKeepsTheJournalAndStopsAcknowledging() async throws {
        try await withTemporaryDirectory { directory in
            let faults = FileSyncFaults()
            let segment = segmentPath(directory, topic: "t")
            faults.failNext(where: { $0 == segment })
            try await withLog(Self.configuration(directory, faults: faults)) { log in
                // Acknowledged: durable in the journal, written (not yet synced) to the partition file.
                try await appendSequentially(log, topic: "t", range: 0..<10)
                log.flushNow()  // the partition file's sync fails…
                #expect(faults.failedPaths == [segment])
                log.flushNow()  // …and a retry succeeds although the data never reached the disk.

                // From now on nothing is acknowledged: the log cannot promise durability any more.
                let refusal = await #expect(throws: EventLogError.self) {
                    try await log.append([LogAppend(topic: "t", key: "k", payload: payload(10))])
                }
                #expect(refusal == .stopped(""))
                #expect(refusal?.message.contains("fsync") == true, "\(String(describing: refusal))")
                let failure = try #require(log.failure)
                #expect(failure.message.contains(segment))
            }
            // The write-back really was lost: the partition file holds none of the ten records.
            try chop(segment, bytes: 10 * Self.size)
            // Reopened, the journal the failed log kept restores every acknowledged record.
            try await withLog(Self.configuration(directory, faults: nil)) { log in
                #expect(log.failure == nil)
                #expect(log.endOffsets()[Self.topicPartition] == 10)
                let consumer = try await log.makeConsumer(group: "check", topics: ["t"])
                let records = try await readRecords(consumer, count: 10, timeout: .seconds(5))
                #expect(records.map(\.payload) == (0..<10).map { payload($0) })
            }
        }
    }

    @Test func aFailedJournalSyncFailsItsBatchAndEveryLaterAppend() async throws {
        try await withTemporaryDirectory { directory in
            let faults = FileSyncFaults()
            try await withLog(Self.configuration(directory, faults: faults)) { log in
                try await appendSequentially(log, topic: "t", range: 0..<3)
                faults.failNext(where: { $0.hasSuffix(".journal") })
                await #expect(throws: EventLogError.self) {
                    try await log.append([LogAppend(topic: "t", key: "k", payload: payload(3))])
                }
                // The journal's next sync would succeed, but the log must not carry on as if the failed batch's
                // neighbours were durable.
                let refusal = await #expect(throws: EventLogError.self) {
                    try await log.append([LogAppend(topic: "t", key: "k", payload: payload(4))])
                }
                #expect(refusal == .stopped(""))
                #expect(log.failure != nil)
                // What was acknowledged before the failure is still readable.
                let consumer = try await log.makeConsumer(group: "check", topics: ["t"])
                let records = try await readRecords(consumer, count: 3, timeout: .seconds(5))
                #expect(records.map(\.offset) == [0, 1, 2])
            }
        }
    }
}
