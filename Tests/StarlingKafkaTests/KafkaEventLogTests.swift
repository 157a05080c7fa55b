#if Kafka
import Logging
import StarlingCore
import StarlingKafka
import StarlingTestSupport
import Testing

/// The Kafka event log against librdkafka's mock cluster, which speaks the Kafka protocol on loopback.
@Suite(.timeLimit(.minutes(2)))
struct KafkaEventLogTests {
    @Test func appendsComeBackFromAConsumerInEachKeysOrder() async throws {
        try await withMockLog { _, log in
            var appended: [LogPosition] = []
            var expected: [String: [String]] = [:]
            for round in 0..<5 {
                var batch: [LogAppend] = []
                for user in ["ann", "bob", "cat", "dan"] {
                    let topic = round % 2 == 0 ? "views" : "feedback"
                    batch.append(LogAppend(topic: topic, key: user, payload: payload("\(user)-\(round)")))
                    expected[user, default: []].append("\(user)-\(round)")
                }
                appended += try await log.append(batch)
            }
            #expect(appended.count == 20)

            let consumer = try await log.makeConsumer(group: "readers", topics: ["views", "feedback"])
            #expect(consumer.assignment.count == 5)
            let records = try await read(20, from: consumer)
            var seen: [String: [String]] = [:]
            var partitionsOfUser: [String: Set<TopicPartition>] = [:]
            for record in records.sorted(by: { ($0.offset, $0.topicPartition) < ($1.offset, $1.topicPartition) }) {
                let user = String(text(record).split(separator: "-")[0])
                partitionsOfUser[user, default: []].insert(record.topicPartition)
            }
            // Per partition, offsets are dense and increasing, and every record is where its append said it landed.
            var byPartition: [TopicPartition: [LogRecord]] = [:]
            for record in records { byPartition[record.topicPartition, default: []].append(record) }
            for (partition, partitionRecords) in byPartition {
                #expect(partitionRecords.map(\.offset) == Array(0..<Int64(partitionRecords.count)), "\(partition)")
            }
            #expect(Set(records.map { LogPosition(topicPartition: $0.topicPartition, offset: $0.offset) }) == Set(appended))
            // One user's records of one topic share a partition, so they come back in the order appended.
            for record in records {
                seen[String(text(record).split(separator: "-")[0]), default: []].append(text(record))
            }
            for (user, payloads) in expected {
                let order = { (name: String) in Int(name.split(separator: "-")[1])! }
                let views = seen[user, default: []].filter { order($0) % 2 == 0 }
                let feedback = seen[user, default: []].filter { order($0) % 2 == 1 }
                #expect(views == payloads.filter { order($0) % 2 == 0 }, "\(user)")
                #expect(feedback == payloads.filter { order($0) % 2 == 1 }, "\(user)")
                #expect(partitionsOfUser[user]!.count == 2, "one partition per topic for \(user)")
            }
            await consumer.close()
        }
    }

    @Test func anAppendReturnsOnlyOnceTheBrokerAcknowledgedEveryRecord() async throws {
        // A long linger: an append that returned before the delivery reports would find the records unwritten.
        try await withMockLog(configure: { $0.linger = .milliseconds(200) }) { cluster, log in
            let batch = (0..<50).map { LogAppend(topic: "views", key: "user-\($0)", payload: payload("e\($0)")) }
            let positions = try await log.append(batch)
            #expect(positions.count == 50)
            // A second client reads the brokers' high watermarks: every record is already written.
            let observer = try await KafkaEventLog.open(
                configuration: .init(brokers: cluster.bootstrapServers, topics: ["views": 3], replicationFactor: 1),
                logger: Logger(label: "starling.kafka.test")
            )
            let ends = observer.endOffsets()
            await observer.close()
            for position in positions {
                #expect(position.offset < ends[position.topicPartition]!, "\(position)")
            }
            #expect(ends.values.reduce(0, +) == 50)
            #expect(log.endOffsets().filter { $0.key.topic == "views" } == ends)
        }
    }

    @Test func endOffsetsCountWhatOtherProducersAppendOnceAConsumerFetchedIt() async throws {
        try await withMockLog(topics: ["views": 2]) { cluster, log in
            let consumer = try await log.makeConsumer(group: "readers", topics: ["views"])
            let other = try await KafkaEventLog.open(
                configuration: .init(brokers: cluster.bootstrapServers, topics: ["views": 2], replicationFactor: 1),
                logger: Logger(label: "starling.kafka.test")
            )
            let appended = try await other.append(
                (0..<5).map { LogAppend(topic: "views", key: "user-\($0)", payload: payload("e\($0)")) }
            )
            await other.close()
            #expect(log.endOffsets().values.reduce(0, +) == 0)
            #expect(try await read(5, from: consumer).count == 5)
            try await eventually("the consumer's fetches to carry the other producer's records") {
                log.endOffsets().values.reduce(0, +) == 5
            }
            for position in appended {
                #expect(log.endOffsets()[position.topicPartition]! > position.offset)
            }
            await consumer.close()
        }
    }

