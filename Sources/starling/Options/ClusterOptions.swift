import ArgumentParser
import StarlingRedis
import StarlingServer

/// The options of `starling serve` that place the process in a deployment: its role, the Redis server its processes
/// share state through, and the pace of the background jobs that publish that state (model snapshots, and the
/// precomputed lists that fill the cache layers, in process and shared).
struct ClusterOptions: ParsableArguments {
    /// What a process runs.
    enum Role: String, ExpressibleByArgument, CaseIterable {
        /// Log, processor and the whole API.
        case all
        /// The API's read side only, serving from Redis and the model snapshot published there.
        case api
        /// Log, processor, ingest and catalogue, publishing to Redis; no recommendation endpoints.
        case processor
    }

    @Option(
        help: ArgumentHelp(
            "all: everything in one process. api: serve recommendations from Redis and the published model snapshot (needs --redis; no ingest). processor: the log, ingest and the processor, publishing to Redis.",
            valueName: "all|api|processor"
        )
    )
    var role = Role.all

    @Option(
        help: ArgumentHelp(
            "Share cached lists, users' state and model snapshots through this Redis server.",
            valueName: "redis://host:port[/db]"
        )
    )
    var redis: String?

    @Option(
        help: ArgumentHelp(
            "Keep the event log on this Kafka cluster instead of the data directory (roles all and processor; needs a binary built with --traits Kafka). Topics missing there are created with --partitions partitions.",
            valueName: "host:port[,host:port…]"
        )
    )
    var kafka: String?

    @Option(
        name: .customLong("kafka-replication-factor"),
        help: "Replication factor of the Kafka topics Starling creates (the cluster needs as many brokers)."
    )
    var kafkaReplicationFactor = 3

    @Option(
        name: .customLong("kafka-linger-ms"),
        help: "Milliseconds the Kafka producer waits to batch events before sending (linger.ms)."
    )
    var kafkaLingerMilliseconds = 5

    @Option(
        name: .customLong("kafka-setting"),
        help: ArgumentHelp(
            "A librdkafka setting for the producer and consumers (security.protocol, sasl.*, …); repeatable.",
            valueName: "name=value"
        )
    )
    var kafkaSettings: [String] = []

    @Option(
        name: .customLong("kafka-consumer-setting"),
        help: ArgumentHelp(
            "A librdkafka setting for the consumers only (fetch.wait.max.ms, …); repeatable.",
            valueName: "name=value"
        )
    )
    var kafkaConsumerSettings: [String] = []

    @Option(name: .customLong("snapshot-seconds"), help: "Seconds between model snapshots published to Redis.")
    var snapshotSeconds = 15

    @Option(
        name: .customLong("precompute-per-second"),
        help: "Most cached lists of recently active users refreshed per second in the background; 0 turns it off."
    )
    var precomputePerSecond = 100

    func validate() throws {
        if let redis = self.redis {
            do {
                _ = try RedisClient.Configuration(url: redis)
            } catch let error as RedisError {
                throw ValidationError("--redis: \(error.message)")
            }
        } else if self.role != .all {
            throw ValidationError("--role \(self.role.rawValue) needs --redis: that is where its processes share state")
        }
        if self.kafka != nil {
            #if Kafka
            guard self.role != .api else {
                throw ValidationError("--kafka is for the roles that run the log (all, processor): an API process reads no log")
            }
            #else
            throw ValidationError("--kafka: \(ServerConfigurationError.kafkaNotBuilt.message)")
            #endif
        }
        guard self.kafkaReplicationFactor >= 1 else { throw ValidationError("--kafka-replication-factor must be positive") }
        guard self.kafkaLingerMilliseconds >= 0 else { throw ValidationError("--kafka-linger-ms must not be negative") }
        _ = try Self.properties(self.kafkaSettings, option: "--kafka-setting")
        _ = try Self.properties(self.kafkaConsumerSettings, option: "--kafka-consumer-setting")
        guard self.snapshotSeconds >= 1 else { throw ValidationError("--snapshot-seconds must be positive") }
        guard self.precomputePerSecond >= 0 else { throw ValidationError("--precompute-per-second must not be negative") }
    }

    /// `name=value` settings as librdkafka settings by name.
    static func properties(_ settings: [String], option: String) throws -> [String: String] {
        var properties: [String: String] = [:]
        for setting in settings {
            guard let equals = setting.firstIndex(of: "="), equals != setting.startIndex else {
                throw ValidationError("\(option) must be name=value, found '\(setting)'")
            }
            properties[String(setting[..<equals])] = String(setting[setting.index(after: equals)...])
        }
        return properties
    }

    /// The Kafka cluster of `--kafka`, or `nil` for the embedded log.
    func kafkaConfiguration() throws -> ServerConfiguration.Kafka? {
        try self.kafka.map {
            ServerConfiguration.Kafka(
                brokers: $0,
                replicationFactor: self.kafkaReplicationFactor,
                linger: .milliseconds(self.kafkaLingerMilliseconds),
                properties: try Self.properties(self.kafkaSettings, option: "--kafka-setting"),
                consumerProperties: try Self.properties(self.kafkaConsumerSettings, option: "--kafka-consumer-setting")
            )
        }
    }
}
