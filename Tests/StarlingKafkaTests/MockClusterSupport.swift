#if Kafka
import Logging
import StarlingCore
import StarlingKafka

/// Runs `body` with a fresh mock cluster (one broker on loopback) and a log on it whose missing topics the mock
/// creates (it does not implement the admin API's `CreateTopics`); closes both afterwards.
func withMockLog(
    topics: [String: Int] = ["views": 3, "feedback": 2],
    configure: (inout KafkaEventLog.Configuration) -> Void = { _ in },
    _ body: (KafkaMockCluster, KafkaEventLog) async throws -> Void
) async throws {
    let logger = Logger(label: "starling.kafka.test")
    let cluster = try KafkaMockCluster(brokers: 1, logger: logger)
    defer { cluster.shutdown() }
    var configuration = KafkaEventLog.Configuration(
        brokers: cluster.bootstrapServers,
        topics: topics,
        replicationFactor: 1,
        requestTimeout: .seconds(5)
    )
    configuration.createTopics = { try cluster.createTopics($0) }
    configure(&configuration)
    let log = try await KafkaEventLog.open(configuration: configuration, logger: logger)
    do {
        try await body(cluster, log)
    } catch {
        await log.close()
        throw error
    }
    await log.close()
}

/// Polls `consumer` until it has returned `count` records; throws when one poll waits more than 30 s.
func read(_ count: Int, from consumer: KafkaEventLogConsumer) async throws -> [LogRecord] {
    var records: [LogRecord] = []
    while records.count < count {
        let have = records.count
        let batch = try await withThrowingTaskGroup(of: [LogRecord].self) { group in
            group.addTask { try await consumer.poll(maxRecords: count - have) }
            group.addTask {
                try await Task.sleep(for: .seconds(30))
                throw KafkaTestError("timed out after 30 s waiting for \(count) records (got \(have))")
            }
            defer { group.cancelAll() }
            return try await group.next()!
        }
        records += batch
    }
    return records
}

func payload(_ text: String) -> [UInt8] { Array(text.utf8) }

func text(_ record: LogRecord) -> String { String(decoding: record.payload, as: UTF8.self) }

struct KafkaTestError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
#endif