    @Test func recordsCarryTheProducersCreateTime() async throws {
        try await withMockLog { _, log in
            let before = WallClock.nanoseconds() / 1_000_000 * 1_000_000
            _ = try await log.append([LogAppend(topic: "views", key: "ann", payload: payload("x"))])
            let after = WallClock.nanoseconds()
            let consumer = try await log.makeConsumer(group: "readers", topics: ["views"])
            let record = try #require(try await read(1, from: consumer).first)
            #expect(record.appendedAtNanoseconds >= before && record.appendedAtNanoseconds <= after)
            await consumer.close()
        }
    }

    @Test func aGroupsCommitIsReadBackAndSeekMovesThePosition() async throws {
        try await withMockLog(topics: ["views": 1]) { _, log in
            _ = try await log.append((0..<6).map { LogAppend(topic: "views", key: "ann", payload: payload("e\($0)")) })
            let partition = TopicPartition(topic: "views", partition: 0)
            let consumer = try await log.makeConsumer(group: "processors", topics: ["views"])
            #expect(try await consumer.committed() == [:])
            #expect(consumer.positions() == [partition: 0])

            #expect(try await read(6, from: consumer).map(text) == (0..<6).map { "e\($0)" })
            #expect(consumer.positions() == [partition: 6])
            try await consumer.commit([partition: 4])
            #expect(try await consumer.committed() == [partition: 4])

            // Back: what was read is read again, and nothing fetched before the seek comes first.
            try await consumer.seek(to: [partition: 1])
            #expect(consumer.positions() == [partition: 1])
            #expect(try await read(2, from: consumer).map(text) == ["e1", "e2"])
            // Forward.
            try await consumer.seek(to: [partition: 5])
            #expect(try await read(1, from: consumer).map(\.offset) == [5])
            #expect(consumer.positions() == [partition: 6])
            // Another group has its own positions.
            let other = try await log.makeConsumer(group: "others", topics: ["views"])
            #expect(try await other.committed() == [:])
            await other.close()
            await consumer.close()
        }
    }

    @Test func aNewConsumerOfTheGroupStartsAtTheCommittedPositions() async throws {
        try await withMockLog(topics: ["views": 2]) { _, log in
            let batch = (0..<10).map { LogAppend(topic: "views", key: "user-\($0 % 4)", payload: payload("e\($0)")) }
            _ = try await log.append(batch)
            let first = try await log.makeConsumer(group: "processors", topics: ["views"])
            let records = try await read(10, from: first)
            let positions = first.positions()
            #expect(positions.values.reduce(0, +) == 10)
            try await first.commit(positions)
            await first.close()

            let more = try await log.append([LogAppend(topic: "views", key: "user-1", payload: payload("late"))])
            let restarted = try await log.makeConsumer(group: "processors", topics: ["views"])
            #expect(restarted.positions() == positions)
            #expect(try await restarted.committed() == positions)
            // Only what came after the commit.
            let next = try await read(1, from: restarted)
            #expect(next.map(text) == ["late"])
            #expect(next[0].offset == more[0].offset)
            #expect(Set(records.map(text)).count == 10)
            await restarted.close()
        }
    }

    @Test func pollStopsWaitingWhenItsTaskIsCancelled() async throws {
        try await withMockLog(topics: ["views": 1]) { _, log in
            let consumer = try await log.makeConsumer(group: "idle", topics: ["views"])
            let poll = Task { try await consumer.poll(maxRecords: 10) }
            poll.cancel()
            #expect(try await poll.value.isEmpty)
            await consumer.close()
            await #expect(throws: EventLogError.closed) { try await consumer.poll(maxRecords: 1) }
        }
    }

