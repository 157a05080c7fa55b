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

    @Option(name: .customLong("snapshot-seconds"), help: "Seconds between model snapshots published to Redis.")
    var snapshotSeconds = 15

    @Option(
        name: .customLong("precompute-per-second"),
        help: "Most cached lists of recently active users refreshed per second in the background; 0 turns it off."
    )
    var precomputePerSecond = 100

    @Option(help: "The address to listen on.")
    var host = "127.0.0.1"

    @Option(help: "The port to listen on.")
    var port = 8080

    @Option(name: .customLong("data-dir"), help: "Where the event log and checkpoints are kept.")
    var dataDirectory = "./starling-data"

    @Option(
        help: ArgumentHelp(
            "fsync: acknowledge events only after they are on stable storage (group commit). buffered: acknowledge once in the OS buffers; survives a process crash but may lose the last moments on power loss.",
            valueName: "fsync|buffered"
        )
    )
    var durability = "fsync"

    @Option(help: "Partitions per topic for a new log (an existing log keeps its count).")
    var partitions = 4

    @Option(name: .customLong("segment-mb"), help: "Segment size in MiB.")
    var segmentMegabytes = 64

    @Option(name: .customLong("retention-mb"), help: "Retained log size per partition in MiB.")
    var retentionMegabytes = 1_024

    @Option(name: .customLong("retention-hours"), help: "Retained log age in hours.")
    var retentionHours = 168

    @Option(name: .customLong("checkpoint-seconds"), help: "Seconds between processor checkpoints.")
    var checkpointSeconds = 30

    @Option(
        name: .customLong("trending-half-life-hours"),
        help: "Half-life of trending scores, in hours of event time (default 96)."
    )
    var trendingHalfLifeHours: Double?

    @Option(name: .customLong("max-future-hours"), help: "How far in the future an event timestamp may be, in hours.")
    var maxFutureHours = 24.0

    @Option(
        name: .customLong("event-type"),
        help: ArgumentHelp("Declare an extra event type, optionally with its topic.", valueName: "name[:topic]")
    )
    var eventTypes: [String] = []

    @Option(
        name: .customLong("model"),
        help: ArgumentHelp(
            "Change a model or signal setting, for example blend.trending=0.5 or signal.like=6 (repeatable; see docs/models.md).",
            valueName: "key=value"
        )
    )
    var modelSettings: [String] = []

    @Option(
        name: .customLong("retrain-minutes"),
        help: "Minutes between full retrains of the embeddings from the log; 0 retrains only on demand (POST /v1/models/retrain)."
    )
    var retrainMinutes = 60

    @Option(
        name: .customLong("retrain-epochs"),
        help: "Passes over the data in a full retrain with the BPR trainer (the iALS trainer takes --model ials_iterations=N)."
    )
    var retrainEpochs = 10

    @Option(
        name: .customLong("boost"),
        help: ArgumentHelp("Boost items whose catalogue attribute matches, in every list (repeatable).", valueName: "attribute:value:factor")
    )
    var boosts: [String] = []

    @Option(
        name: .customLong("bury"),
        help: ArgumentHelp("Bury items whose catalogue attribute matches (factor 0.2 unless given; repeatable).", valueName: "attribute:value[:factor]")
    )
    var buries: [String] = []

    @Option(name: .customLong("category-cap"), help: "At most this many items per category in every list.")
    var categoryCap: Int?

    @Option(name: .customLong("cache-ttl-seconds"), help: "Lifetime of cached recommendation lists; 0 turns caching off.")
    var cacheTTLSeconds = 60

    @Option(name: .customLong("cache-capacity"), help: "Users whose lists are cached.")
    var cacheCapacity = 100_000

    @Option(
        name: .customLong("bust-on"),
        help: ArgumentHelp(
            "Events that make a user's cached lists invalid. all (the default): any event, so the next list always reflects it. A list of types (an opt-in for cheaper reads): lists are reused across other events, without the items the user touched since.",
            valueName: "all|type,type,…"
        )
    )
    var bustOn = "all"

    @Option(
        name: .customLong("read-your-writes-ms"),
        help: "Longest a request waits for the user's acknowledged events to be applied before serving what is visible (the response then says \"fresh\": false)."
    )
    var readYourWritesMilliseconds = 10

    @Option(name: .customLong("dedup-hours"), help: "How long event ids are remembered for de-duplication, in hours.")
    var deduplicationHours = 24

    @Option(name: .customLong("max-body-mb"), help: "Largest accepted request body in MiB.")
    var maxBodyMegabytes = 16

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel = "info"

    func validate() throws {
        guard (1...65_535).contains(self.port) else { throw ValidationError("--port must be from 1 to 65535") }
        guard ["fsync", "buffered"].contains(self.durability) else {
            throw ValidationError("--durability must be fsync or buffered")
        }
        guard self.partitions >= 1, self.partitions <= 1_024 else {
            throw ValidationError("--partitions must be from 1 to 1024")
        }
        guard self.segmentMegabytes >= 1, self.retentionMegabytes >= 1, self.retentionHours >= 1 else {
            throw ValidationError("--segment-mb, --retention-mb and --retention-hours must be positive")
        }
        guard self.checkpointSeconds >= 1 else { throw ValidationError("--checkpoint-seconds must be positive") }
        if let hours = self.trendingHalfLifeHours, hours <= 0 {
            throw ValidationError("--trending-half-life-hours must be positive")
        }
        guard self.maxFutureHours >= 0 else { throw ValidationError("--max-future-hours must not be negative") }
        guard self.retrainMinutes >= 0, self.retrainEpochs >= 1 else {
            throw ValidationError("--retrain-minutes must not be negative and --retrain-epochs must be positive")
        }
        _ = try self.engineConfiguration()
        _ = try self.rules()
        if let cap = self.categoryCap, cap < 1 { throw ValidationError("--category-cap must be positive") }
        guard self.cacheTTLSeconds >= 0, self.cacheCapacity >= 1 else {
            throw ValidationError("--cache-ttl-seconds must not be negative and --cache-capacity must be positive")
        }
        if let redis = self.redis {
            do {
                _ = try RedisClient.Configuration(url: redis)
            } catch let error as RedisError {
                throw ValidationError("--redis: \(error.message)")
            }
        } else if self.role != .all {
            throw ValidationError("--role \(self.role.rawValue) needs --redis: that is where its processes share state")
        }
        guard self.readYourWritesMilliseconds >= 0, self.readYourWritesMilliseconds <= 60_000 else {
            throw ValidationError("--read-your-writes-ms must be from 0 to 60000")
        }
        guard self.snapshotSeconds >= 1 else { throw ValidationError("--snapshot-seconds must be positive") }
        guard self.precomputePerSecond >= 0 else { throw ValidationError("--precompute-per-second must not be negative") }
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

        let redis = try self.redis.map { try RedisConnections(url: $0, logger: logger) }
        let app: Application<RouterResponder<BasicRequestContext>>
        switch self.role {
        case .api:
            app = try self.apiApplication(redis: redis!, registry: registry, logger: logger)
        case .all, .processor:
            app = try self.processorApplication(redis: redis, registry: registry, logger: logger)
        }
        var metadata: Logger.Metadata = [
            "starling.http.address": "\(self.host):\(self.port)",
            "starling.role": "\(self.role.rawValue)",
        ]
        if self.role != .api {
            metadata["starling.data_dir"] = "\(self.dataDirectory)"
            metadata["starling.log.durability"] = "\(self.durability)"
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

    private var invalidation: CacheInvalidation {
        CacheInvalidation(option: self.bustOn)
    }

    /// The model settings in the order they apply: the trending half-life option, then every `--model`.
    private var modelSettingList: [String] {
        (self.trendingHalfLifeHours.map { ["trending_half_life_hours=\($0)"] } ?? []) + self.modelSettings
    }

    /// The settings all processes sharing one Redis must agree on, as text: the model settings in the order they
    /// apply, and the event types that invalidate cached lists.
    private var sharedSettings: String {
        "--model \(self.modelSettingList.joined(separator: " ")) --bust-on \(self.invalidation.description)"
    }

    private var httpConfiguration: ApplicationConfiguration {
        .init(address: .hostname(self.host, port: self.port), serverName: "starling")
    }

    /// `--role api`: recommendations from Redis and the published model snapshot; no log, no processor.
    private func apiApplication(
        redis: RedisConnections,
        registry: PrometheusCollectorRegistry,
        logger: Logger
    ) throws -> Application<RouterResponder<BasicRequestContext>> {
        let engineConfiguration = try self.engineConfiguration()
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
                defaultRules: try self.rules(),
                defaultCategoryCap: self.categoryCap,
                // Users' state always comes from Redis; lists are shared only while caching is on.
                shared: SharedServing(
                    store: store,
                    timeToLive: .seconds(self.cacheTTLSeconds),
                    invalidation: self.invalidation,
                    usersFromStore: true
                ),
                readYourWrites: .init(timeout: .milliseconds(self.readYourWritesMilliseconds))
            ),
            readiness: { (follower.isReady, follower.hasSnapshot, 0) },
            metricsText: { MetricsHelp.annotate(registry.emitToString()) },
            maxBodyBytes: self.maxBodyMegabytes * 1_024 * 1_024,
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
        var schema = EventSchema()
        for declaration in self.eventTypes {
            do {
                try schema.declare(specification: declaration)
            } catch {
                throw ValidationError("--event-type \(declaration): \(error.description)")
            }
        }
        var topics = Dictionary(uniqueKeysWithValues: schema.topics.map { ($0, self.partitions) })
        topics[CatalogService<SegmentedEventLog>.topic] = self.partitions
        let log = try SegmentedEventLog.open(
            configuration: .init(
                directory: "\(self.dataDirectory)/log",
                topics: topics,
                durability: self.durability == "fsync" ? .fsync : .buffered,
                segmentBytes: self.segmentMegabytes * 1_024 * 1_024,
                retentionBytes: self.retentionMegabytes * 1_024 * 1_024,
                retentionAge: .seconds(self.retentionHours * 3_600)
            ),
            logger: logger
        )
        let profiles = MemoryProfileStore()
        let catalog = ItemCatalog()
        // A processor-only process serves no requests: its precomputed lists go to Redis only.
        let cache: RecommendationCache? =
            self.cacheTTLSeconds > 0 && self.role == .all
            ? RecommendationCache(
                configuration: .init(
                    capacity: self.cacheCapacity,
                    timeToLive: .seconds(self.cacheTTLSeconds),
                    invalidation: self.invalidation,
                    render: Responses.renderItems
                )
            ) : nil
        let store = redis.map { RedisServingStore(redis: $0.serving, publishing: $0.publishing, logger: logger) }
        let shared = store.flatMap { store in
            self.cacheTTLSeconds > 0
                ? SharedServing(
                    store: store,
                    timeToLive: .seconds(self.cacheTTLSeconds),
                    invalidation: self.invalidation,
                    usersFromStore: false
                ) : nil
        }
        let activeUsers =
            self.precomputePerSecond > 0 && (cache != nil || shared != nil) ? ActiveUsers() : nil
        let deduplication = DeduplicationIndex(retention: .seconds(self.deduplicationHours * 3_600))
        let acknowledgements = AcknowledgedEvents()
        let processor = StreamProcessor(
            log: log,
            profiles: profiles,
            deduplication: deduplication,
            checkpoints: try FileCheckpointStore(directory: "\(self.dataDirectory)/checkpoints"),
            catalog: catalog,
            configuration: .init(
                checkpointInterval: .seconds(self.checkpointSeconds),
                engine: try self.engineConfiguration()
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
                interval: self.retrainMinutes > 0 ? .seconds(self.retrainMinutes * 60) : nil,
                trainer: .init(epochs: self.retrainEpochs)
            ),
            logger: logger
        )
        let validator = EventValidator(
            configuration: .init(
                schema: schema,
                maxFutureSkewMilliseconds: Int64(self.maxFutureHours * 3_600_000)
            )
        )
        let meter = RequestMeter()
        let recommendations = RecommendationService(
            profiles: profiles,
            trending: processor.trending,
            engine: processor.engine,
            catalog: catalog,
            defaultRules: try self.rules(),
            defaultCategoryCap: self.categoryCap,
            cache: cache,
            shared: shared,
            meter: meter,
            readYourWrites: .init(
                acknowledgements: acknowledgements,
                timeout: .milliseconds(self.readYourWritesMilliseconds)
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
                    configuration: .init(interval: .seconds(self.snapshotSeconds), settings: self.sharedSettings),
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
                    configuration: .init(perSecond: self.precomputePerSecond),
                    logger: logger
                )
            )
        }
        let components = APIComponents(
            ingest: IngestService(
                log: log,
                deduplication: deduplication,
                decoder: IngestBatchDecoder(validator: validator),
                acknowledgements: [acknowledgements] + (store.map { [$0] } ?? []),
                backlog: processor.backlog
            ),
            recommendations: self.role == .all ? recommendations : nil,
            readiness: { (processor.isReady, processor.isRecovered, processor.lag()) },
            metricsText: { MetricsHelp.annotate(registry.emitToString()) },
            isRecovered: { processor.isRecovered },
            maxBodyBytes: self.maxBodyMegabytes * 1_024 * 1_024,
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

    /// The configured boost and bury rules.
    func rules() throws -> [RecommendationRequest.AttributeRule] {
        var rules: [RecommendationRequest.AttributeRule] = []
        for raw in self.boosts {
            guard let rule = RecommendationRequest.AttributeRule(parsing: raw, defaultFactor: nil) else {
                throw ValidationError("--boost \(raw): expected attribute:value:factor")
            }
            rules.append(rule)
        }
        for raw in self.buries {
            guard let rule = RecommendationRequest.AttributeRule(parsing: raw, defaultFactor: 0.2) else {
                throw ValidationError("--bury \(raw): expected attribute:value or attribute:value:factor")
            }
            rules.append(rule)
        }
        return rules
    }

    /// The engine configuration: defaults, the trending half-life option, then every `--model` setting.
    func engineConfiguration() throws -> RecommendationEngine.Configuration {
        do {
            return try RecommendationEngine.Configuration(settings: self.modelSettingList)
        } catch {
            throw ValidationError("--model: \(error.description)")
        }
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
