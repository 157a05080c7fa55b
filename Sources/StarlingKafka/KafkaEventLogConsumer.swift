#if Kafka
import CRdKafka
import Logging
public import StarlingCore

/// A reader of a ``KafkaEventLog``'s partitions in a consumer group: a librdkafka consumer with its own thread.
///
/// The consumer is *assigned* every partition of its topics (`rd_kafka_assign`, no group rebalancing), so like the
/// embedded log's consumer it reads everything; the group holds its committed positions. Positions are the caller's
/// to keep: nothing is committed automatically, ``commit(_:)`` commits synchronously what it is given.
///
/// Every librdkafka call runs on the consumer's ``BlockingWorker``. ``poll(maxRecords:)`` waits there in slices of
/// at most 100 ms, so a commit or seek queued meanwhile runs between two slices and a cancelled task stops waiting
/// within one.
public final class KafkaEventLogConsumer: EventLogConsumer {
    /// The consumer group.
    public let group: String
    public let assignment: [TopicPartition]
    private let client: KafkaClient
    private let worker: BlockingWorker
    private let requestTimeout: Duration
    private let logger: Logger
    private let state: LockedBox<State>
    /// Topic names by librdkafka topic handle; touched only on the worker's thread.
    private let names: TopicNames

    private struct State: Sendable {
        var positions: [TopicPartition: Int64]
        /// Every assigned partition's high watermark as the latest fetch response said it.
        var highWatermarks: [TopicPartition: Int64] = [:]
        var closed = false
    }

    static func open(
        group: String,
        partitions: [TopicPartition],
        configuration: KafkaEventLog.Configuration,
        logger: Logger
    ) async throws -> KafkaEventLogConsumer {
        let client = try KafkaClient(
            kind: RD_KAFKA_CONSUMER,
            properties: configuration.consumerSettings(group: group),
            context: KafkaClientContext(logger: logger)
        )
        // Everything (messages, errors) is served by rd_kafka_consumer_poll.
        rd_kafka_poll_set_consumer(client.handle)
        let worker = BlockingWorker(name: "starling-kafka-consumer")
        let timeout = configuration.requestTimeout
        do {
            let positions = try await worker.run {
                var positions = try Self.committed(client, partitions, timeout: timeout)
                for partition in partitions where positions[partition] == nil {
                    positions[partition] = try KafkaCluster.watermarks(client, partition, timeout: timeout).low
                }
                try Self.assign(client, positions)
                return positions
            }
            return KafkaEventLogConsumer(
                group: group,
                assignment: partitions,
                client: client,
                worker: worker,
                positions: positions,
                requestTimeout: timeout,
                logger: logger
            )
        } catch {
            worker.submit { client.destroy() }
            worker.stop()
            throw error
        }
    }

    private init(
        group: String,
        assignment: [TopicPartition],
        client: KafkaClient,
        worker: BlockingWorker,
        positions: [TopicPartition: Int64],
        requestTimeout: Duration,
        logger: Logger
    ) {
        self.group = group
        self.assignment = assignment
        self.client = client
        self.worker = worker
        self.requestTimeout = requestTimeout
        self.logger = logger
        self.state = LockedBox(State(positions: positions))
        self.names = TopicNames()
    }

    deinit {
        let client = self.client
        if !self.state.withLock({ $0.closed }) {
            self.worker.submit { client.destroy() }
        }
        self.worker.stop()
    }

    /// Moves the read positions of the given assigned partitions (others are ignored): the consumer is assigned
    /// its partitions again at their new and current positions, which drops what librdkafka had fetched ahead.
    public func seek(to positions: [TopicPartition: Int64]) async throws {
        let moved = positions.filter { self.assignment.contains($0.key) }
        guard !moved.isEmpty else { return }
        let client = self.client
        try await self.run {
            // Read and assigned on the worker's thread, after any poll queued before: nothing moves them meanwhile.
            let next = self.state.withLock { state in
                state.positions.merge(moved) { $1 }
                return state.positions
            }
            try Self.assign(client, next)
        }
    }

    /// Returns the next records (at most `maxRecords`), waiting until at least one is available; an empty array
    /// only when the task is cancelled.
    ///
    /// - Throws: ``StarlingCore/EventLogError/unavailable(_:)`` when the consumer failed fatally or is not allowed
    ///   to read; ``StarlingCore/EventLogError/closed`` after ``close()``.
    public func poll(maxRecords: Int) async throws -> [LogRecord] {
        precondition(maxRecords >= 1, "poll at least one record")
        let client = self.client
        let names = self.names
        let logger = self.logger
        let assignment = self.assignment
        while !Task.isCancelled {
            let (records, highWatermarks) = try await self.run {
                let records = try Self.pollSlice(client, maxRecords: maxRecords, names: names, logger: logger)
                return (records, Self.cachedHighWatermarks(client, assignment))
            }
            self.state.withLock { state in
                state.highWatermarks.merge(highWatermarks) { max($0, $1) }
                for record in records {
                    state.positions[record.topicPartition] = record.offset + 1
                }
            }
            if !records.isEmpty { return records }
        }
        return []
    }

