#if Kafka
import CRdKafka
import StarlingCore

/// Blocking requests to the cluster through one client: metadata, topic creation, watermarks. Run them on a
/// ``BlockingWorker``.
enum KafkaCluster {
    /// Every topic the cluster has, with its partition count (a metadata request for all topics, which creates
    /// none).
    static func topics(_ client: KafkaClient, timeout: Duration) throws -> [String: Int] {
        var metadata: UnsafePointer<rd_kafka_metadata_t>?
        let error = rd_kafka_metadata(client.handle, 1, nil, &metadata, Self.milliseconds(timeout))
        guard error == RD_KAFKA_RESP_ERR_NO_ERROR, let metadata else {
            throw EventLogError.unavailable("could not read the Kafka cluster's metadata: \(KafkaClient.describe(error))")
        }
        defer { rd_kafka_metadata_destroy(metadata) }
        var topics: [String: Int] = [:]
        for index in 0..<Int(metadata.pointee.topic_cnt) {
            let topic = metadata.pointee.topics[index]
            guard topic.err == RD_KAFKA_RESP_ERR_NO_ERROR, let name = topic.topic else { continue }
            topics[String(cString: name)] = Int(topic.partition_cnt)
        }
        return topics
    }

    /// Creates `specifications` with the admin API (`CreateTopics`); a topic that already exists is no error (another
    /// process created it first).
    ///
    /// - Throws: ``StarlingCore/EventLogError/configuration(_:)`` naming each topic the cluster refused and why, or
    ///   ``StarlingCore/EventLogError/unavailable(_:)`` when it did not answer in time.
    static func createTopics(
        _ client: KafkaClient,
        _ specifications: [KafkaTopicSpecification],
        timeout: Duration
    ) throws {
        guard !specifications.isEmpty else { return }
        var message = [CChar](repeating: 0, count: 512)
        var newTopics: [OpaquePointer?] = []
        defer { for topic in newTopics { rd_kafka_NewTopic_destroy(topic) } }
        for specification in specifications {
            guard
                let topic = rd_kafka_NewTopic_new(
                    specification.name,
                    Int32(specification.partitions),
                    Int32(specification.replicationFactor),
                    &message,
                    message.count
                )
            else {
                throw EventLogError.configuration(
                    "topic \(specification.name) cannot be created: \(KafkaClient.text(message))"
                )
            }
            newTopics.append(topic)
        }
        let options = rd_kafka_AdminOptions_new(client.handle, RD_KAFKA_ADMIN_OP_CREATETOPICS)
        defer { rd_kafka_AdminOptions_destroy(options) }
        _ = rd_kafka_AdminOptions_set_request_timeout(options, Self.milliseconds(timeout), &message, message.count)
        // The brokers answer once the topics exist (or the operation timed out), not merely once the controller took
        // the request.
        _ = rd_kafka_AdminOptions_set_operation_timeout(options, Self.milliseconds(timeout), &message, message.count)
        let queue = rd_kafka_queue_new(client.handle)
        defer { rd_kafka_queue_destroy(queue) }
        rd_kafka_CreateTopics(client.handle, &newTopics, newTopics.count, options, queue)
        let names = specifications.map(\.name).joined(separator: ", ")
        guard let event = rd_kafka_queue_poll(queue, Self.milliseconds(timeout + .seconds(1))) else {
            throw EventLogError.unavailable("the Kafka cluster did not answer the creation of topics \(names) in time")
        }
        defer { rd_kafka_event_destroy(event) }
        let error = rd_kafka_event_error(event)
        guard error == RD_KAFKA_RESP_ERR_NO_ERROR else {
            let detail = rd_kafka_event_error_string(event).map { String(cString: $0) } ?? KafkaClient.describe(error)
            throw EventLogError.unavailable("the Kafka cluster did not create topics \(names): \(detail)")
        }
        var count = 0
        guard let results = rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(event), &count)
        else { return }
        var refused: [String] = []
        for index in 0..<count {
            let result = results[index]
            let error = rd_kafka_topic_result_error(result)
            guard error != RD_KAFKA_RESP_ERR_NO_ERROR, error != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS else { continue }
            let name = String(cString: rd_kafka_topic_result_name(result))
            let detail = rd_kafka_topic_result_error_string(result).map { String(cString: $0) } ?? ""
            refused.append("\(name): \(detail.isEmpty ? KafkaClient.describe(error) : detail)")
        }
        guard refused.isEmpty else {
            throw EventLogError.configuration("the Kafka cluster refused to create topics (\(refused.joined(separator: "; ")))")
        }
    }

    /// The low and high watermark of a partition: the oldest retained offset and the next offset to be written.
    static func watermarks(_ client: KafkaClient, _ partition: TopicPartition, timeout: Duration) throws -> (
        low: Int64, high: Int64
    ) {
        var low: Int64 = 0
        var high: Int64 = 0
        let error = rd_kafka_query_watermark_offsets(
            client.handle,
            partition.topic,
            Int32(partition.partition),
            &low,
            &high,
            Self.milliseconds(timeout)
        )
        guard error == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw EventLogError.unavailable("could not read the offsets of \(partition): \(KafkaClient.describe(error))")
        }
        return (low, high)
    }

    static func milliseconds(_ duration: Duration) -> Int32 {
        Int32(clamping: max(0, duration.wholeMilliseconds))
    }
}
#endif
