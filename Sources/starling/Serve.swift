import ArgumentParser
import Hummingbird
import Logging
import Metrics
import Prometheus
import ServiceLifecycle
import StarlingCluster
import StarlingCore
import StarlingEventLog
import StarlingHTTP
import StarlingModels
import StarlingRedis
import StarlingServing
import StarlingStream

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

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel = "info"

    func validate() throws {
        guard Logger.Level(rawValue: self.logLevel) != nil else {
            throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical")
        }
    }

    func run() async throws {
        let level = Logger.Level(rawValue: self.logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "starling")
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(Self.metricsFactory(registry: registry))

        let redis = try self.cluster.redis.map { try RedisConnections(url: $0, logger: logger) }
        let app: Application<RouterResponder<BasicRequestContext>>
        switch self.cluster.role {
        case .api:
            app = try self.apiApplication(redis: redis!, registry: registry, logger: logger)
        case .all, .processor:
            app = try self.processorApplication(redis: redis, registry: registry, logger: logger)
        }
        var metadata: Logger.Metadata = [
            "starling.http.address": "\(self.listen.host):\(self.listen.port)",
            "starling.role": "\(self.cluster.role.rawValue)",
        ]
        if self.cluster.role != .api {
            metadata["starling.data_dir"] = "\(self.storage.dataDirectory)"
            metadata["starling.log.durability"] = "\(self.storage.durability)"
        }
        logger.notice("Starling serving", metadata: metadata)
        try await app.runService()
    }

    /// One connection per kind of traffic, so that none waits behind another's: requests (short timeout),
    /// the processor's small writes, and the model snapshots (megabytes per command).
    struct RedisConnections {
        let serving: RedisClient
        let publishing: RedisClient
        let snapshots: RedisClient

        init(url: String, logger: Logger) throws {
            func client(timeout: Duration) throws -> RedisClient {
                var configuration = try RedisClient.Configuration(url: url)
                configuration.commandTimeout = timeout
                return RedisClient(configuration: configuration, logger: logger)
            }
            self.serving = try client(timeout: .milliseconds(250))
            self.publishing = try client(timeout: .seconds(2))
            self.snapshots = try client(timeout: .seconds(10))
        }
    }

    /// The settings all processes sharing one Redis must agree on, as text: the model settings in the order they
    /// apply, and the event types that invalidate cached lists.
    private var sharedSettings: String {
        "--model \(self.processing.modelSettingList.joined(separator: " ")) --bust-on \(self.serving.invalidation.description)"
    }

    private var httpConfiguration: ApplicationConfiguration {
        .init(address: .hostname(self.listen.host, port: self.listen.port), serverName: "starling")
    }

    /// `--role api`: recommendations from Redis and the published model snapshot; no log, no processor.
    private func apiApplication(
        redis: RedisConnections,
        registry: PrometheusCollectorRegistry,
        logger: Logger
    ) throws -> Application<RouterResponder<BasicRequestContext>> {
        let engineConfiguration = try self.processing.engineConfiguration()
        let engine = EngineStore(RecommendationEngine(configuration: engineConfiguration))
        let trending = SnapshotPublisher<TrendingSnapshot>(.empty)
        let catalog = ItemCatalog()
        let follower = SnapshotFollower(
            redis: redis.snapshots,
            engine: engine,
            engineConfiguration: engineConfiguration,
            trending: trending,
            catalog: catalog,
            configuration: .init(settings: self.sharedSettings),
            logger: logger
        )
        let store = RedisServingStore(redis: redis.serving, logger: logger)
        let components = APIComponents<SegmentedEventLog, MemoryProfileStore>(
            ingest: nil,
            recommendations: RecommendationService(
                profiles: MemoryProfileStore(),
                trending: trending,
                engine: engine,
                catalog: catalog,
                defaultRules: try self.serving.rules(),
                defaultCategoryCap: self.serving.categoryCap,
                // Users' state always comes from Redis; lists are shared only while caching is on.
                shared: SharedServing(
                    store: store,
                    timeToLive: .seconds(self.serving.cacheTTLSeconds),
                    invalidation: self.serving.invalidation,
                    usersFromStore: true
                ),
                readYourWrites: .init(timeout: .milliseconds(self.serving.readYourWritesMilliseconds))
            ),
            readiness: { (follower.isReady, follower.hasSnapshot, 0) },
            metricsText: { MetricsHelp.annotate(registry.emitToString()) },
            maxBodyBytes: self.limits.maxBodyMegabytes * 1_024 * 1_024,
            models: ModelsController(
                status: {
                    .init(
                        modelVersion: engine.read { $0.modelVersion },
                        retraining: false,
                        retrainsCompleted: 0,
                        lastRetrainSeconds: nil,
                        lastInteractions: 0,
                        lastError: nil
                    )
                },
                requestRetrain: nil
            ),
            catalogView: catalog,
            writesUnavailable: "this process runs --role api and has no event log: send events and catalogue changes to "
                + "a process started with --role all or --role processor (ingest into API processes needs a log "
                + "shared between machines, which comes with Kafka)"
        )
        return Application(
            router: buildRouter(components),
            configuration: self.httpConfiguration,
            services: [follower],
            logger: logger
        )
    }

    /// `--role all` and `--role processor`: the embedded log and the processor, publishing to Redis when given.
    private func processorApplication(
        redis: RedisConnections?,
        registry: PrometheusCollectorRegistry,
        logger: Logger
    ) throws -> Application<RouterResponder<BasicRequestContext>> {
        let schema = try self.processing.schema()
        var topics = Dictionary(uniqueKeysWithValues: schema.topics.map { ($0, self.storage.partitions) })
        topics[CatalogService<SegmentedEventLog>.topic] = self.storage.partitions
        let log = try SegmentedEventLog.open(
            configuration: .init(
                directory: "\(self.storage.dataDirectory)/log",
                topics: topics,
                durability: self.storage.durability == "fsync" ? .fsync : .buffered,
                segmentBytes: self.storage.segmentMegabytes * 1_024 * 1_024,
                retentionBytes: self.storage.retentionMegabytes * 1_024 * 1_024,
                retentionAge: .seconds(self.storage.retentionHours * 3_600)
            ),
            logger: logger
        )
        let profiles = MemoryProfileStore()
        let catalog = ItemCatalog()
        // A processor-only process serves no requests: its precomputed lists go to Redis only.
        let cache: RecommendationCache? =
            self.serving.cacheTTLSeconds > 0 && self.cluster.role == .all
            ? RecommendationCache(
                configuration: .init(
                    capacity: self.serving.cacheCapacity,
                    timeToLive: .seconds(self.serving.cacheTTLSeconds),
                    invalidation: self.serving.invalidation,
                    render: Responses.renderItems
                )
            ) : nil
        let store = redis.map { RedisServingStore(redis: $0.serving, publishing: $0.publishing, logger: logger) }
        let shared = store.flatMap { store in
            self.serving.cacheTTLSeconds > 0
                ? SharedServing(
                    store: store,
                    timeToLive: .seconds(self.serving.cacheTTLSeconds),
                    invalidation: self.serving.invalidation,
                    usersFromStore: false
                ) : nil
        }
        let activeUsers =
            self.cluster.precomputePerSecond > 0 && (cache != nil || shared != nil) ? ActiveUsers() : nil
        let deduplication = DeduplicationIndex(retention: .seconds(self.limits.deduplicationHours * 3_600))
        let acknowledgements = AcknowledgedEvents()
        let processor = StreamProcessor(
            log: log,
            profiles: profiles,
            deduplication: deduplication,
            checkpoints: try FileCheckpointStore(directory: "\(self.storage.dataDirectory)/checkpoints"),
            catalog: catalog,
            configuration: .init(
                checkpointInterval: .seconds(self.storage.checkpointSeconds),
                engine: try self.processing.engineConfiguration()
            ),
            logger: logger,
            onApplied: { event in activeUsers?.note(event) },
            publisher: store,
            acknowledgements: acknowledgements
        )
        let retrainer = ModelRetrainer(
            log: log,
            processor: processor,
            configuration: .init(
                interval: self.processing.retrainMinutes > 0 ? .seconds(self.processing.retrainMinutes * 60) : nil,
                trainer: .init(epochs: self.processing.retrainEpochs)
            ),
            logger: logger
        )
        let validator = EventValidator(
            configuration: .init(
                schema: schema,
                maxFutureSkewMilliseconds: Int64(self.processing.maxFutureHours * 3_600_000)
            )
        )
        let meter = RequestMeter()
        let recommendations = RecommendationService(
            profiles: profiles,
            trending: processor.trending,
            engine: processor.engine,
            catalog: catalog,
            defaultRules: try self.serving.rules(),
            defaultCategoryCap: self.serving.categoryCap,
            cache: cache,
            shared: shared,
            meter: meter,
            readYourWrites: .init(
                acknowledgements: acknowledgements,
                timeout: .milliseconds(self.serving.readYourWritesMilliseconds)
            )
        )
        // Services stop in reverse order: the publisher after the processor (it writes what the processor's last
        // batch changed), the log last.
        var services: [any Service] = [log]
        if let store { services.append(store) }
        services += [processor, retrainer]
        if let store, let redis {
            services.append(
                SnapshotExporter(
                    redis: redis.snapshots,
                    engine: processor.engine,
                    catalog: catalog,
                    catalogChangeID: { store.lastCatalogChangeID },
                    appliedStreamID: { store.lastAppliedID },
                    configuration: .init(interval: .seconds(self.cluster.snapshotSeconds), settings: self.sharedSettings),
                    logger: logger
                )
            )
        }
        if let activeUsers {
            services.append(
                PrecomputeJob(
                    service: recommendations,
                    activeUsers: activeUsers,
                    meter: meter,
                    configuration: .init(perSecond: self.cluster.precomputePerSecond),
                    logger: logger
                )
            )
        }
        let components = APIComponents(
            ingest: IngestService(
                log: log,
                deduplication: deduplication,
                decoder: IngestBatchDecoder(validator: validator),
                acknowledgements: [acknowledgements] + (store.map { [$0] } ?? [])
            ),
            recommendations: self.cluster.role == .all ? recommendations : nil,
            readiness: { (processor.isReady, processor.isRecovered, processor.lag()) },
            metricsText: { MetricsHelp.annotate(registry.emitToString()) },
            isRecovered: { processor.isRecovered },
            maxBodyBytes: self.limits.maxBodyMegabytes * 1_024 * 1_024,
            models: ModelsController(
                status: {
                    let status = retrainer.status
                    return .init(
                        modelVersion: processor.engine.read { $0.modelVersion },
                        retraining: status.running,
                        retrainsCompleted: status.completed,
                        lastRetrainSeconds: status.lastDuration.map(\.fractionalSeconds),
                        lastInteractions: status.lastInteractions,
                        lastError: status.lastError
                    )
                },
                requestRetrain: { retrainer.requestRetrain() }
            ),
            catalog: CatalogService(log: log, catalog: catalog)
        )
        return Application(
            router: buildRouter(components),
            configuration: self.httpConfiguration,
            services: services,
            logger: logger
        )
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
