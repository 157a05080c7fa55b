import Foundation
import StarlingCore
import StarlingEventLog
import Testing

struct ConsumerTests {
    @Test func committedOffsetsSurviveReopening() async throws {
        try await withTemporaryDirectory { directory in
            let configuration = SegmentedEventLog.Configuration(directory: directory, topics: ["t": 2])
            let p0 = TopicPartition(topic: "t", partition: 0)
            let p1 = TopicPartition(topic: "t", partition: 1)
            let key0 = try #require((0..<100).map { "k\($0)" }.first { StableHash.partition(for: $0, count: 2) == 0 })
            let key1 = try #require((0..<100).map { "k\($0)" }.first { StableHash.partition(for: $0, count: 2) == 1 })
            try await withLog(configuration) { log in
                _ = try await log.append((0..<10).map { LogAppend(topic: "t", key: key0, payload: payload($0)) })
                _ = try await log.append((0..<10).map { LogAppend(topic: "t", key: key1, payload: payload(100 + $0)) })
                let consumer = try await log.makeConsumer(group: "g", topics: ["t"])
                #expect(try await consumer.committed().isEmpty)
                #expect(consumer.positions() == [p0: 0, p1: 0])
                try await consumer.commit([p0: 3, p1: 1])
                #expect(try await consumer.committed() == [p0: 3, p1: 1])
            }
            try await withLog(configuration) { log in
                let consumer = try await log.makeConsumer(group: "g", topics: ["t"])
                #expect(try await consumer.committed() == [p0: 3, p1: 1])
                #expect(consumer.positions() == [p0: 3, p1: 1])
                let records = try await readRecords(consumer, count: 16)
                #expect(records.filter { $0.topicPartition == p0 }.map(\.offset) == Array(3..<10))
                #expect(records.filter { $0.topicPartition == p1 }.map(\.offset) == Array(1..<10))
                #expect(records.first { $0.topicPartition == p0 }?.payload == payload(3))
                #expect(records.first { $0.topicPartition == p1 }?.payload == payload(101))

                // Committing one partition keeps the others' committed positions.
                try await consumer.commit([p0: 10])
                #expect(try await consumer.committed() == [p0: 10, p1: 1])

                // Another group has its own (empty) positions.
                let other = try await log.makeConsumer(group: "other", topics: ["t"])
                #expect(try await other.committed().isEmpty)
                #expect(other.positions() == [p0: 0, p1: 0])
            }
            try await withLog(configuration) { log in
                let consumer = try await log.makeConsumer(group: "g", topics: ["t"])
                #expect(consumer.positions() == [p0: 10, p1: 1])
            }
        }
    }

    @Test func waitingPollIsWokenByALaterAppend() async throws {
        try await withTemporaryDirectory { directory in
            try await withLog(.init(directory: directory, topics: ["t": 1])) { log in
                let consumer = try await log.makeConsumer(group: "g", topics: ["t"])
                let polling = Task { try await consumer.poll(maxRecords: 10) }
                // Give the poll time to find nothing and start waiting (the test is also correct if it has not).
                try await Task.sleep(for: .milliseconds(200))
                _ = try await log.append([LogAppend(topic: "t", key: "k", payload: Array("wake".utf8))])
                let records = try await withTimeout(.seconds(10)) { try await polling.value }
                polling.cancel()
                let woken = try #require(records, "the waiting poll was not woken by the append")
                #expect(woken.map(\.offset) == [0])
                #expect(woken.first?.payload == Array("wake".utf8))
            }
        }
    }

