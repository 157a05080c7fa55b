#if Kafka
import CRdKafka
public import Logging
public import StarlingCore

/// librdkafka's mock Kafka cluster (`rdkafka_mock.h`): brokers in this process that speak the Kafka protocol on
/// loopback, so that Starling processes and tools such as `kcat` connect to it as to a real cluster. For tests and
/// local runs; no data survives it.
///
/// The mock implements producing (idempotent too), fetching, offsets, consumer groups and metadata, but not the
/// admin API's `CreateTopics`: create topics with ``createTopic(_:partitions:replicationFactor:)`` (or hand
/// ``createTopics(_:)`` to ``KafkaEventLog/Configuration``'s test hook).
///
/// ```swift
/// let cluster = try KafkaMockCluster(brokers: 1, logger: logger)
/// try cluster.createTopic("views", partitions: 4)
/// let log = try await KafkaEventLog.open(configuration: .init(brokers: cluster.bootstrapServers, …), logger: logger)
/// ```
public final class KafkaMockCluster: Sendable {
    /// A Kafka protocol request type, for error injection.
    public struct Request: Hashable, Sendable {
        let key: Int16
        public static let produce = Request(key: 0)
        public static let fetch = Request(key: 1)
        public static let listOffsets = Request(key: 2)
        public static let metadata = Request(key: 3)
        public static let offsetCommit = Request(key: 8)
        public static let offsetFetch = Request(key: 9)
        public static let initProducerID = Request(key: 22)
    }

    /// A Kafka protocol error code, for error injection.
    public struct ErrorCode: Hashable, Sendable {
        let code: rd_kafka_resp_err_t
        /// Retriable: the producer retries it until its delivery time-out.
        public static let notEnoughReplicas = ErrorCode(code: RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS)
        /// Not retriable: the record fails at once.
        public static let topicAuthorizationFailed = ErrorCode(code: RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED)
        /// Not retriable: the record fails at once.
        public static let messageTooLarge = ErrorCode(code: RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE)
        /// Not retriable for a commit.
        public static let groupAuthorizationFailed = ErrorCode(code: RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED)
        /// The broker drops the connection instead of answering.
        public static let disconnect = ErrorCode(code: RD_KAFKA_RESP_ERR__TRANSPORT)
    }

    private let client: KafkaClient
    private let cluster: MockClusterHandle
    /// The brokers' `host:port` list, for `bootstrap.servers`.
    public let bootstrapServers: String

    /// Starts `brokers` brokers listening on loopback ports.
    public init(brokers: Int = 1, logger: Logger) throws {
        // The cluster lives on a client of its own, which connects nowhere.
        let client = try KafkaClient(
            kind: RD_KAFKA_PRODUCER,
            properties: [("log_level", "3")],
            context: KafkaClientContext(logger: logger)
        )
        guard let cluster = rd_kafka_mock_cluster_new(client.handle, Int32(brokers)) else {
            client.destroy()
            throw EventLogError.configuration("librdkafka could not start a mock cluster")
        }
        self.client = client
        self.cluster = MockClusterHandle(cluster)
        self.bootstrapServers = String(cString: rd_kafka_mock_cluster_bootstraps(cluster))
    }

    /// Creates a topic.
    public func createTopic(_ name: String, partitions: Int, replicationFactor: Int = 1) throws {
        let error = rd_kafka_mock_topic_create(
            self.cluster.pointer,
            name,
            Int32(partitions),
            Int32(replicationFactor)
        )
        guard error == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw EventLogError.configuration("the mock cluster did not create topic \(name): \(KafkaClient.describe(error))")
        }
    }

    /// Creates every topic: what ``KafkaEventLog/Configuration``'s topic-creation hook takes.
    public func createTopics(_ specifications: [KafkaTopicSpecification]) throws {
        for specification in specifications {
            try self.createTopic(
                specification.name,
                partitions: specification.partitions,
                replicationFactor: specification.replicationFactor
            )
        }
    }

    /// Makes the next `errors.count` requests of type `request` (to any broker) fail with these errors, in order.
    public func failRequests(_ request: Request, with errors: [ErrorCode]) {
        let codes = errors.map(\.code)
        codes.withUnsafeBufferPointer {
            rd_kafka_mock_push_request_errors_array(self.cluster.pointer, request.key, $0.count, $0.baseAddress)
        }
    }

    /// Disconnects broker `id` (1-based) and refuses new connections to it, or lets it accept them again.
    public func setBroker(_ id: Int, up: Bool) {
        if up {
            _ = rd_kafka_mock_broker_set_up(self.cluster.pointer, Int32(id))
        } else {
            _ = rd_kafka_mock_broker_set_down(self.cluster.pointer, Int32(id))
        }
    }

    /// Stops the brokers (their clients see connections refused) and frees the cluster. Call once, last.
    public func shutdown() {
        rd_kafka_mock_cluster_destroy(self.cluster.pointer)
        self.client.destroy()
    }
}

/// The mock cluster's handle.
private final class MockClusterHandle: @unchecked Sendable {
    // @unchecked: immutable; the mock cluster serialises the calls made on it through its own thread.
    let pointer: OpaquePointer

    init(_ pointer: OpaquePointer) {
        self.pointer = pointer
    }
}
#endif