    public func positions() -> [TopicPartition: Int64] {
        self.state.withLock { $0.positions }
    }

    /// Every assigned partition's high watermark (the next offset to be written) as of the latest fetch response,
    /// once one came; no request is made.
    public func highWatermarks() -> [TopicPartition: Int64] {
        self.state.withLock { $0.highWatermarks }
    }

    /// Commits `positions` (the next offsets to read) to the group and waits for the coordinator's answer.
    ///
    /// - Throws: ``StarlingCore/EventLogError/unavailable(_:)`` when the coordinator refused, or did not answer
    ///   within the log's request time-out (the commit may still land later).
    public func commit(_ positions: [TopicPartition: Int64]) async throws {
        guard !positions.isEmpty else { return }
        let client = self.client
        let group = self.group
        let timeout = self.requestTimeout
        try await self.run {
            // rd_kafka_commit would wait for a coordinator for ever: commit through a queue of our own instead, and
            // wait for its result no longer than the time-out.
            let list = Self.partitionList(positions)
            defer { rd_kafka_topic_partition_list_destroy(list) }
            let queue = rd_kafka_queue_new(client.handle)
            defer { rd_kafka_queue_destroy(queue) }
            let error = rd_kafka_commit_queue(client.handle, list, queue, nil, nil)
            guard error == RD_KAFKA_RESP_ERR_NO_ERROR else {
                throw EventLogError.unavailable("could not commit the positions of group \(group): \(KafkaClient.describe(error))")
            }
            guard let event = rd_kafka_queue_poll(queue, KafkaCluster.milliseconds(timeout)) else {
                throw EventLogError.unavailable("the coordinator of group \(group) did not answer a commit in time")
            }
            defer { rd_kafka_event_destroy(event) }
            var failed: [String] = []
            if let committed = rd_kafka_event_topic_partition_list(event) { failed = Self.partitionErrors(committed) }
            let eventError = rd_kafka_event_error(event)
            guard eventError == RD_KAFKA_RESP_ERR_NO_ERROR, failed.isEmpty else {
                let detail = failed.isEmpty ? KafkaClient.describe(eventError) : failed.joined(separator: "; ")
                throw EventLogError.unavailable("could not commit the positions of group \(group): \(detail)")
            }
        }
    }

    /// The group's committed positions of the assigned partitions (none for a partition never committed).
    public func committed() async throws -> [TopicPartition: Int64] {
        let client = self.client
        let partitions = self.assignment
        let timeout = self.requestTimeout
        return try await self.run { try Self.committed(client, partitions, timeout: timeout) }
    }

    /// Closes the consumer (it leaves no group: it was assigned its partitions); later calls throw
    /// ``StarlingCore/EventLogError/closed``.
    public func close() async {
        let first = self.state.withLock { state in
            defer { state.closed = true }
            return !state.closed
        }
        guard first else { return }
        let client = self.client
        _ = try? await self.worker.run { client.destroy() }
        self.worker.stop()
    }

    // MARK: - On the worker's thread