    @Test func waitingPollIsWokenByAnAppendToAnotherPartitionThenByItsOwn() async throws {
        try await withTemporaryDirectory { directory in
            try await withLog(.init(directory: directory, topics: ["a": 1, "b": 1])) { log in
                let consumer = try await log.makeConsumer(group: "g", topics: ["a"])
                let polling = Task { try await consumer.poll(maxRecords: 10) }
                try await Task.sleep(for: .milliseconds(100))
                // A commit to a topic the consumer does not read must not end its poll with nothing.
                _ = try await log.append([LogAppend(topic: "b", key: "k", payload: [1])])
                try await Task.sleep(for: .milliseconds(100))
                _ = try await log.append([LogAppend(topic: "a", key: "k", payload: [2])])
                let records = try await withTimeout(.seconds(10)) { try await polling.value }
                polling.cancel()
                let woken = try #require(records)
                #expect(woken.map(\.payload) == [[2]])
                #expect(woken.allSatisfy { $0.topicPartition.topic == "a" })
            }
        }
    }

    @Test func waitingPollEndsWithClosedWhenTheLogCloses() async throws {
        try await withTemporaryDirectory { directory in
            let log = try SegmentedEventLog.open(configuration: .init(directory: directory, topics: ["t": 1]), logger: testLogger)
            let consumer = try await log.makeConsumer(group: "g", topics: ["t"])
            let polling = Task { try await consumer.poll(maxRecords: 10) }
            try await Task.sleep(for: .milliseconds(100))
            await log.close()
            let outcome = try await withTimeout(.seconds(10)) { () -> Result<[LogRecord], EventLogError> in
                do {
                    return .success(try await polling.value)
                } catch let error as EventLogError {
                    return .failure(error)
                }
            }
            polling.cancel()
            let result = try #require(outcome, "the waiting poll did not end when the log closed")
            #expect(throws: EventLogError.closed) { try result.get() }
        }
    }

    @Test func cancellingAWaitingPollReturnsNoRecords() async throws {
        try await withTemporaryDirectory { directory in
            try await withLog(.init(directory: directory, topics: ["t": 1])) { log in
                let consumer = try await log.makeConsumer(group: "g", topics: ["t"])
                let polling = Task { try await consumer.poll(maxRecords: 10) }
                try await Task.sleep(for: .milliseconds(100))
                polling.cancel()
                let records = try await withTimeout(.seconds(10)) { try await polling.value }
                let returned = try #require(records, "the cancelled poll did not return")
                #expect(returned.isEmpty)
                // The consumer still works afterwards.
                _ = try await log.append([LogAppend(topic: "t", key: "k", payload: [9])])
                #expect(try await readRecords(consumer, count: 1).map(\.payload) == [[9]])
            }
        }
    }

    @Test func pollReturnsAtMostMaxRecordsAndTracksLag() async throws {
        try await withTemporaryDirectory { directory in
            try await withLog(.init(directory: directory, topics: ["t": 3])) { log in
                _ = try await log.append((0..<30).map { LogAppend(topic: "t", key: "key-\($0)", payload: payload($0)) })
                let consumer = try await log.makeConsumer(group: "g", topics: ["t"])
                #expect(consumer.lag() == 30)
                let first = try await consumer.poll(maxRecords: 4)
                #expect(first.count == 4)
                #expect(consumer.lag() == 26)
                var total = first.count
                while total < 30 {
                    let batch = try await consumer.poll(maxRecords: 4)
                    #expect((1...4).contains(batch.count))
                    total += batch.count
                }
                #expect(total == 30)
                #expect(consumer.lag() == 0)
                #expect(consumer.positions().values.reduce(0, +) == 30)
            }
        }
    }

    @Test func seekMovesOnlyTheGivenPartitions() async throws {
        try await withTemporaryDirectory { directory in
            try await withLog(.init(directory: directory, topics: ["t": 2])) { log in
                let p0 = TopicPartition(topic: "t", partition: 0)
                let p1 = TopicPartition(topic: "t", partition: 1)
                let consumer = try await log.makeConsumer(group: "g", topics: ["t"])
                try await consumer.seek(to: [p0: 5])
                #expect(consumer.positions() == [p0: 5, p1: 0])
                try await consumer.seek(to: [p1: 7, TopicPartition(topic: "elsewhere", partition: 0): 3])
                #expect(consumer.positions() == [p0: 5, p1: 7])
            }
        }
    }
}
