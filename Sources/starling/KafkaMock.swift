import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle
import StarlingServer
import UnixSignals

#if Kafka
import StarlingKafka
#endif

/// `starling kafka-mock` (hidden): hosts librdkafka's mock Kafka cluster on loopback with the topics `starling serve
/// --kafka` uses, prints its bootstrap address on the first line of standard output, and runs until SIGTERM or
/// SIGINT. For tests and local runs: there is no Kafka broker package here, and `kcat` and every Starling process
/// connect to the mock as to a real cluster. Nothing it holds survives it.
struct KafkaMock: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kafka-mock",
        abstract: "Host a mock Kafka cluster on loopback for tests; prints its bootstrap address.",
        shouldDisplay: false
    )

    @Option(help: "Brokers in the cluster.")
    var brokers = 1

    @Option(help: "Partitions of each topic created.")
    var partitions = 4

    @Option(
        name: .customLong("event-type"),
        help: ArgumentHelp("An extra event type whose topic to create, as serve takes it.", valueName: "name[:topic]")
    )
    var eventTypes: [String] = []

    func validate() throws {
        guard self.brokers >= 1, self.partitions >= 1 else {
            throw ValidationError("--brokers and --partitions must be positive")
        }
    }

    func run() async throws {
        #if Kafka
        let logger = Logger(label: "starling.kafka-mock")
        let configuration = ServerConfiguration(
            storage: .init(partitions: self.partitions),
            processing: .init(schema: try ProcessingOptions.schema(declaring: self.eventTypes))
        )
        let cluster = try KafkaMockCluster(brokers: self.brokers, logger: logger)
        for (topic, partitions) in ProcessorRole<KafkaEventLog>.topics(for: configuration).sorted(by: { $0.key < $1.key }) {
            try cluster.createTopic(topic, partitions: partitions, replicationFactor: 1)
        }
        FileHandle.standardOutput.write(Data("\(cluster.bootstrapServers)\n".utf8))
        let group = ServiceGroup(
            configuration: .init(
                services: [.init(service: MockClusterService(cluster: cluster))],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            )
        )
        try await group.run()
        #else
        throw ValidationError(ServerConfigurationError.kafkaNotBuilt.message)
        #endif
    }
}

#if Kafka
/// Keeps the mock cluster up until graceful shutdown, then stops it.
private struct MockClusterService: Service {
    let cluster: KafkaMockCluster

    func run() async throws {
        try? await gracefulShutdown()
        self.cluster.shutdown()
    }
}
#endif