    @Test func missingTopicsAreCreatedWithTheConfiguredPartitionsAndReplication() async throws {
        let requested = LockedBox<[KafkaTopicSpecification]>([])
        let logger = Logger(label: "starling.kafka.test")
        let cluster = try KafkaMockCluster(brokers: 1, logger: logger)
        defer { cluster.shutdown() }
        // One topic exists already with another partition count: it keeps its own.
        try cluster.createTopic("views", partitions: 2)
        var configuration = KafkaEventLog.Configuration(
            brokers: cluster.bootstrapServers,
            topics: ["views": 4, "feedback": 3, "catalog": 5],
            replicationFactor: 1
        )
        configuration.createTopics = { specifications in
            requested.withLock { $0 += specifications }
            try cluster.createTopics(specifications)
        }
        let log = try await KafkaEventLog.open(configuration: configuration, logger: logger)
        #expect(
            requested.value == [
                KafkaTopicSpecification(name: "catalog", partitions: 5, replicationFactor: 1),
                KafkaTopicSpecification(name: "feedback", partitions: 3, replicationFactor: 1),
            ]
        )
        #expect(log.topics == ["catalog", "feedback", "views"])
        #expect(log.partitionCount(of: "views") == 2)
        #expect(log.partitionCount(of: "feedback") == 3)
        #expect(log.endOffsets().count == 10)
        let positions = try await log.append([LogAppend(topic: "catalog", key: "dune", payload: payload("c"))])
        #expect(positions[0].topicPartition.topic == "catalog")
        await log.close()
    }

    @Test func aClusterThatCannotCreateTheTopicsFailsTheOpenNamingThem() async throws {
        let logger = Logger(label: "starling.kafka.test")
        let cluster = try KafkaMockCluster(brokers: 1, logger: logger)
        defer { cluster.shutdown() }
        // No hook: the admin API's CreateTopics, which the mock cluster does not answer.
        let configuration = KafkaEventLog.Configuration(
            brokers: cluster.bootstrapServers,
            topics: ["views": 2],
            replicationFactor: 1,
            requestTimeout: .seconds(1)
        )
        let error = await #expect(throws: EventLogError.self) {
            _ = try await KafkaEventLog.open(configuration: configuration, logger: logger)
        }
        #expect(error?.message.contains("views") == true, "\(String(describing: error))")
    }

    @Test func aBrokerThatStaysDownFailsTheAppendInsteadOfLosingIt() async throws {
        try await withMockLog(topics: ["views": 1], configure: { $0.deliveryTimeout = .seconds(1) }) { cluster, log in
            _ = try await log.append([LogAppend(topic: "views", key: "ann", payload: payload("before"))])
            cluster.setBroker(1, up: false)
            await #expect(throws: EventLogError.unavailable("")) {
                _ = try await log.append([LogAppend(topic: "views", key: "ann", payload: payload("lost"))])
            }
            cluster.setBroker(1, up: true)
            // The log goes on once the producer has reconnected; the failed append left no record behind.
            try await eventually("an append to succeed after the broker is back") {
                (try? await log.append([LogAppend(topic: "views", key: "ann", payload: payload("after"))])) != nil
            }
            let consumer = try await log.makeConsumer(group: "readers", topics: ["views"])
            let end = log.endOffsets()[TopicPartition(topic: "views", partition: 0)]!
            let records = try await read(Int(end), from: consumer).map(text)
            #expect(records.first == "before")
            #expect(records.last == "after")
            #expect(!records.contains("lost"))
            await consumer.close()
        }
    }

    @Test func aRecordTheBrokerRefusesFailsItsAppend() async throws {
        try await withMockLog(topics: ["views": 1]) { cluster, log in
            cluster.failRequests(.produce, with: [.messageTooLarge])
            let error = await #expect(throws: EventLogError.unavailable("")) {
                _ = try await log.append([LogAppend(topic: "views", key: "ann", payload: payload("refused"))])
            }
            #expect(error?.message.contains("1 of 1") == true, "\(String(describing: error))")
            let positions = try await log.append([LogAppend(topic: "views", key: "ann", payload: payload("ok"))])
            #expect(positions.count == 1)
        }
    }

    @Test func appendsBeyondThePendingLimitAreRefusedAsOverloadedBeforeAnythingIsProduced() async throws {
        try await withMockLog(topics: ["views": 1], configure: { $0.maxPendingRecords = 2 }) { cluster, log in
            cluster.setBroker(1, up: false)
            // Two records wait for a broker that is down …
            let waiting = Task {
                try await log.append([
                    LogAppend(topic: "views", key: "ann", payload: payload("a")),
                    LogAppend(topic: "views", key: "bob", payload: payload("b")),
                ])
            }
            try await eventually("the first batch to be pending") { log.pendingRecords == 2 }
            // … so a third is refused at once, and not produced.
            await #expect(throws: EventLogError.overloaded) {
                _ = try await log.append([LogAppend(topic: "views", key: "cat", payload: payload("refused"))])
            }
            cluster.setBroker(1, up: true)
            #expect(try await waiting.value.count == 2)
            let consumer = try await log.makeConsumer(group: "readers", topics: ["views"])
            #expect(try await read(2, from: consumer).map(text) == ["a", "b"])
            await consumer.close()
        }
    }

    @Test func aClosedLogRefusesAppends() async throws {
        try await withMockLog { _, log in
            await log.close()
            await #expect(throws: EventLogError.closed) {
                _ = try await log.append([LogAppend(topic: "views", key: "ann", payload: payload("late"))])
            }
            await #expect(throws: EventLogError.unknownTopic("nope")) {
                _ = try await log.makeConsumer(group: "g", topics: ["nope"])
            }
        }
    }
}
#endif
