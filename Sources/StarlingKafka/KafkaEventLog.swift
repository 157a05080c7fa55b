#if Kafka
import CRdKafka
import Foundation
public import Logging
import Metrics
public import ServiceLifecycle
public import StarlingCore
import Synchronization

/// The event log on a Kafka cluster, through librdkafka: the same topics, keys and consumer groups as the embedded
/// log, so the stream processor, ingest and the catalogue run on it unchanged.
///
/// Appends go through one idempotent producer (`acks=all`, batched with ``Configuration/linger``) and return only
/// once librdkafka's delivery report has acknowledged every record of the batch: the brokers in sync have written
/// it. A record the brokers refused or did not acknowledge within ``Configuration/deliveryTimeout`` fails the
/// append with ``StarlingCore/EventLogError/unavailable(_:)`` — never a silent loss. Records are keyed by user id, so
/// one user's events stay in order in one partition.
///
/// The topics are created when the cluster lacks them (the admin API, with ``Configuration/topics``' partition
/// counts and ``Configuration/replicationFactor``); a topic that exists keeps its partition count.
///
/// librdkafka's calls block, so none runs on Swift's cooperative pool: the delivery reports are served by a
/// thread of the log's own (``PollingThread``), metadata, watermark and close calls by a ``BlockingWorker``, and
/// each consumer has a worker of its own. ``endOffsets()`` makes no request: it merges what the log learned on open,
/// from its own delivery reports and from its consumers' fetch responses.
///
/// ```swift
/// let log = try await KafkaEventLog.open(
///     configuration: .init(brokers: "kafka-1:9092,kafka-2:9092", topics: ["views": 12]),
///     logger: logger
/// )
/// let positions = try await log.append([LogAppend(topic: "views", key: "u1", payload: bytes)])
/// ```
public final class KafkaEventLog: EventLog, Service {
    private struct State: Sendable {
        var pendingRecords = 0
        var pendingBytes = 0
        var closed = false
        var failure: EventLogError?
        var endOffsets: [TopicPartition: Int64]
    }

    /// The configuration the log was opened with.
    public let configuration: Configuration
    private let logger: Logger
    private let producer: KafkaClient
    private let worker: BlockingWorker
    private let deliveryThread: PollingThread
    private let topicHandles: [String: KafkaTopicHandle]
    private let partitionCounts: [String: Int]
    private let state: LockedBox<State>
    /// The consumers this log made, whose fetch responses carry every partition's high watermark.
    private let consumers = LockedBox<[WeakConsumer]>([])
    private let metrics = KafkaLogMetrics()

    /// Connects to the cluster, creates the topics it lacks, reads their partition counts and end offsets, and
    /// starts the producer.
    ///
    /// - Throws: ``StarlingCore/EventLogError/unavailable(_:)`` when the cluster does not answer within
    ///   ``Configuration/requestTimeout``; ``StarlingCore/EventLogError/configuration(_:)`` when a setting is
    ///   refused or a topic cannot be created.
    public static func open(configuration: Configuration, logger: Logger) async throws -> KafkaEventLog {
        let state = LockedBox(State(endOffsets: [:]))
        let context = KafkaClientContext(logger: logger) { reason in
            state.withLock { $0.failure = .stopped("the Kafka producer failed: \(reason)") }
        }
        let producer = try KafkaClient(kind: RD_KAFKA_PRODUCER, properties: configuration.producerProperties, context: context) {
            rd_kafka_conf_set_dr_msg_cb($0, kafkaDeliveryCallback)
        }
        let worker = BlockingWorker(name: "starling-kafka-log")
        let deliveryThread = PollingThread(name: "starling-kafka-delivery", client: producer)
        do {
            let (partitionCounts, endOffsets, handles) = try await worker.run {
                let partitionCounts = try Self.ensureTopics(configuration: configuration, client: producer, logger: logger)
                var endOffsets: [TopicPartition: Int64] = [:]
                for (topic, count) in partitionCounts {
                    for partition in 0..<count {
                        let topicPartition = TopicPartition(topic: topic, partition: partition)
                        endOffsets[topicPartition] = try KafkaCluster.watermarks(
                            producer,
                            topicPartition,
                            timeout: configuration.requestTimeout
                        ).high
                    }
                }
                var handles: [String: KafkaTopicHandle] = [:]
                for topic in partitionCounts.keys {
                    handles[topic] = try KafkaTopicHandle(client: producer, name: topic)
                }
                return (partitionCounts, endOffsets, handles)
            }
            state.withLock { $0.endOffsets = endOffsets }
            return KafkaEventLog(
                configuration: configuration,
                logger: logger,
                producer: producer,
                worker: worker,
                deliveryThread: deliveryThread,
                topicHandles: handles,
                partitionCounts: partitionCounts,
                state: state
            )
        } catch {
            await deliveryThread.stop()
            _ = try? await worker.run { producer.destroy() }
            worker.stop()
            throw error
        }
    }

