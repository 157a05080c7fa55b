import Foundation
import StarlingCore
import StarlingEventLog
import Testing

struct SegmentedEventLogTests {
    @Test func appendedRecordsReadBackWithDenseOffsetsPerPartitionAndKeyOrder() async throws {
        try await withTemporaryDirectory { directory in
            try await withLog(.init(directory: directory, topics: ["events": 4])) { log in
                let keys = (0..<10).map { "user-\($0)" }
                var appends: [LogAppend] = []
                for sequence in 0..<10 {
                    for key in keys {
                        appends.append(LogAppend(topic: "events", key: key, payload: Array("\(key)#\(sequence)".utf8)))
                    }
                }
                let positions = try await log.append(appends)
                try #require(positions.count == appends.count)

                // Routing: by the stable hash of the key.
                for (append, position) in zip(appends, positions) {
                    #expect(position.topicPartition.topic == "events")
                    #expect(position.topicPartition.partition == StableHash.partition(for: append.key, count: 4))
                }
                // Offsets: dense from 0 in each partition, in the order given.
                var next: [TopicPartition: Int64] = [:]
                for partition in 0..<4 { next[TopicPartition(topic: "events", partition: partition)] = 0 }
                for position in positions {
                    #expect(position.offset == next[position.topicPartition])
                    next[position.topicPartition, default: 0] += 1
                }
                #expect(log.endOffsets() == next)
                #expect(log.startOffsets().values.allSatisfy { $0 == 0 })

                let consumer = try await log.makeConsumer(group: "readers", topics: ["events"])
                #expect(consumer.assignment == (0..<4).map { TopicPartition(topic: "events", partition: $0) })
                let records = try await readRecords(consumer, count: appends.count)
                try #require(records.count == appends.count)

                var expected: [LogPosition: [UInt8]] = [:]
                for (append, position) in zip(appends, positions) { expected[position] = append.payload }
                let before = WallClock.nanoseconds()
                for record in records {
                    let position = LogPosition(topicPartition: record.topicPartition, offset: record.offset)
                    #expect(record.payload == expected[position], "\(position)")
                    #expect(record.appendedAtNanoseconds > 0 && record.appendedAtNanoseconds <= before)
                }
                for (topicPartition, partitionRecords) in Dictionary(grouping: records, by: { $0.topicPartition }) {
                    #expect(partitionRecords.map(\.offset) == Array(0..<Int64(partitionRecords.count)), "\(topicPartition)")
                }
                for key in keys {
                    let sequence = records.map { String(decoding: $0.payload, as: UTF8.self) }
                        .filter { $0.hasPrefix("\(key)#") }
                    #expect(sequence == (0..<10).map { "\(key)#\($0)" })
                }
                #expect(consumer.positions() == log.endOffsets())
                #expect(consumer.lag() == 0)
            }
        }
    }

    @Test func concurrentAppendersAreAllAcknowledgedWithoutGapsOrDuplicates() async throws {
        let tasks = 50
        let appendsPerTask = 100
        try await withTemporaryDirectory { directory in
            try await withLog(.init(directory: directory, topics: ["events": 4])) { log in
                let acknowledged = try await withThrowingTaskGroup(of: [(String, LogPosition)].self) { group in
                    for task in 0..<tasks {
                        group.addTask {
                            var positions: [(String, LogPosition)] = []
                            for sequence in 0..<appendsPerTask {
                                let text = "task-\(task)#\(sequence)"
                                let position = try await log.append([
                                    LogAppend(topic: "events", key: "key-\(task)", payload: Array(text.utf8))
                                ])
                                positions.append((text, position[0]))
                            }
                            return positions
                        }
                    }
                    var all: [[(String, LogPosition)]] = []
                    for try await positions in group { all.append(positions) }
                    return all
                }
                let flat = acknowledged.flatMap { $0 }
                #expect(flat.count == tasks * appendsPerTask)
                #expect(Set(flat.map { $0.1 }).count == flat.count, "two appends got the same position")

                // Within each partition the offsets are exactly 0..<n.
                let byPartition = Dictionary(grouping: flat.map { $0.1 }, by: \.topicPartition)
                for (topicPartition, positions) in byPartition {
                    #expect(positions.map(\.offset).sorted() == Array(0..<Int64(positions.count)), "\(topicPartition)")
                    #expect(log.endOffsets()[topicPartition] == Int64(positions.count))
                }
                #expect(log.endOffsets().values.reduce(0, +) == Int64(tasks * appendsPerTask))
                // Each task's appends, awaited one after the other, got increasing offsets in one partition.
                for positions in acknowledged {
                    #expect(Set(positions.map { $0.1.topicPartition }).count == 1)
                    #expect(zip(positions, positions.dropFirst()).allSatisfy { $0.1.offset < $1.1.offset })
                }

                let consumer = try await log.makeConsumer(group: "audit", topics: ["events"])
                let records = try await readRecords(consumer, count: flat.count)
                #expect(records.count == flat.count)
                let expected = Dictionary(uniqueKeysWithValues: flat.map { ($0.1, $0.0) })
                var seen = Set<LogPosition>()
                for record in records {
                    let position = LogPosition(topicPartition: record.topicPartition, offset: record.offset)
                    #expect(seen.insert(position).inserted, "\(position) read twice")
                    #expect(String(decoding: record.payload, as: UTF8.self) == expected[position])
                }
                #expect(consumer.lag() == 0)
            }
        }
    }

