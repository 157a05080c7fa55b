import Foundation
import StarlingCore
import StarlingEventLog
import Testing

/// A full disk (issue 9, staged faults). A write that fails with `ENOSPC` is not a failed `fsync`: nothing of its
/// commit is acknowledged and nothing acknowledged before is in doubt, so the log cuts the files back to their last
/// whole record, refuses the batch with ``EventLogError/diskFull(_:)`` and takes the next append as usual.
/// ``FileWriteFaults`` makes a write store part of its bytes and then fail, as a disk filling up does.
struct DiskFullTests {
    static let topicPartition = TopicPartition(topic: "t", partition: 0)
    static let size = recordSize(payloadSize: 10)

    private static func configuration(
        _ directory: String,
        faults: FileWriteFaults?,
        segmentBytes: Int = 64 * 1_024 * 1_024,
        partitions: Int = 1
    ) -> SegmentedEventLog.Configuration {
        var configuration = SegmentedEventLog.Configuration(
            directory: directory, topics: ["t": partitions], segmentBytes: segmentBytes)
        configuration.maintenance = .manual
        configuration.writeFaults = faults
        return configuration
    }

    private static func journalBytes(_ directory: String) throws -> Int {
        try FileManager.default.contentsOfDirectory(atPath: "\(directory)/_journal")
            .filter { $0.hasSuffix(".journal") }
            .reduce(0) { $0 + (try fileSize("\(directory)/_journal/\($1)")) }
    }

    /// Reopens the log and reads every record of partition 0.
    private static func reopenedPayloads(_ directory: String, count: Int) async throws -> [LogRecord] {
        try await withLog(Self.configuration(directory, faults: nil)) { log in
            #expect(log.endOffsets()[Self.topicPartition] == Int64(count))
            let consumer = try await log.makeConsumer(group: "check", topics: ["t"])
            return try await readRecords(consumer, count: count, timeout: .seconds(5))
        }
    }

