#if Kafka
import StarlingCore
extension KafkaEventLog {
    /// Settings of a ``KafkaEventLog``.
    public struct Configuration: Sendable {
        /// The brokers to bootstrap from (`bootstrap.servers`): `host:port[,host:port…]`.
        public var brokers: String
        /// The topics of the log, each with the partition count it is created with when the cluster lacks it. A
        /// topic that exists keeps its own count.
        public var topics: [String: Int]
        /// The replication factor of topics the log creates. Defaults to 3; the cluster needs as many brokers.
        public var replicationFactor: Int
        /// How long the producer waits for more records before it sends a batch (`linger.ms`). Defaults to 5 ms:
        /// an acknowledgement waits this long at most, and a busy log sends fewer, larger requests.
        public var linger: Duration
        /// How long a record may wait for the brokers' acknowledgement, retries included (`message.timeout.ms`),
        /// before its append fails with ``StarlingCore/EventLogError/unavailable(_:)``. Defaults to 30 seconds.
        public var deliveryTimeout: Duration
        /// The longest wait for a metadata, admin, offset or commit request. Defaults to 10 seconds.
        public var requestTimeout: Duration
        /// Appends are refused with ``StarlingCore/EventLogError/overloaded`` (before anything is produced) while
        /// this many records wait for their acknowledgement. Defaults to 100,000.
        public var maxPendingRecords: Int
        /// Appends are refused while this many payload bytes wait for their acknowledgement. Defaults to 64 MiB.
        public var maxPendingBytes: Int
        /// The client id brokers see (`client.id`). Defaults to `starling`.
        public var clientID: String
        /// More librdkafka settings for the producer and every consumer, applied after the log's own (for example
        /// `security.protocol`, `sasl.*`, or `partitioner`).
        public var properties: [String: String]
        /// More librdkafka settings for consumers only (for example `session.timeout.ms`).
        public var consumerProperties: [String: String]
        /// Creates missing topics instead of the admin API, for tests against librdkafka's mock cluster, which does
        /// not implement `CreateTopics`; `nil` in production.
        package var createTopics: (@Sendable ([KafkaTopicSpecification]) throws -> Void)?

        public init(
            brokers: String,
            topics: [String: Int],
            replicationFactor: Int = 3,
            linger: Duration = .milliseconds(5),
            deliveryTimeout: Duration = .seconds(30),
            requestTimeout: Duration = .seconds(10),
            maxPendingRecords: Int = 100_000,
            maxPendingBytes: Int = 64 * 1_024 * 1_024,
            clientID: String = "starling",
            properties: [String: String] = [:],
            consumerProperties: [String: String] = [:]
        ) {
            precondition(!topics.isEmpty, "a log needs a topic")
            precondition(topics.values.allSatisfy { $0 >= 1 }, "every topic needs a partition")
            precondition(replicationFactor >= 1, "the replication factor must be positive")
            precondition(maxPendingRecords >= 1 && maxPendingBytes >= 1, "the pending limits must be positive")
            self.brokers = brokers
            self.topics = topics
            self.replicationFactor = replicationFactor
            self.linger = linger
            self.deliveryTimeout = deliveryTimeout
            self.requestTimeout = requestTimeout
            self.maxPendingRecords = maxPendingRecords
            self.maxPendingBytes = maxPendingBytes
                self.clientID = clientID
            self.properties = properties
            self.consumerProperties = consumerProperties
        }

        /// The producer's librdkafka settings: idempotent (`enable.idempotence`, which also means `acks=all`,
        /// unlimited retries within ``deliveryTimeout`` and ordered, de-duplicated retries per partition), batching
        /// with ``linger``, keys partitioned by `murmur2_random` (the Java client's partitioner, so other producers
        /// keyed by user id pick the same partitions), and no automatic topic creation.
        var producerProperties: [(String, String)] {
            var settings: [(String, String)] = [
                ("bootstrap.servers", self.brokers),
                ("client.id", self.clientID),
                ("enable.idempotence", "true"),
                ("acks", "all"),
                ("linger.ms", "\(self.linger.wholeMilliseconds)"),
                ("message.timeout.ms", "\(self.deliveryTimeout.wholeMilliseconds)"),
                ("partitioner", "murmur2_random"),
                // A request to a broker that went away fails after this long (librdkafka's default is a minute),
                // so that watermark reads and closing do not wait longer than the other requests.
                ("socket.timeout.ms", "\(self.requestTimeout.wholeMilliseconds)"),
                ("allow.auto.create.topics", "false"),
                // The log's own limits refuse appends first; librdkafka's queue never fills before them.
                ("queue.buffering.max.messages", "\(min(self.maxPendingRecords * 2, 10_000_000))"),
                ("queue.buffering.max.kbytes", "\(min(self.maxPendingBytes / 512 + 1_024, 2_097_151))"),
                ("log.connection.close", "false"),
            ]
            settings += self.properties.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
            return settings
        }

        /// A consumer's librdkafka settings: in `group`, positions kept by the caller (no automatic commit or offset
        /// store), reading from the earliest retained record where the group has no position.
        func consumerSettings(group: String) -> [(String, String)] {
            var settings: [(String, String)] = [
                ("bootstrap.servers", self.brokers),
                ("client.id", self.clientID),
                ("group.id", group),
                ("enable.auto.commit", "false"),
                ("enable.auto.offset.store", "false"),
                ("auto.offset.reset", "earliest"),
                ("enable.partition.eof", "false"),
                ("socket.timeout.ms", "\(self.requestTimeout.wholeMilliseconds)"),
                ("log.connection.close", "false"),
            ]
            settings += self.properties.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
            settings += self.consumerProperties.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
            return settings
        }
    }
}

/// A topic to create: its name, partition count and replication factor.
public struct KafkaTopicSpecification: Hashable, Sendable {
    public var name: String
    public var partitions: Int
    public var replicationFactor: Int

    public init(name: String, partitions: Int, replicationFactor: Int) {
        self.name = name
        self.partitions = partitions
        self.replicationFactor = replicationFactor
    }
}
#endif
