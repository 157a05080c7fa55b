import Foundation
import StarlingCore
import StarlingEventLog
import Testing

struct SegmentRollingTests {
    static let topicPartition = TopicPartition(topic: "t", partition: 0)
    static let payloadSize = 100  // 124-byte records

    /// Appends `batches` batches of `perBatch` records each, awaiting each batch, so that every batch is one
    /// commit and the segment boundaries are deterministic.
    private func appendBatches(_ log: SegmentedEventLog, batches: Int, perBatch: Int) async throws {
        for batch in 0..<batches {
            let appends = (0..<perBatch).map {
                LogAppend(topic: "t", key: "k", payload: payload(batch * perBatch + $0, size: Self.payloadSize))
            }
            _ = try await log.append(appends)
        }
    }

    private func expectRecords(_ records: [LogRecord], from first: Int, count: Int, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(records.map(\.offset) == (first..<(first + count)).map { Int64($0) }, sourceLocation: sourceLocation)
        #expect(
            records.map(\.payload) == (first..<(first + count)).map { payload($0, size: Self.payloadSize) },
            sourceLocation: sourceLocation
        )
    }

    @Test func smallSegmentsRollAndAreReadAcrossWithSeek() async throws {
        try await withTemporaryDirectory { directory in
            // 10 records of 124 bytes per batch = 1,240 bytes; a 4,096-byte segment is full after 4 batches.
            let configuration = SegmentedEventLog.Configuration(directory: directory, topics: ["t": 1], segmentBytes: 4_096)
            try await withLog(configuration) { log in
                try await appendBatches(log, batches: 20, perBatch: 10)
                #expect(try segmentBases(directory, topic: "t") == [0, 40, 80, 120, 160])
                #expect(log.endOffsets()[Self.topicPartition] == 200)
                #expect(log.startOffsets()[Self.topicPartition] == 0)

                let consumer = try await log.makeConsumer(group: "g", topics: ["t"])
                expectRecords(try await readRecords(consumer, count: 200, maxRecordsPerPoll: 7), from: 0, count: 200)

                for target in [100, 40, 39, 0, 159, 199] {
                    try await consumer.seek(to: [Self.topicPartition: Int64(target)])
                    #expect(consumer.positions() == [Self.topicPartition: Int64(target)])
                    expectRecords(try await readRecords(consumer, count: 200 - target), from: target, count: 200 - target)
                    #expect(consumer.lag() == 0)
                }
            }
            // Reopened, the log finds every segment again and continues the last one's offsets.
            try await withLog(configuration) { log in
                #expect(log.endOffsets()[Self.topicPartition] == 200)
                let consumer = try await log.makeConsumer(group: "again", topics: ["t"])
                try await consumer.seek(to: [Self.topicPartition: 75])
                expectRecords(try await readRecords(consumer, count: 125), from: 75, count: 125)
                let positions = try await log.append([LogAppend(topic: "t", key: "k", payload: payload(200, size: Self.payloadSize))])
                #expect(positions.map(\.offset) == [200])
                // Segment 160 was full, so the append started segment 200.
                #expect(try segmentBases(directory, topic: "t") == [0, 40, 80, 120, 160, 200])
                expectRecords(try await readRecords(consumer, count: 1), from: 200, count: 1)
            }
        }
    }

    @Test func seekIntoTheMiddleOfALargeSegment() async throws {
        try await withTemporaryDirectory { directory in
            let configuration = SegmentedEventLog.Configuration(directory: directory, topics: ["t": 1])
            // 3,000 records of 124 bytes (372,000 bytes) in one segment, past several sparse index entries.
            let targets = [0, 1, 528, 529, 530, 1_500, 2_999]
            try await withLog(configuration) { log in
                try await appendBatches(log, batches: 3, perBatch: 1_000)
                #expect(try segmentBases(directory, topic: "t") == [0])
                let consumer = try await log.makeConsumer(group: "g", topics: ["t"])
                for target in targets {
                    try await consumer.seek(to: [Self.topicPartition: Int64(target)])
                    expectRecords(try await readRecords(consumer, count: min(5, 3_000 - target), maxRecordsPerPoll: 5), from: target, count: min(5, 3_000 - target))
                }
            }
            // The same after recovery rebuilt the index from the file.
            try await withLog(configuration) { log in
                let consumer = try await log.makeConsumer(group: "g", topics: ["t"])
                for target in targets {
                    try await consumer.seek(to: [Self.topicPartition: Int64(target)])
                    expectRecords(try await readRecords(consumer, count: min(5, 3_000 - target), maxRecordsPerPoll: 5), from: target, count: min(5, 3_000 - target))
                }
            }
        }
    }

    /// A configuration whose retention runs only when the test asks for it (``SegmentedEventLog/enforceRetention()``).
    private static func manual(_ configuration: SegmentedEventLog.Configuration) -> SegmentedEventLog.Configuration {
        var configuration = configuration
        configuration.maintenance = .manual
        return configuration
    }

    @Test func retentionBySizeDeletesTheOldestSegments() async throws {
        try await withTemporaryDirectory { directory in
            // 5 records of 124 bytes per batch = 620 bytes; a 1,024-byte segment is full after 2 batches, so
            // 20 batches make 10 segments of 1,240 bytes. Keeping at most 3,000 bytes leaves the newest 2.
            let configuration = Self.manual(
                .init(directory: directory, topics: ["t": 1], segmentBytes: 1_024, retentionBytes: 3_000))
            try await withLog(configuration) { log in
                try await appendBatches(log, batches: 20, perBatch: 5)
                #expect(try segmentBases(directory, topic: "t") == stride(from: 0, to: 100, by: 10).map { Int64($0) })
                let pass = await log.enforceRetention()
                #expect(pass.deleted.count == 8)
                #expect(pass.held.isEmpty)
                #expect(log.startOffsets()[Self.topicPartition] == 80)
                #expect(log.endOffsets()[Self.topicPartition] == 100)
                #expect(try segmentBases(directory, topic: "t") == [80, 90])

                // A consumer without committed positions starts at the oldest retained record.
                let consumer = try await log.makeConsumer(group: "late", topics: ["t"])
                expectRecords(try await readRecords(consumer, count: 20), from: 80, count: 20)
                // So does one that seeks before it.
                try await consumer.seek(to: [Self.topicPartition: 3])
                expectRecords(try await readRecords(consumer, count: 20), from: 80, count: 20)
            }
            // Reopening starts from the retained segments.
            try await withLog(configuration) { log in
                #expect(log.startOffsets()[Self.topicPartition] == 80)
                #expect(log.endOffsets()[Self.topicPartition] == 100)
            }
        }
    }

    @Test func retentionByAgeDeletesEverySealedSegmentButNeverTheActiveOne() async throws {
        try await withTemporaryDirectory { directory in
            let clock = ManualWallClock(nanoseconds: 1_000_000_000_000)
            var configuration = Self.manual(
                .init(directory: directory, topics: ["t": 1], segmentBytes: 1_024, retentionAge: .seconds(60)))
            configuration.wallClock = { clock.now }
            try await withLog(configuration) { log in
                try await appendBatches(log, batches: 6, perBatch: 5)
                #expect(try segmentBases(directory, topic: "t") == [0, 10, 20])
                // Younger than the retention age: nothing goes.
                clock.advance(by: .seconds(59))
                #expect(await log.enforceRetention().deleted.isEmpty)
                clock.advance(by: .seconds(2))
                #expect(await log.enforceRetention().deleted.count == 2)
                #expect(log.startOffsets()[Self.topicPartition] == 20)
                #expect(try segmentBases(directory, topic: "t") == [20])
                #expect(log.endOffsets()[Self.topicPartition] == 30)
                // The log keeps working after retention.
                let positions = try await log.append([LogAppend(topic: "t", key: "k", payload: payload(30, size: Self.payloadSize))])
                #expect(positions.map(\.offset) == [30])
            }
        }
    }

    /// Issue 9, part 3: `starling serve --segment-mb 1 --retention-mb 2` under load acknowledged 1,600,900 events,
    /// applied 1,259,969 and reported lag 0 — retention had deleted segments the processor had not read yet, and
    /// the consumer silently moved to the oldest retained record. A retention group's committed position bounds
    /// what retention may delete.
    @Test func retentionNeverDeletesWhatARetentionGroupHasNotCommitted() async throws {
        try await withTemporaryDirectory { directory in
            // Ten segments of ten records (0, 10, …, 90); size alone would keep only the newest two.
            let configuration = Self.manual(
                .init(
                    directory: directory, topics: ["t": 1], segmentBytes: 1_024, retentionBytes: 3_000,
                    retentionGroups: ["processor"]))
            try await withLog(configuration) { log in
                try await appendBatches(log, batches: 20, perBatch: 5)
                // The group has committed nothing yet: it holds the whole partition.
                var pass = await log.enforceRetention()
                #expect(pass.deleted.isEmpty)
                #expect(pass.held == [Self.topicPartition: 8])
                #expect(try segmentBases(directory, topic: "t").count == 10)

                // It has consumed and committed up to offset 35: segments 0, 10 and 20 may go, 30 (records 30–39)
                // may not.
                let consumer = try await log.makeConsumer(group: "processor", topics: ["t"])
                _ = try await readRecords(consumer, count: 35, maxRecordsPerPoll: 35)
                try await consumer.commit([Self.topicPartition: 35])
                pass = await log.enforceRetention()
                #expect(pass.deleted.count == 3)
                #expect(pass.held == [Self.topicPartition: 5])
                #expect(log.startOffsets()[Self.topicPartition] == 30)
                // The group's reader still gets every record it has not read, in order.
                expectRecords(try await readRecords(consumer, count: 65), from: 35, count: 65)

                try await consumer.commit([Self.topicPartition: 100])
                pass = await log.enforceRetention()
                #expect(pass.held.isEmpty)
                #expect(try segmentBases(directory, topic: "t") == [80, 90])
            }
            // The hold survives a restart: it is read from the group's committed positions on open.
            try await withLog(configuration) { log in
                // Segments 100, 110, 120 and 130: size alone would delete 80, 90, 100 and 110; the group's
                // committed position (100) lets only 80 and 90 go.
                try await appendBatches(log, batches: 8, perBatch: 5)
                let pass = await log.enforceRetention()
                #expect(pass.deleted.count == 2)
                #expect(pass.held == [Self.topicPartition: 2])
                #expect(log.startOffsets()[Self.topicPartition] == 100)
            }
        }
    }
}
