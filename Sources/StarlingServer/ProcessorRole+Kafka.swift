#if Kafka
public import Logging
import StarlingCore
public import StarlingKafka

extension ProcessorRole where Log == KafkaEventLog {
    /// Opens the Kafka log named by ``ServerConfiguration/Cluster/kafka`` (creating its topics when missing) and
    /// assembles the role on it: ingest acknowledges a batch once Kafka acknowledged every event of it, and the
    /// processor reads every partition, checkpointing into the data directory as on the embedded log.
    ///
    /// - Throws: ``StarlingCore/EventLogError`` when the cluster does not answer or refuses the topics, or what
    ///   ``init(configuration:log:storageFailure:diskFull:metricsText:logger:)`` throws.
    public static func onKafka(
        configuration: ServerConfiguration,
        metricsText: @escaping @Sendable () -> String,
        logger: Logger
    ) async throws -> Self {
        guard let kafka = configuration.cluster.kafka else {
            preconditionFailure("ProcessorRole.onKafka needs cluster.kafka")
        }
        let log = try await KafkaEventLog.open(
            configuration: .init(
                brokers: kafka.brokers,
                topics: Self.topics(for: configuration),
                replicationFactor: kafka.replicationFactor,
                linger: kafka.linger,
                properties: kafka.properties,
                consumerProperties: kafka.consumerProperties
            ),
            logger: logger
        )
        do {
            return try Self(
                configuration: configuration,
                log: log,
                storageFailure: { log.failure?.message },
                metricsText: metricsText,
                logger: logger
            )
        } catch {
            await log.close()
            throw error
        }
    }
}
#endif
