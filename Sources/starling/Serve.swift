import ArgumentParser
import Hummingbird
import Logging
import Metrics
import Prometheus
import StarlingCore
import StarlingEventLog
import StarlingHTTP
import StarlingRedis
import StarlingServer

/// `starling serve`: the API server with the embedded event log and the stream processor in one process, or one
/// of the roles of a deployment sharing state through Redis.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the HTTP API, the embedded event log and the stream processor."
    )

    @OptionGroup var cluster: ClusterOptions
    @OptionGroup var listen: ListenOptions
    @OptionGroup var storage: StorageOptions
    @OptionGroup var processing: ProcessingOptions
    @OptionGroup var serving: ServingOptions
    @OptionGroup var limits: LimitOptions
    @OptionGroup(title: "Access") var security: SecurityOptions

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel = "info"

    @Option(
        name: .customLong("log-format"),
        help: "text (one readable line per entry) or json (one JSON object per line), on standard error."
    )
    var logFormat = "text"

    func validate() throws {
        guard Logger.Level(rawValue: self.logLevel) != nil else {
            throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical")
        }
        guard ["text", "json"].contains(self.logFormat) else {
            throw ValidationError("--log-format must be text or json, found '\(self.logFormat)'")
        }
    }

    func run() async throws {
        let (registry, stats) = Self.bootstrapObservability(
            level: Logger.Level(rawValue: self.logLevel) ?? .info,
            json: self.logFormat == "json"
        )
        let logger = Logger(label: "starling")

        let app = try await buildApplication(
            configuration: try self.serverConfiguration(),
            metricsText: { registry.emitToString() },
            stats: stats,
            logger: logger
        )
        var metadata: Logger.Metadata = [
            "starling.http.address": "\(self.listen.host):\(self.listen.port)",
            "starling.role": "\(self.cluster.role.rawValue)",
        ]
        if let brokers = self.cluster.kafka {
            metadata["starling.data_dir"] = "\(self.storage.dataDirectory)"
            metadata["starling.kafka.brokers"] = "\(brokers)"
        } else if self.cluster.role != .api {
            metadata["starling.data_dir"] = "\(self.storage.dataDirectory)"
            metadata["starling.log.durability"] = "\(self.storage.durability)"
        }
        logger.notice("Starling serving", metadata: metadata)
        try await app.runService()
    }

    /// The options as the configuration the roles are built from.
    func serverConfiguration() throws -> ServerConfiguration {
        let role: ServerConfiguration.Role =
            switch self.cluster.role {
            case .all: .all
            case .api: .api
            case .processor: .processor
            }
        return ServerConfiguration(
            role: role,
            http: .init(
                host: self.listen.host,
                port: self.listen.port,
                maxBodyBytes: self.limits.maxBodyMegabytes * 1_024 * 1_024,
                idleTimeout: .milliseconds(Int64(self.listen.idleTimeoutSeconds * 1_000)),
                maxConnections: self.listen.maxConnections,
                security: try self.security.security(),
                insecureNoAuth: self.security.insecureNoAuth
            ),
            storage: .init(
                directory: self.storage.dataDirectory,
                durability: self.storage.durability == "fsync" ? .fsync : .buffered,
                partitions: self.storage.partitions,
                segmentBytes: self.storage.segmentMegabytes * 1_024 * 1_024,
                retentionBytes: self.storage.retentionMegabytes * 1_024 * 1_024,
                retentionAge: .seconds(self.storage.retentionHours * 3_600),
                checkpointInterval: .seconds(self.storage.checkpointSeconds)
            ),
            processing: .init(
                // An API process has no ingest: it never reads --event-type.
                schema: role == .api ? EventSchema() : try self.processing.schema(),
                maxFutureSkew: .milliseconds(Int64(self.processing.maxFutureHours * 3_600_000)),
                deduplicationRetention: .seconds(self.limits.deduplicationHours * 3_600),
                deduplicationMaxIDs: self.limits.deduplicationMaxIDs,
                modelSettings: self.processing.modelSettingList,
                retrainInterval: self.processing.retrainMinutes > 0
                    ? .seconds(self.processing.retrainMinutes * 60) : nil,
                retrainEpochs: self.processing.retrainEpochs,
                minimumRetrainInterval: .seconds(self.processing.minRetrainIntervalSeconds),
                maxLag: self.processing.maxLag > 0 ? Int64(self.processing.maxLag) : nil
            ),
            serving: .init(
                rules: try self.serving.rules(),
                categoryCap: self.serving.categoryCap,
                cacheTimeToLive: .seconds(self.serving.cacheTTLSeconds),
                cacheCapacity: self.serving.cacheCapacity,
                invalidation: self.serving.invalidation,
                readYourWritesTimeout: .milliseconds(self.serving.readYourWritesMilliseconds),
                precomputePerSecond: self.cluster.precomputePerSecond
            ),
            cluster: .init(
                // Validated by ClusterOptions.
                redis: try self.cluster.redis.map { try RedisClient.Configuration(url: $0) },
                snapshotInterval: .seconds(self.cluster.snapshotSeconds),
                kafka: try self.cluster.kafkaConfiguration()
            )
        )
    }

    /// Bootstraps logging (to standard error, at `level`, as text or one JSON object per line) and the metrics
    /// backends, once per process: Prometheus's for `GET /metrics`, and the few series the dashboard charts for
    /// `GET /v1/stats`.
    static func bootstrapObservability(level: Logger.Level, json: Bool) -> (PrometheusCollectorRegistry, LiveStats) {
        LoggingSystem.bootstrap { label in
            var handler: any LogHandler =
                json ? JSONLogHandler.standardError(label: label) : StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let registry = PrometheusCollectorRegistry()
        let stats = LiveStats()
        MetricsSystem.bootstrap(MultiplexMetricsHandler(factories: [Self.metricsFactory(registry: registry), stats]))
        return (registry, stats)
    }

    static func metricsFactory(registry: PrometheusCollectorRegistry) -> PrometheusMetricsFactory {
        var factory = PrometheusMetricsFactory(registry: registry)
        let fine: [Duration] = [
            .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2),
            .milliseconds(3), .milliseconds(5), .milliseconds(7), .milliseconds(10), .milliseconds(15),
            .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500),
            .seconds(1), .seconds(2), .seconds(5),
        ]
        factory.defaultDurationHistogramBuckets = fine
        // Retrains and checkpoints take seconds to minutes.
        let long: [Duration] = [1, 2, 5, 10, 30, 60, 120, 300, 600, 1_800, 3_600].map { .seconds($0) }
        factory.durationHistogramBuckets["starling_retrain_duration_seconds"] = long
        factory.durationHistogramBuckets["starling_checkpoint_duration_seconds"] = fine + long.filter { $0 > .seconds(5) }
        factory.valueHistogramBuckets["starling_log_commit_batch_records"] = (0...14).map { Double(1 << $0) }
        factory.valueHistogramBuckets["starling_log_commit_batch_bytes"] = (4...12).map { Double(1 << ($0 * 2)) }
        return factory
    }
}

extension PrometheusCollectorRegistry {
    /// The Prometheus text exposition of every registered metric.
    func emitToString() -> String {
        var buffer: [UInt8] = []
        self.emit(into: &buffer)
        return String(decoding: buffer, as: UTF8.self)
    }
}