    private func run<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        let state = self.state
        do {
            return try await self.worker.run {
                if state.withLock({ $0.closed }) { throw EventLogError.closed }
                return try work()
            }
        } catch is CancellationError {
            throw EventLogError.closed
        }
    }

    /// The high watermarks librdkafka keeps from the fetch responses (`rd_kafka_get_watermark_offsets`, no request).
    private static func cachedHighWatermarks(_ client: KafkaClient, _ partitions: [TopicPartition])
        -> [TopicPartition: Int64]
    {
        var highs: [TopicPartition: Int64] = [:]
        for partition in partitions {
            var low: Int64 = -1
            var high: Int64 = -1
            let error = rd_kafka_get_watermark_offsets(
                client.handle,
                partition.topic,
                Int32(partition.partition),
                &low,
                &high
            )
            if error == RD_KAFKA_RESP_ERR_NO_ERROR, high >= 0 { highs[partition] = high }
        }
        return highs
    }

    /// Waits up to 100 ms for a first record, then takes what else librdkafka has fetched, up to `maxRecords`.
    private static func pollSlice(
        _ client: KafkaClient,
        maxRecords: Int,
        names: TopicNames,
        logger: Logger
    ) throws -> [LogRecord] {
        var records: [LogRecord] = []
        var wait: Int32 = 100
        while records.count < maxRecords, let message = rd_kafka_consumer_poll(client.handle, wait) {
            defer { rd_kafka_message_destroy(message) }
            wait = 0
            let error = message.pointee.err
            guard error == RD_KAFKA_RESP_ERR_NO_ERROR else {
                try Self.handle(error, message, logger: logger)
                continue
            }
            var timestampType = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE
            let milliseconds = rd_kafka_message_timestamp(message, &timestampType)
            let payload =
                message.pointee.payload.map {
                    Array(UnsafeRawBufferPointer(start: $0, count: message.pointee.len))
                } ?? []
            records.append(
                LogRecord(
                    topicPartition: TopicPartition(
                        topic: names.name(of: message.pointee.rkt),
                        partition: Int(message.pointee.partition)
                    ),
                    offset: message.pointee.offset,
                    appendedAtNanoseconds: milliseconds >= 0 ? milliseconds * 1_000_000 : WallClock.nanoseconds(),
                    payload: payload
                )
            )
        }
        return records
    }

    /// A consumer error: librdkafka retries most by itself (a broker down, a fetch refused, a position reset to the
    /// oldest record after retention deleted it), and those are only logged; a fatal error or a refused authorization
    /// ends the consumer.
    private static func handle(
        _ error: rd_kafka_resp_err_t,
        _ message: UnsafeMutablePointer<rd_kafka_message_t>,
        logger: Logger
    ) throws {
        let text = rd_kafka_message_errstr(message).map { String(cString: $0) } ?? KafkaClient.describe(error)
        switch error {
        case RD_KAFKA_RESP_ERR__FATAL, RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED,
            RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED:
            throw EventLogError.unavailable("the Kafka consumer cannot go on: \(text)")
        default:
            logger.warning(
                "Kafka consumer error",
                metadata: [
                    "starling.kafka.error": "\(text)",
                    "starling.kafka.code": "\(String(cString: rd_kafka_err2name(error)))",
                ]
            )
        }
    }

    private static func committed(_ client: KafkaClient, _ partitions: [TopicPartition], timeout: Duration) throws
        -> [TopicPartition: Int64]
    {
        guard !partitions.isEmpty else { return [:] }
        let list = Self.partitionList(Dictionary(uniqueKeysWithValues: partitions.map { ($0, Int64(RD_KAFKA_OFFSET_INVALID)) }))
        defer { rd_kafka_topic_partition_list_destroy(list) }
        let error = rd_kafka_committed(client.handle, list, KafkaCluster.milliseconds(timeout))
        guard error == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw EventLogError.unavailable("could not read the group's committed positions: \(KafkaClient.describe(error))")
        }
        var positions: [TopicPartition: Int64] = [:]
        for index in 0..<Int(list.pointee.cnt) {
            let element = list.pointee.elems[index]
            guard element.err == RD_KAFKA_RESP_ERR_NO_ERROR, element.offset >= 0 else { continue }
            positions[TopicPartition(topic: String(cString: element.topic), partition: Int(element.partition))] =
                element.offset
        }
        return positions
    }

    private static func assign(_ client: KafkaClient, _ positions: [TopicPartition: Int64]) throws {
        let list = Self.partitionList(positions)
        defer { rd_kafka_topic_partition_list_destroy(list) }
        let error = rd_kafka_assign(client.handle, list)
        guard error == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw EventLogError.unavailable("could not assign the consumer its partitions: \(KafkaClient.describe(error))")
        }
    }

    private static func partitionList(_ positions: [TopicPartition: Int64])
        -> UnsafeMutablePointer<rd_kafka_topic_partition_list_t>
    {
        let list = rd_kafka_topic_partition_list_new(Int32(positions.count))!
        for (partition, offset) in positions.sorted(by: { $0.key < $1.key }) {
            rd_kafka_topic_partition_list_add(list, partition.topic, Int32(partition.partition)).pointee.offset = offset
        }
        return list
    }

    /// "topic-partition: error" for every partition of `list` that has an error.
    private static func partitionErrors(_ list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>) -> [String] {
        (0..<Int(list.pointee.cnt)).compactMap { index in
            let element = list.pointee.elems[index]
            guard element.err != RD_KAFKA_RESP_ERR_NO_ERROR else { return nil }
            return "\(String(cString: element.topic))-\(element.partition): \(KafkaClient.describe(element.err))"
        }
    }
}

/// Topic names by librdkafka topic handle, so that a record's topic is not decoded from C for every message.
private final class TopicNames: @unchecked Sendable {
    // @unchecked: used only on the consumer's worker thread.
    private var names: [OpaquePointer: String] = [:]

    func name(of topic: OpaquePointer?) -> String {
        guard let topic else { return "" }
        if let name = self.names[topic] { return name }
        let name = String(cString: rd_kafka_topic_name(topic))
        self.names[topic] = name
        return name
    }
}
#endif
