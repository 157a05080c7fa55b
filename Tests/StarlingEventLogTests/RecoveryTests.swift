import Foundation
import StarlingCore
import StarlingEventLog
import Testing

/// Recovery on open: `Recovery.swift` truncates a torn or corrupt partition tail (removing later segments), then
/// `Journal.swift` replays whatever the commit journal (fsync durability only) still holds beyond the partition
/// files.
///
/// A cleanly closed fsync log keeps its current journal file, so damage to a partition file right after a clean
/// close is *repaired* from the journal. To exercise truncation itself, the tests either retire the journal first
/// (open and close once more: the reopen replays and deletes the old journal file, and the new one stays empty, as
/// after the flusher has made the partition files durable) or use buffered durability, which keeps no journal.
struct RecoveryTests {
    static let topicPartition = TopicPartition(topic: "t", partition: 0)
    static let payloadSize = 10
    static let size = recordSize(payloadSize: payloadSize)  // 34 bytes
    static let defaultSegmentBytes = 64 * 1_024 * 1_024

    private static func configuration(
        _ directory: String,
        durability: SegmentedEventLog.Durability = .fsync,
        segmentBytes: Int = defaultSegmentBytes
    ) -> SegmentedEventLog.Configuration {
        .init(directory: directory, topics: ["t": 1], durability: durability, segmentBytes: segmentBytes)
    }

    /// Writes records 0..<count to a one-partition topic, one commit each, and closes the log.
    private func writeLog(
        _ directory: String,
        count: Int,
        durability: SegmentedEventLog.Durability = .fsync,
        segmentBytes: Int = defaultSegmentBytes,
        retireJournal: Bool
    ) async throws {
        let configuration = Self.configuration(directory, durability: durability, segmentBytes: segmentBytes)
        try await withLog(configuration) { log in
            try await appendSequentially(log, topic: "t", range: 0..<count, payloadSize: Self.payloadSize)
        }
        if retireJournal {
            try await withLog(configuration) { log in
                #expect(log.endOffsets()[Self.topicPartition] == Int64(count))
            }
        }
    }