    private init(
        configuration: Configuration,
        logger: Logger,
        producer: KafkaClient,
        worker: BlockingWorker,
        deliveryThread: PollingThread,
        topicHandles: [String: KafkaTopicHandle],
        partitionCounts: [String: Int],
        state: LockedBox<State>
    ) {
        self.configuration = configuration
        self.logger = logger
        self.producer = producer
        self.worker = worker
        self.deliveryThread = deliveryThread
        self.topicHandles = topicHandles
        self.partitionCounts = partitionCounts
        self.state = state
    }

    /// Creates the configured topics the cluster lacks and waits until its metadata lists them; returns every
    /// configured topic's partition count as the cluster has it.
    private static func ensureTopics(configuration: Configuration, client: KafkaClient, logger: Logger) throws
        -> [String: Int]
    {
        var existing = try KafkaCluster.topics(client, timeout: configuration.requestTimeout)
        let missing = configuration.topics.keys.sorted().filter { existing[$0] == nil }.map {
            KafkaTopicSpecification(
                name: $0,
                partitions: configuration.topics[$0]!,
                replicationFactor: configuration.replicationFactor
            )
        }
        if !missing.isEmpty {
            logger.info(
                "Creating Kafka topics",
                metadata: [
                    "starling.kafka.topics": "\(missing.map(\.name).joined(separator: ","))",
                    "starling.kafka.replication_factor": "\(configuration.replicationFactor)",
                ]
            )
            if let createTopics = configuration.createTopics {
                try createTopics(missing)
            } else {
                try KafkaCluster.createTopics(client, missing, timeout: configuration.requestTimeout)
            }
            // Creation is asynchronous in the cluster: wait until the metadata lists every topic.
            let deadline = ContinuousClock.now + configuration.requestTimeout
            while true {
                existing = try KafkaCluster.topics(client, timeout: configuration.requestTimeout)
                if missing.allSatisfy({ existing[$0.name] != nil }) { break }
                guard ContinuousClock.now < deadline else {
                    let absent = missing.filter { existing[$0.name] == nil }.map(\.name).joined(separator: ", ")
                    throw EventLogError.unavailable("topics \(absent) were created but the cluster does not list them")
                }
                Thread.sleep(forTimeInterval: 0.05)
            }
        }
        var counts: [String: Int] = [:]
        for (topic, wanted) in configuration.topics {
            let count = existing[topic]!
            if count != wanted {
                logger.info(
                    "The Kafka topic exists with another partition count than configured; using the topic's",
                    metadata: [
                        "starling.kafka.topic": "\(topic)",
                        "starling.kafka.partitions": "\(count)",
                        "starling.kafka.configured_partitions": "\(wanted)",
                    ]
                )
            }
            counts[topic] = count
        }
        return counts
    }

    // MARK: - EventLog

    public var topics: [String] {
        self.partitionCounts.keys.sorted()
    }

    public func partitionCount(of topic: String) -> Int {
        self.partitionCounts[topic] ?? 0
    }