    @Test func bufferedDurabilityAppendsReadsAndSurvivesReopening() async throws {
        try await withTemporaryDirectory { directory in
            let configuration = SegmentedEventLog.Configuration(
                directory: directory, topics: ["t": 2], durability: .buffered)
            let positions = try await withLog(configuration) { log in
                let appends = (0..<50).map { LogAppend(topic: "t", key: "key-\($0 % 7)", payload: payload($0)) }
                let positions = try await log.append(appends)
                let consumer = try await log.makeConsumer(group: "g", topics: ["t"])
                let records = try await readRecords(consumer, count: 50)
                #expect(records.count == 50)
                try await consumer.commit(consumer.positions())
                return positions
            }
            try await withLog(configuration) { log in
                #expect(log.endOffsets().values.reduce(0, +) == 50)
                let consumer = try await log.makeConsumer(group: "fresh", topics: ["t"])
                let records = try await readRecords(consumer, count: 50)
                let expected = Dictionary(uniqueKeysWithValues: zip(positions, (0..<50).map { payload($0) }))
                #expect(records.count == 50)
                for record in records {
                    #expect(record.payload == expected[LogPosition(topicPartition: record.topicPartition, offset: record.offset)])
                }
                let committed = try await log.makeConsumer(group: "g", topics: ["t"])
                #expect(committed.positions() == log.endOffsets())
            }
        }
    }