    @Test func aPartitionWriteThatFindsTheDiskFullIsCutBackAndTheNextAppendSucceeds() async throws {
        try await withTemporaryDirectory { directory in
            let faults = FileWriteFaults()
            let segment = segmentPath(directory, topic: "t")
            try await withLog(Self.configuration(directory, faults: faults)) { log in
                try await appendSequentially(log, topic: "t", range: 0..<3)
                // The partition file takes 5 bytes of the next record, then the disk is full.
                faults.failNext(afterWriting: 5, where: { $0 == segment })
                let refusal = await #expect(throws: EventLogError.self) {
                    try await log.append([LogAppend(topic: "t", key: "k", payload: payload(3))])
                }
                #expect(refusal == .diskFull(""))
                #expect(faults.failedPaths == [segment])
                // Cut back to the last whole record, and the journal's copy retired (it is all in the synced partition
                // file: see aRefusedCommitFreesTheJournalsRedundantCopy); the log goes on.
                #expect(try fileSize(segment) == 3 * Self.size)
                #expect(try Self.journalBytes(directory) == 0)
                #expect(log.endOffsets()[Self.topicPartition] == 3)
                #expect(log.failure == nil)
                #expect(log.diskFull == .diskFull(""))

                // Space is back: the next append takes the refused record's offset, as if it had never been tried.
                let positions = try await log.append([LogAppend(topic: "t", key: "k", payload: payload(4))])
                #expect(positions.map(\.offset) == [3])
                #expect(log.diskFull == nil)
                #expect(try fileSize(segment) == 4 * Self.size)
            }
            let records = try await Self.reopenedPayloads(directory, count: 4)
            #expect(records.map(\.offset) == [0, 1, 2, 3])
            #expect(records.map(\.payload) == [payload(0), payload(1), payload(2), payload(4)])
        }
    }

    @Test func aJournalWriteThatFindsTheDiskFullCutsTheJournalAndThePartitionBack() async throws {
        try await withTemporaryDirectory { directory in
            let faults = FileWriteFaults()
            let segment = segmentPath(directory, topic: "t")
            try await withLog(Self.configuration(directory, faults: faults)) { log in
                try await appendSequentially(log, topic: "t", range: 0..<3)
                // The partition file takes the whole record, the journal 11 bytes of its chunk.
                faults.failNext(afterWriting: 11, where: { $0.hasSuffix(".journal") })
                let refusal = await #expect(throws: EventLogError.self) {
                    try await log.append([LogAppend(topic: "t", key: "k", payload: payload(3))])
                }
                #expect(refusal == .diskFull(""))
                #expect(refusal?.message.contains("full") == true, "\(String(describing: refusal))")
                #expect(try fileSize(segment) == 3 * Self.size)
                #expect(try Self.journalBytes(directory) == 0)  // cut back, then retired with the rest of its file
                #expect(log.failure == nil)

                // Into the fresh journal file (nothing to retire): what the failed write stored is cut off.
                faults.failNext(afterWriting: 11, where: { $0.hasSuffix(".journal") })
                await #expect(throws: EventLogError.diskFull("")) {
                    try await log.append([LogAppend(topic: "t", key: "k", payload: payload(3))])
                }
                #expect(try Self.journalBytes(directory) == 0)
                #expect(try fileSize(segment) == 3 * Self.size)

                try await appendSequentially(log, topic: "t", range: 4..<6)
            }
            // No torn chunk for recovery to stop at, and no record twice.
            let records = try await Self.reopenedPayloads(directory, count: 5)
            #expect(records.map(\.offset) == [0, 1, 2, 3, 4])
            #expect(records.map(\.payload) == [0, 1, 2, 4, 5].map { payload($0) })
        }
    }

    /// On a full disk the journal's copy of what the partition files hold is freed at once, rather than when the
    /// journal reaches 32 MiB: the partition files are synced, the journal starts a new file, the old one goes.
    @Test func aRefusedCommitFreesTheJournalsRedundantCopy() async throws {
        try await withTemporaryDirectory { directory in
            let faults = FileWriteFaults()
            let segment = segmentPath(directory, topic: "t")
            try await withLog(Self.configuration(directory, faults: faults)) { log in
                try await appendSequentially(log, topic: "t", range: 0..<10)
                #expect(try Self.journalBytes(directory) > 10 * Self.size)
                faults.failNext(afterWriting: 5, where: { $0 == segment })
                await #expect(throws: EventLogError.diskFull("")) {
                    try await log.append([LogAppend(topic: "t", key: "k", payload: payload(10))])
                }
                #expect(try Self.journalBytes(directory) == 0)
                #expect(try FileManager.default.contentsOfDirectory(atPath: "\(directory)/_journal").count == 1)
                #expect(log.failure == nil)
                try await appendSequentially(log, topic: "t", range: 11..<12)
            }
            // The records the retired journal held are in the (synced) partition file.
            let records = try await Self.reopenedPayloads(directory, count: 11)
            #expect(records.map(\.payload) == (Array(0..<10) + [11]).map { payload($0) })
        }
    }

    @Test func aRefusedCommitThatRolledASegmentRemovesTheNewSegment() async throws {
        try await withTemporaryDirectory { directory in
            let faults = FileWriteFaults()
            // Every commit after the first two records starts a new segment.
            try await withLog(Self.configuration(directory, faults: faults, segmentBytes: 2 * Self.size)) { log in
                try await appendSequentially(log, topic: "t", range: 0..<2)
                let rolled = segmentPath(directory, topic: "t", baseOffset: 2)
                faults.failNext(afterWriting: 3, where: { $0 == rolled })
                await #expect(throws: EventLogError.diskFull("")) {
                    try await log.append([LogAppend(topic: "t", key: "k", payload: payload(2))])
                }
                #expect(try segmentBases(directory, topic: "t") == [0])
                try await appendSequentially(log, topic: "t", range: 3..<5)
                #expect(try segmentBases(directory, topic: "t") == [0, 2])
            }
            let records = try await Self.reopenedPayloads(directory, count: 4)
            #expect(records.map(\.offset) == [0, 1, 2, 3])
            #expect(records.map(\.payload) == [0, 1, 3, 4].map { payload($0) })
        }
    }

    /// Concurrent appends: whichever are refused — the failing commit's and any queued behind it — the acknowledged
    /// ones hold dense offsets, and reading the log back gives exactly them.
    @Test func concurrentAppendsAroundARefusedCommitKeepOffsetsDenseAndLoseNothingAcknowledged() async throws {
        try await withTemporaryDirectory { directory in
            let faults = FileWriteFaults()
            let partitions = 2
            let acknowledged = try await withLog(
                Self.configuration(directory, faults: faults, partitions: partitions)
            ) { log -> [LogPosition: [UInt8]] in
                try await appendSequentially(log, topic: "t", range: 0..<4)
                faults.failNext(2, afterWriting: 30, where: { $0.hasSuffix(".log") || $0.hasSuffix(".journal") })
                let outcomes = try await withThrowingTaskGroup(of: (LogPosition, [UInt8])?.self) { group in
                    for index in 4..<104 {
                        group.addTask {
                            let bytes = payload(index)
                            do {
                                let positions = try await log.append(
                                    [LogAppend(topic: "t", key: "key-\(index % 7)", payload: bytes)])
                                return (positions[0], bytes)
                            } catch let error as EventLogError where error == .diskFull("") {
                                return nil
                            }
                        }
                    }
                    var outcomes: [(LogPosition, [UInt8])?] = []
                    for try await outcome in group { outcomes.append(outcome) }
                    return outcomes
                }
                #expect(outcomes.contains { $0 == nil }, "no append was refused")
                #expect(log.failure == nil)
                var acknowledged: [LogPosition: [UInt8]] = [:]
                for case let (position, bytes)? in outcomes { acknowledged[position] = bytes }
                return acknowledged
            }
            try await withLog(Self.configuration(directory, faults: nil, partitions: partitions)) { log in
                let ends = log.endOffsets()
                let total = Int(ends.values.reduce(0, +))
                #expect(total == 4 + acknowledged.count)
                let consumer = try await log.makeConsumer(group: "check", topics: ["t"])
                let records = try await readRecords(consumer, count: total, timeout: .seconds(5))
                #expect(records.count == total)
                for partition in 0..<partitions {
                    let offsets = records.filter { $0.topicPartition.partition == partition }.map(\.offset)
                    #expect(offsets == Array(0..<(ends[TopicPartition(topic: "t", partition: partition)] ?? 0)))
                }
                var read: [LogPosition: [UInt8]] = [:]
                for record in records {
                    read[LogPosition(topicPartition: record.topicPartition, offset: record.offset)] = record.payload
                }
                // Every acknowledged record is where its acknowledgement said, with its payload.
                for (position, bytes) in acknowledged { #expect(read[position] == bytes, "\(position)") }
            }
        }
    }
}