    /// Produces the records and returns once librdkafka's delivery report acknowledged every one of them.
    ///
    /// - Throws: ``StarlingCore/EventLogError/overloaded`` when ``Configuration/maxPendingRecords`` or
    ///   ``Configuration/maxPendingBytes`` would be exceeded (nothing was produced then);
    ///   ``StarlingCore/EventLogError/unavailable(_:)`` when a record was not acknowledged (the others of the batch
    ///   may have been written); ``StarlingCore/EventLogError/stopped(_:)`` after the producer failed fatally;
    ///   ``StarlingCore/EventLogError/closed`` after ``close()``.
    public func append(_ records: [LogAppend]) async throws -> [LogPosition] {
        guard !records.isEmpty else { return [] }
        var handles: [OpaquePointer] = []
        handles.reserveCapacity(records.count)
        var bytes = 0
        for record in records {
            guard let handle = self.topicHandles[record.topic] else { throw EventLogError.unknownTopic(record.topic) }
            handles.append(handle.handle)
            bytes += record.payload.count + record.key.utf8.count
        }
        try self.reserve(records: records.count, bytes: bytes)
        defer { self.release(records: records.count, bytes: bytes) }

        let started = ContinuousClock.now
        let batch = DeliveryBatch(topics: records.map(\.topic))
        let timestamp = WallClock.nanoseconds() / 1_000_000
        let producer = self.producer.handle
        let outcome = await withCheckedContinuation { continuation in
            let slots = batch.start(continuation)
            for index in records.indices {
                var key = records[index].key
                let refused = key.withUTF8 { key in
                    records[index].payload.withUnsafeBytes { payload in
                        starling_rd_kafka_produce(
                            producer,
                            handles[index],
                            key.baseAddress,
                            key.count,
                            payload.baseAddress,
                            payload.count,
                            timestamp,
                            slots + index
                        )
                    }
                }
                if let refused {
                    let (code, _) = KafkaClient.consume(refused)
                    batch.report(index: index, partition: -1, offset: -1, error: code, possiblyPersisted: false)
                }
            }
        }
        switch outcome {
        case .delivered(let positions):
            self.state.withLock { state in
                for position in positions {
                    let next = position.offset + 1
                    if next > state.endOffsets[position.topicPartition] ?? 0 {
                        state.endOffsets[position.topicPartition] = next
                    }
                }
            }
            self.metrics.appendedRecords.increment(by: records.count)
            self.metrics.appendDuration.recordNanoseconds((ContinuousClock.now - started).wholeNanoseconds)
            return positions
        case .failed(let failures, let delivered):
            self.metrics.deliveryFailures.increment(by: failures.count)
            if failures.allSatisfy({ $0.code == RD_KAFKA_RESP_ERR__QUEUE_FULL }) && delivered == 0 {
                throw EventLogError.overloaded
            }
            if let failure = self.failure { throw failure }
            let possibly = failures.filter(\.possiblyPersisted).count
            var message = "Kafka did not acknowledge \(failures.count) of \(records.count) records (\(failures[0].message))"
            if delivered > 0 || possibly > 0 {
                message += "; \(delivered) were written"
                if possibly > 0 { message += " and \(possibly) may have been" }
            }
            self.logger.warning(
                "Kafka append failed",
                metadata: ["starling.kafka.error": "\(message)", "starling.kafka.code": "\(failures[0].code.rawValue)"]
            )
            throw EventLogError.unavailable(message)
        }
    }

    private func reserve(records: Int, bytes: Int) throws {
        try self.state.withLock { state in
            if state.closed { throw EventLogError.closed }
            if let failure = state.failure { throw failure }
            // A batch larger than the limits alone still goes through when nothing else waits.
            if state.pendingRecords > 0
                && (state.pendingRecords + records > self.configuration.maxPendingRecords
                    || state.pendingBytes + bytes > self.configuration.maxPendingBytes)
            {
                throw EventLogError.overloaded
            }
            state.pendingRecords += records
            state.pendingBytes += bytes
        }
    }

    /// Records produced and still waiting for their delivery report; for tests.
    package var pendingRecords: Int {
        self.state.withLock { $0.pendingRecords }
    }

    private func release(records: Int, bytes: Int) {
        self.state.withLock { state in
            state.pendingRecords -= records
            state.pendingBytes -= bytes
        }
    }

    /// The next offset of every partition: the brokers' high watermark as read on open, moved at once past every
    /// record this log appends, and past the high watermark of every fetch response its consumers received (so
    /// records other producers append count too, within a fetch).
    public func endOffsets() -> [TopicPartition: Int64] {
        var offsets = self.state.withLock { $0.endOffsets }
        for consumer in self.consumers.withLock({ $0.compactMap(\.consumer) }) {
            for (partition, high) in consumer.highWatermarks() where high > offsets[partition] ?? 0 {
                offsets[partition] = high
            }
        }
        return offsets
    }