    @Test func appendToUnknownTopicThrowsAndWritesNothing() async throws {
        try await withTemporaryDirectory { directory in
            try await withLog(.init(directory: directory, topics: ["known": 2])) { log in
                await #expect(throws: EventLogError.unknownTopic("nope")) {
                    try await log.append([LogAppend(topic: "nope", key: "k", payload: [1])])
                }
                // A batch with one bad record is refused as a whole.
                await #expect(throws: EventLogError.unknownTopic("nope")) {
                    try await log.append([
                        LogAppend(topic: "known", key: "k", payload: [1]),
                        LogAppend(topic: "nope", key: "k", payload: [2]),
                    ])
                }
                #expect(log.endOffsets().values.allSatisfy { $0 == 0 })
                await #expect(throws: EventLogError.unknownTopic("nope")) {
                    try await log.makeConsumer(group: "g", topics: ["known", "nope"])
                }
                #expect(log.partitionCount(of: "nope") == 0)
            }
        }
    }

    @Test func aRecordLargerThanTheReaderAcceptsIsRefusedAndNothingOfItsBatchIsWritten() async throws {
        try await withTemporaryDirectory { directory in
            try await withLog(.init(directory: directory, topics: ["known": 1])) { log in
                let limit = 16 * 1_024 * 1_024
                await #expect(throws: EventLogError.recordTooLarge(limit + 1, limit: limit)) {
                    try await log.append([
                        LogAppend(topic: "known", key: "k", payload: [1]),
                        LogAppend(topic: "known", key: "k", payload: [UInt8](repeating: 7, count: limit + 1)),
                    ])
                }
                #expect(log.endOffsets().values.allSatisfy { $0 == 0 })
                // The largest record the reader accepts is still written and read back.
                let positions = try await log.append([
                    LogAppend(topic: "known", key: "k", payload: [UInt8](repeating: 7, count: limit))
                ])
                #expect(positions.map(\.offset) == [0])
                let consumer = try await log.makeConsumer(group: "g", topics: ["known"])
                let records = try await consumer.poll(maxRecords: 10)
                #expect(records.map(\.payload.count) == [limit])
            }
        }
    }

    @Test func appendAfterCloseIsRefusedAndCloseIsIdempotent() async throws {
        try await withTemporaryDirectory { directory in
            let log = try SegmentedEventLog.open(configuration: .init(directory: directory, topics: ["t": 1]), logger: testLogger)
            #expect(try await log.append([]).isEmpty)
            _ = try await log.append([LogAppend(topic: "t", key: "k", payload: [1])])
            await log.close()
            await log.close()
            await #expect(throws: EventLogError.closed) {
                try await log.append([LogAppend(topic: "t", key: "k", payload: [2])])
            }
            #expect(log.endOffsets()[TopicPartition(topic: "t", partition: 0)] == 1)
        }
    }

    @Test func appendLargerThanThePendingLimitIsOverloadedAndWritesNothing() async throws {
        try await withTemporaryDirectory { directory in
            try await withLog(.init(directory: directory, topics: ["t": 1], maxPendingBytes: 100)) { log in
                await #expect(throws: EventLogError.overloaded) {
                    try await log.append([LogAppend(topic: "t", key: "k", payload: [UInt8](repeating: 7, count: 200))])
                }
                #expect(log.endOffsets()[TopicPartition(topic: "t", partition: 0)] == 0)
                // A small append still goes through, at offset 0.
                let positions = try await log.append([LogAppend(topic: "t", key: "k", payload: [1])])
                #expect(positions.map(\.offset) == [0])
            }
        }
    }

    @Test func partitionCountIsFixedWhenTheTopicIsCreated() async throws {
        try await withTemporaryDirectory { directory in
            try await withLog(.init(directory: directory, topics: ["b": 3, "a": 1])) { log in
                #expect(log.topics == ["a", "b"])
                #expect(log.partitionCount(of: "b") == 3)
                #expect(log.endOffsets().count == 4)
            }
            #expect(
                try String(contentsOfFile: "\(directory)/b/partitions", encoding: .utf8)
                    .trimmingCharacters(in: .whitespacesAndNewlines) == "3")
            try await withLog(.init(directory: directory, topics: ["b": 8, "c": 2])) { log in
                #expect(log.partitionCount(of: "b") == 3)
                #expect(log.partitionCount(of: "c") == 2)
                #expect(log.topics == ["b", "c"])
            }
        }
    }

    @Test func recordLargerThanTheReadChunkIsReadWhole() async throws {
        try await withTemporaryDirectory { directory in
            try await withLog(.init(directory: directory, topics: ["t": 1])) { log in
                var big = [UInt8](repeating: 0, count: 1_536 * 1_024)  // 1.5 MiB, more than a 1 MiB read chunk
                for index in big.indices { big[index] = UInt8(truncatingIfNeeded: index &* 31 &+ index >> 9) }
                let positions = try await log.append([
                    LogAppend(topic: "t", key: "k", payload: [1, 2, 3]),
                    LogAppend(topic: "t", key: "k", payload: big),
                    LogAppend(topic: "t", key: "k", payload: [4, 5, 6]),
                ])
                #expect(positions.map(\.offset) == [0, 1, 2])
                let consumer = try await log.makeConsumer(group: "g", topics: ["t"])
                let records = try await readRecords(consumer, count: 3)
                try #require(records.count == 3)
                #expect(records.map(\.offset) == [0, 1, 2])
                #expect(records[0].payload == [1, 2, 3])
                #expect(records[1].payload == big)
                #expect(records[2].payload == [4, 5, 6])
            }
            // Recovery scans the big record too.
            try await withLog(.init(directory: directory, topics: ["t": 1])) { log in
                #expect(log.endOffsets()[TopicPartition(topic: "t", partition: 0)] == 3)
            }
        }
    }

    @Test func emptyPayloadsRoundTrip() async throws {
        try await withTemporaryDirectory { directory in
            try await withLog(.init(directory: directory, topics: ["t": 1])) { log in
                _ = try await log.append([LogAppend(topic: "t", key: "k", payload: []), LogAppend(topic: "t", key: "k", payload: [])])
                let consumer = try await log.makeConsumer(group: "g", topics: ["t"])
                let records = try await readRecords(consumer, count: 2)
                #expect(records.map(\.offset) == [0, 1])
                #expect(records.allSatisfy { $0.payload.isEmpty })
            }
        }
    }

    @Test func consumerOfOneTopicSeesOnlyThatTopic() async throws {
        try await withTemporaryDirectory { directory in
            try await withLog(.init(directory: directory, topics: ["views": 2, "clicks": 3])) { log in
                _ = try await log.append((0..<20).map { LogAppend(topic: "views", key: "u\($0)", payload: Array("v\($0)".utf8)) })
                _ = try await log.append((0..<5).map { LogAppend(topic: "clicks", key: "u\($0)", payload: Array("c\($0)".utf8)) })
                let consumer = try await log.makeConsumer(group: "g", topics: ["clicks"])
                #expect(consumer.assignment == (0..<3).map { TopicPartition(topic: "clicks", partition: $0) })
                let records = try await readRecords(consumer, count: 5)
                #expect(records.count == 5)
                #expect(records.allSatisfy { $0.topicPartition.topic == "clicks" })
                #expect(Set(records.map { String(decoding: $0.payload, as: UTF8.self) }) == Set((0..<5).map { "c\($0)" }))
                #expect(consumer.lag() == 0)
            }
        }
    }
}