    /// Reopens the log and checks that exactly records 0..<survivors are there with their original payloads, then
    /// that the next append gets offset `survivors` and reads back.
    private func expectRecoveredLog(
        _ directory: String,
        survivors: Int,
        durability: SegmentedEventLog.Durability = .fsync,
        segmentBytes: Int = defaultSegmentBytes,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        try await withLog(Self.configuration(directory, durability: durability, segmentBytes: segmentBytes)) { log in
            #expect(log.endOffsets()[Self.topicPartition] == Int64(survivors), sourceLocation: sourceLocation)
            let consumer = try await log.makeConsumer(group: "check", topics: ["t"])
            let records = try await readRecords(consumer, count: survivors, timeout: .seconds(5))
            #expect(records.map(\.offset) == (0..<Int64(survivors)).map { $0 }, sourceLocation: sourceLocation)
            #expect(
                records.map(\.payload) == (0..<survivors).map { payload($0, size: Self.payloadSize) },
                sourceLocation: sourceLocation
            )

            let marker = Array("after-recv".utf8)
            let positions = try await log.append([LogAppend(topic: "t", key: "k", payload: marker)])
            #expect(
                positions == [LogPosition(topicPartition: Self.topicPartition, offset: Int64(survivors))],
                sourceLocation: sourceLocation
            )
            let next = try await readRecords(consumer, count: 1, timeout: .seconds(5))
            #expect(next.map(\.offset) == [Int64(survivors)], sourceLocation: sourceLocation)
            #expect(next.first?.payload == marker, sourceLocation: sourceLocation)
        }
    }

    /// Reopens the log and checks that exactly the records at `offsets` are there, in order and with their original
    /// payloads, that the log ends at `end`, and that the next append gets offset `end` and reads back.
    private func expectRecoveredLog(
        _ directory: String,
        offsets: [Int],
        end: Int,
        segmentBytes: Int = defaultSegmentBytes,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        try await withLog(Self.configuration(directory, segmentBytes: segmentBytes)) { log in
            #expect(log.endOffsets()[Self.topicPartition] == Int64(end), sourceLocation: sourceLocation)
            let consumer = try await log.makeConsumer(group: "check", topics: ["t"])
            let records = try await readRecords(consumer, count: offsets.count, timeout: .seconds(5))
            #expect(records.map(\.offset) == offsets.map { Int64($0) }, sourceLocation: sourceLocation)
            #expect(
                records.map(\.payload) == offsets.map { payload($0, size: Self.payloadSize) },
                sourceLocation: sourceLocation
            )
            let marker = Array("after-recv".utf8)
            let positions = try await log.append([LogAppend(topic: "t", key: "k", payload: marker)])
            #expect(positions.map(\.offset) == [Int64(end)], sourceLocation: sourceLocation)
            let next = try await readRecords(consumer, count: 1, timeout: .seconds(5))
            #expect(next.map(\.payload) == [marker], sourceLocation: sourceLocation)
        }
    }

    /// The files under the log's quarantine directory, with their contents.
    private func quarantined(_ directory: String) throws -> [String: [UInt8]] {
        let root = "\(directory)/_quarantine"
        guard FileManager.default.fileExists(atPath: root) else { return [:] }
        var files: [String: [UInt8]] = [:]
        for path in try FileManager.default.subpathsOfDirectory(atPath: root) {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: "\(root)/\(path)", isDirectory: &isDirectory), !isDirectory.boolValue
            else { continue }
            files[path] = [UInt8](try Data(contentsOf: URL(fileURLWithPath: "\(root)/\(path)")))
        }
        return files
    }

    @Test(arguments: [SegmentedEventLog.Durability.fsync, .buffered])
    func cleanlyClosedLogReopensWithEveryRecord(durability: SegmentedEventLog.Durability) async throws {
        try await withTemporaryDirectory { directory in
            try await writeLog(directory, count: 20, durability: durability, retireJournal: false)
            #expect(try fileSize(segmentPath(directory, topic: "t")) == 20 * Self.size)
            try await expectRecoveredLog(directory, survivors: 20, durability: durability)
        }
    }

    // MARK: - Truncation (no journal coverage)

    @Test(arguments: [1, 4, 8, 16, 24, 33])
    func tornTailIsTruncatedToTheLastWholeRecord(choppedBytes: Int) async throws {
        try await withTemporaryDirectory { directory in
            try await writeLog(directory, count: 20, retireJournal: true)
            let path = segmentPath(directory, topic: "t")
            try chop(path, bytes: choppedBytes)
            try await expectRecoveredLog(directory, survivors: 19)
            // The torn bytes are gone from the file: 19 records, then the one appended after recovery.
            #expect(try fileSize(path) == 20 * Self.size)
        }
    }

    @Test func tornTailInBufferedModeIsTruncated() async throws {
        try await withTemporaryDirectory { directory in
            try await writeLog(directory, count: 20, durability: .buffered, retireJournal: false)
            try chop(segmentPath(directory, topic: "t"), bytes: 5)
            try await expectRecoveredLog(directory, survivors: 19, durability: .buffered)
        }
    }

    @Test func chopAtARecordBoundaryLosesOnlyTheChoppedRecords() async throws {
        try await withTemporaryDirectory { directory in
            try await writeLog(directory, count: 20, retireJournal: true)
            try chop(segmentPath(directory, topic: "t"), bytes: 3 * Self.size)
            try await expectRecoveredLog(directory, survivors: 17)
        }
    }

    /// Byte positions within the last record: length, CRC, offset, append time, first and last payload byte.
    @Test(arguments: [0, 4, 8, 16, 24, 33])
    func flippedByteInTheLastRecordDropsIt(byteInRecord: Int) async throws {
        try await withTemporaryDirectory { directory in
            try await writeLog(directory, count: 20, retireJournal: true)
            let path = segmentPath(directory, topic: "t")
            try modifyByte(path, at: 19 * Self.size + byteInRecord) { $0 ^ 0x40 }
            try await expectRecoveredLog(directory, survivors: 19)
            #expect(try fileSize(path) == 20 * Self.size)
        }
    }

    @Test func corruptRecordInTheMiddleIsQuarantinedAndTheRestKept() async throws {
        try await withTemporaryDirectory { directory in
            try await writeLog(directory, count: 20, retireJournal: true)
            try modifyByte(segmentPath(directory, topic: "t"), at: 7 * Self.size + 30) { $0 ^ 0x01 }
            try await expectRecoveredLog(directory, offsets: (0..<20).filter { $0 != 7 }, end: 20)
            #expect(try quarantined(directory).values.map(\.count) == [Self.size])
        }
    }

    /// Byte positions within record 7: length, CRC, offset (not covered by the CRC, so checked against the
    /// expected offset), append time, a payload byte.
    @Test(arguments: [0, 4, 8, 16, 30])
    func anyDamagedFieldOfAMiddleRecordLosesOnlyThatRecord(byteInRecord: Int) async throws {
        try await withTemporaryDirectory { directory in
            try await writeLog(directory, count: 20, retireJournal: true)
            try modifyByte(segmentPath(directory, topic: "t"), at: 7 * Self.size + byteInRecord) { $0 ^ 0x40 }
            try await expectRecoveredLog(directory, offsets: (0..<20).filter { $0 != 7 }, end: 20)
        }
    }

    @Test func garbageBetweenRecordsIsQuarantined() async throws {
        try await withTemporaryDirectory { directory in
            try await writeLog(directory, count: 10, retireJournal: true)
            let path = segmentPath(directory, topic: "t")
            var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
            let garbage = [UInt8](repeating: 0xA5, count: 57)
            bytes.insert(contentsOf: garbage, at: 4 * Self.size)
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            try await expectRecoveredLog(directory, offsets: Array(0..<10), end: 10)
            #expect(try quarantined(directory).values.map { $0 } == [garbage])
        }
    }

    @Test func impossibleLengthFieldIsTreatedAsCorrupt() async throws {
        try await withTemporaryDirectory { directory in
            try await writeLog(directory, count: 5, retireJournal: true)
            // A body length shorter than the offset and append time (16 bytes) cannot be a record.
            try modifyByte(segmentPath(directory, topic: "t"), at: 3 * Self.size) { _ in 3 }
            try await expectRecoveredLog(directory, offsets: [0, 1, 2, 4], end: 5)
        }
    }

    @Test func garbageAfterTheLastRecordIsRemoved() async throws {
        try await withTemporaryDirectory { directory in
            try await writeLog(directory, count: 5, retireJournal: true)
            let path = segmentPath(directory, topic: "t")
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
            try handle.seekToEnd()
            try handle.write(contentsOf: Data([UInt8](repeating: 0, count: 100)))
            try handle.close()
            try await expectRecoveredLog(directory, survivors: 5)
            #expect(try fileSize(path) == 6 * Self.size)
        }
    }

    // MARK: - Repair from the journal

    @Test(arguments: [1, 16, 33, 3 * 34])
    func tornTailIsRepairedFromTheJournal(choppedBytes: Int) async throws {
        try await withTemporaryDirectory { directory in
            try await writeLog(directory, count: 20, retireJournal: false)
            let path = segmentPath(directory, topic: "t")
            try chop(path, bytes: choppedBytes)
            try await expectRecoveredLog(directory, survivors: 20)
            #expect(try fileSize(path) == 21 * Self.size)
        }
    }

    @Test func corruptRecordsAreRepairedFromTheJournal() async throws {
        try await withTemporaryDirectory { directory in
            try await writeLog(directory, count: 20, retireJournal: false)
            let path = segmentPath(directory, topic: "t")
            try modifyByte(path, at: 7 * Self.size + 30) { $0 ^ 0x01 }
            try modifyByte(path, at: 19 * Self.size + 4) { $0 ^ 0x01 }
            try await expectRecoveredLog(directory, survivors: 20)
        }
    }

    /// As after a power loss that kept none of the unsynced partition data: the journal alone restores it.
    /// The partition lost records the journal no longer holds (flushed, then damaged), and the journal holds later
    /// acknowledged records: those are replayed after a gap instead of being dropped with the whole chunk.
    @Test func journalRecordsBeyondAGapAreReplayed() async throws {
        try await withTemporaryDirectory { directory in
            try await writeLog(directory, count: 20, retireJournal: true)
            // Records 20-29: durable in the journal, which a clean close keeps.
            try await withLog(Self.configuration(directory)) { log in
                try await appendSequentially(log, topic: "t", range: 20..<30, payloadSize: Self.payloadSize)
            }
            // Records 17-29 are gone from the partition file; only 20-29 are anywhere else.
            try chop(segmentPath(directory, topic: "t"), bytes: 13 * Self.size)
            try await expectRecoveredLog(directory, offsets: Array(0..<17) + Array(20..<30), end: 30)
        }
    }

    @Test func emptiedPartitionFileIsRebuiltFromTheJournal() async throws {
        try await withTemporaryDirectory { directory in
            try await writeLog(directory, count: 20, retireJournal: false)
            try chop(segmentPath(directory, topic: "t"), bytes: 20 * Self.size)
            #expect(try fileSize(segmentPath(directory, topic: "t")) == 0)
            try await expectRecoveredLog(directory, survivors: 20)
        }
    }

    // MARK: - Multiple segments

    /// Records of 34 bytes in 300-byte segments: segments start at 0, 9, 18, ... (a segment rolls once it has
    /// reached 300 bytes, which takes 9 records).
    static let rollingSegmentBytes = 300

    @Test func corruptLastRecordOfASealedSegmentKeepsEveryLaterSegment() async throws {
        try await withTemporaryDirectory { directory in
            try await writeLog(directory, count: 40, segmentBytes: Self.rollingSegmentBytes, retireJournal: true)
            let bases = try segmentBases(directory, topic: "t")
            try #require(bases == [0, 9, 18, 27, 36])
            // Damage the last record of the second segment (offset 17).
            try modifyByte(segmentPath(directory, topic: "t", baseOffset: 9), at: 8 * Self.size + 30) { $0 ^ 0x01 }
            try await expectRecoveredLog(
                directory, offsets: (0..<40).filter { $0 != 17 }, end: 40, segmentBytes: Self.rollingSegmentBytes)
            #expect(try segmentBases(directory, topic: "t") == [0, 9, 18, 27, 36])
        }
    }

    /// The journal still holds the damaged record: it is put back in place, and nothing is lost.
    @Test func corruptRecordInASealedSegmentIsRestoredFromTheJournal() async throws {
        try await withTemporaryDirectory { directory in
            try await writeLog(directory, count: 40, segmentBytes: Self.rollingSegmentBytes, retireJournal: false)
            try modifyByte(segmentPath(directory, topic: "t", baseOffset: 9), at: 4 * Self.size + 30) { $0 ^ 0x01 }
            try await expectRecoveredLog(directory, survivors: 40, segmentBytes: Self.rollingSegmentBytes)
            #expect(try segmentBases(directory, topic: "t") == [0, 9, 18, 27, 36])
            #expect(try fileSize(segmentPath(directory, topic: "t", baseOffset: 9)) == 9 * Self.size)
        }
    }

    /// Issue 9, part 3: one corrupt record in the middle of a multi-segment partition used to cost every record
    /// after it (the rest of its segment and every later segment). Now only the damaged record is lost: its bytes
    /// are moved aside to the quarantine directory and every other acknowledged record survives.
    @Test func corruptRecordInTheMiddleOfAMultiSegmentPartitionIsQuarantined() async throws {
        try await withTemporaryDirectory { directory in
            try await writeLog(directory, count: 40, segmentBytes: Self.rollingSegmentBytes, retireJournal: true)
            try #require(try segmentBases(directory, topic: "t") == [0, 9, 18, 27, 36])
            // One payload byte of record 13, the fifth record of segment 9.
            let segment = segmentPath(directory, topic: "t", baseOffset: 9)
            try modifyByte(segment, at: 4 * Self.size + 30) { $0 ^ 0x01 }
            let damaged = Array([UInt8](try Data(contentsOf: URL(fileURLWithPath: segment)))[(4 * Self.size)..<(5 * Self.size)])

            try await expectRecoveredLog(
                directory, offsets: (0..<40).filter { $0 != 13 }, end: 40, segmentBytes: Self.rollingSegmentBytes)

            #expect(try segmentBases(directory, topic: "t") == [0, 9, 18, 27, 36])
            #expect(try fileSize(segment) == 8 * Self.size)
            let kept = try quarantined(directory)
            #expect(kept.count == 1, "\(kept.keys)")
            #expect(kept.values.first == damaged)
        }
    }

    @Test func missingMiddleSegmentKeepsEveryLaterSegment() async throws {
        try await withTemporaryDirectory { directory in
            try await writeLog(directory, count: 40, segmentBytes: Self.rollingSegmentBytes, retireJournal: true)
            try #require(try segmentBases(directory, topic: "t") == [0, 9, 18, 27, 36])
            try FileManager.default.removeItem(atPath: segmentPath(directory, topic: "t", baseOffset: 18))
            try await expectRecoveredLog(
                directory, offsets: (0..<40).filter { !(18..<27).contains($0) }, end: 40,
                segmentBytes: Self.rollingSegmentBytes)
            #expect(try segmentBases(directory, topic: "t") == [0, 9, 27, 36])
        }
    }

    @Test func tornTailInTheLastOfSeveralSegments() async throws {
        try await withTemporaryDirectory { directory in
            try await writeLog(directory, count: 40, segmentBytes: Self.rollingSegmentBytes, retireJournal: true)
            try chop(segmentPath(directory, topic: "t", baseOffset: 36), bytes: 5)
            try await expectRecoveredLog(directory, survivors: 39, segmentBytes: Self.rollingSegmentBytes)
            #expect(try segmentBases(directory, topic: "t") == [0, 9, 18, 27, 36])
        }
    }

    @Test func missingSegmentsAreRebuiltFromTheJournal() async throws {
        try await withTemporaryDirectory { directory in
            try await writeLog(directory, count: 40, segmentBytes: Self.rollingSegmentBytes, retireJournal: false)
            try FileManager.default.removeItem(atPath: segmentPath(directory, topic: "t", baseOffset: 27))
            try FileManager.default.removeItem(atPath: segmentPath(directory, topic: "t", baseOffset: 36))
            try await expectRecoveredLog(directory, survivors: 40, segmentBytes: Self.rollingSegmentBytes)
        }
    }

    @Test func recoveredPartitionsAreIndependent() async throws {
        try await withTemporaryDirectory { directory in
            let configuration = SegmentedEventLog.Configuration(directory: directory, topics: ["t": 2])
            let keys = (0..<100).map { "k\($0)" }
            let key0 = try #require(keys.first { StableHash.partition(for: $0, count: 2) == 0 })
            let key1 = try #require(keys.first { StableHash.partition(for: $0, count: 2) == 1 })
            try await withLog(configuration) { log in
                try await appendSequentially(log, topic: "t", key: key0, range: 0..<10)
                try await appendSequentially(log, topic: "t", key: key1, range: 0..<10)
            }
            try await withLog(configuration) { _ in }  // retire the journal
            try chop(segmentPath(directory, topic: "t", partition: 1), bytes: 1)
            try await withLog(configuration) { log in
                #expect(log.endOffsets() == [
                    TopicPartition(topic: "t", partition: 0): 10,
                    TopicPartition(topic: "t", partition: 1): 9,
                ])
            }
        }
    }

    /// Journal replay must leave a segment as recovery of the same bytes would: in particular with its newest
    /// append time, which age-based retention compares with the cutoff.
    @Test func segmentRebuiltFromTheJournalIsNotTooOldForAgeRetention() async throws {
        try await withTemporaryDirectory { directory in
            var configuration = SegmentedEventLog.Configuration(
                directory: directory, topics: ["t": 1], segmentBytes: Self.rollingSegmentBytes,
                retentionAge: .seconds(3_600))
            configuration.maintenance = .manual
            try await withLog(configuration) { log in
                try await appendSequentially(log, topic: "t", range: 0..<9)  // fills segment 0
            }
            // A power loss kept none of segment 0's unsynced data; the journal has all of it.
            try chop(segmentPath(directory, topic: "t"), bytes: 9 * Self.size)
            try await withLog(configuration) { log in
                #expect(log.endOffsets()[Self.topicPartition] == 9)
                // Segment 0 is full again, so this append seals it and starts segment 9.
                try await appendSequentially(log, topic: "t", range: 9..<10)
                #expect(try segmentBases(directory, topic: "t") == [0, 9])
                // Every record is seconds old, far younger than the one-hour retention age.
                let pass = await log.enforceRetention()
                #expect(pass.deleted.isEmpty, "records 0-8 were deleted by age retention")
                #expect(log.startOffsets()[Self.topicPartition] == 0)
                #expect(try segmentBases(directory, topic: "t") == [0, 9])
            }
        }
    }
}