    /// Why the log stopped accepting appends (the idempotent producer failed fatally), or `nil` while it is healthy.
    public var failure: EventLogError? {
        self.state.withLock { $0.failure }
    }

    /// Creates a consumer of `topics` in consumer group `group`, assigned every partition of them and positioned at
    /// the group's committed positions (the oldest retained record where the group has none).
    ///
    /// - Throws: ``StarlingCore/EventLogError/unknownTopic(_:)`` for a topic the log does not have;
    ///   ``StarlingCore/EventLogError/unavailable(_:)`` when the cluster does not answer.
    public func makeConsumer(group: String, topics: [String]) async throws -> KafkaEventLogConsumer {
        var partitions: [TopicPartition] = []
        for topic in topics {
            guard let count = self.partitionCounts[topic] else { throw EventLogError.unknownTopic(topic) }
            partitions += (0..<count).map { TopicPartition(topic: topic, partition: $0) }
        }
        let consumer = try await KafkaEventLogConsumer.open(
            group: group,
            partitions: partitions.sorted(),
            configuration: self.configuration,
            logger: self.logger
        )
        self.consumers.withLock { consumers in
            consumers.removeAll { $0.consumer == nil }
            consumers.append(WeakConsumer(consumer: consumer))
        }
        return consumer
    }

    // MARK: - Lifecycle

    /// Waits for graceful shutdown, then for the records in flight, and closes the log.
    public func run() async throws {
        try? await gracefulShutdown()
        await self.close()
    }

    /// Refuses further appends, waits (up to ``Configuration/deliveryTimeout``) for the delivery reports of the
    /// records in flight — a record still unacknowledged then fails its append — and closes the producer.
    public func close() async {
        let first = self.state.withLock { state in
            defer { state.closed = true }
            return !state.closed
        }
        guard first else { return }
        let producer = self.producer
        let state = self.state
        let deliveryTimeout = self.configuration.deliveryTimeout
        _ = try? await self.worker.run {
            if rd_kafka_flush(producer.handle, KafkaCluster.milliseconds(deliveryTimeout)) != RD_KAFKA_RESP_ERR_NO_ERROR {
                // Fail what is left, so that no append waits for ever; the delivery thread serves their reports.
                _ = rd_kafka_purge(producer.handle, Int32(RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT))
                _ = rd_kafka_flush(producer.handle, 1_000)
            }
            // An append that passed its reservation just before the log closed may still be producing: the
            // producer lives until every reserved append has had its reports (they come within the time-out).
            let deadline = ContinuousClock.now + deliveryTimeout + .seconds(1)
            while state.withLock({ $0.pendingRecords }) > 0 && ContinuousClock.now < deadline {
                Thread.sleep(forTimeInterval: 0.01)
            }
        }
        await self.deliveryThread.stop()
        let handles = self.topicHandles
        _ = try? await self.worker.run {
            for handle in handles.values { handle.destroy() }
            producer.destroy()
        }
        self.worker.stop()
    }
}

/// A producer's handle of one topic (`rd_kafka_topic_t`), so that producing a record looks up no topic by name.
final class KafkaTopicHandle: @unchecked Sendable {
    // @unchecked: immutable, and librdkafka's topic handles are thread-safe; destroyed once, after the last produce.
    let handle: OpaquePointer

    init(client: KafkaClient, name: String) throws {
        guard let handle = rd_kafka_topic_new(client.handle, name, nil) else {
            throw EventLogError.configuration(
                "librdkafka could not create a handle for topic \(name): \(KafkaClient.describe(rd_kafka_last_error()))"
            )
        }
        self.handle = handle
    }

    func destroy() {
        rd_kafka_topic_destroy(self.handle)
    }
}

private struct WeakConsumer: Sendable {
    weak var consumer: KafkaEventLogConsumer?
}

struct KafkaLogMetrics: Sendable {
    let appendedRecords = Counter(label: "starling_kafka_appended_records_total")
    let appendDuration = Timer(label: "starling_kafka_append_duration_seconds")
    let deliveryFailures = Counter(label: "starling_kafka_delivery_failures_total")
}
#endif
