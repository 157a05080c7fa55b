public import Logging
public import ServiceLifecycle
import StarlingCluster
public import StarlingCore
public import StarlingEventLog
public import StarlingHTTP
import StarlingModels
import StarlingServing
public import StarlingStream

/// `--role all` and `--role processor`: the event log and the processor, publishing to Redis when
/// ``ServerConfiguration/Cluster/redis`` is set.
///
/// The log is the embedded one (`ProcessorRole<SegmentedEventLog>`, opened and recovered when the role is built),
/// or a Kafka cluster with ``ServerConfiguration/Cluster/kafka`` in a binary built with the `Kafka` trait
/// (`ProcessorRole<KafkaEventLog>`, built by `ProcessorRole.onKafka`). Everything else starts with its services. A
/// `processor` process serves no recommendations: it registers none of their routes and keeps no in-process cache,
/// so its precomputed lists go to Redis only.
///
/// ```swift
/// let role = try ProcessorRole(configuration: configuration, metricsText: { "" }, logger: logger)
/// try await role.application(logger: logger).runService()
/// ```
public struct ProcessorRole<Log: EventLog>: ServerRole {
    public let configuration: ServerConfiguration
    /// The event log.
    public let log: Log
    /// The stream processor: profiles, models and the catalogue, learned from the log.
    public let processor: StreamProcessor<Log>
    /// Full retrains of the embeddings, on a timer and on `POST /v1/models/retrain`.
    public let retrainer: ModelRetrainer<Log>
    /// Everything the router is built from. Tests may replace parts before taking ``application(logger:)``.
    public var components: APIComponents<Log, EngineProfileStore>
    /// The log first, then the Redis publisher, the processor, the retrainer, the snapshot exporter and the
    /// precompute job: services stop in reverse order, so the publisher stops after the processor (it writes what
    /// the processor's last batch changed) and the log last.
    public var services: [any Service]

    /// The topics of the log, each with ``ServerConfiguration/Storage/partitions`` partitions: one per event type's
    /// topic in the schema, and the catalogue's.
    public static func topics(for configuration: ServerConfiguration) -> [String: Int] {
        let partitions = configuration.storage.partitions
        var topics = Dictionary(
            uniqueKeysWithValues: configuration.processing.schema.topics.map { ($0, partitions) }
        )
        topics[CatalogService<Log>.topic] = partitions
        return topics
    }

    static func processorConfiguration(for configuration: ServerConfiguration) throws
        -> StreamProcessor<Log>.Configuration
    {
        StreamProcessor<Log>.Configuration(
            checkpointInterval: configuration.storage.checkpointInterval,
            engine: try RecommendationEngine.Configuration(settings: configuration.processing.modelSettings),
            backlog: configuration.processing.maxLag.map { ProcessingBacklog.Configuration(maxLag: $0) }
        )
    }

    /// Assembles the role on an open log, from a configuration whose role is ``ServerConfiguration/Role/all`` or
    /// ``ServerConfiguration/Role/processor``. The log runs as the role's first service, so it closes last.
    ///
    /// - Parameters:
    ///   - storageFailure: Why the log stopped accepting events for good, or `nil` (`/health` and `/ready` say it).
    ///   - diskFull: Why the log refuses appends while its disk is full, or `nil`.
    public init(
        configuration: ServerConfiguration,
        log: Log,
        storageFailure: @escaping @Sendable () -> String? = { nil },
        diskFull: @escaping @Sendable () -> String? = { nil },
        metricsText: @escaping @Sendable () -> String,
        logger: Logger
    ) throws where Log: Service {
        precondition(configuration.role != .api, "an API process has no log: build an APIRole")
        self.configuration = configuration
        let storage = configuration.storage
        let processing = configuration.processing
        let serving = configuration.serving
        let servesRecommendations = configuration.role == .all
        let processorConfiguration = try Self.processorConfiguration(for: configuration)
        let catalog = ItemCatalog()
        // A processor-only process serves no requests: its precomputed lists go to Redis only.
        let cache: RecommendationCache? =
            serving.cacheTimeToLive > .zero && servesRecommendations
            ? RecommendationCache(
                configuration: .init(
                    capacity: serving.cacheCapacity,
                    timeToLive: serving.cacheTimeToLive,
                    invalidation: serving.invalidation,
                    render: Responses.renderItems
                )
            ) : nil
        let redis = configuration.cluster.redis.map { RedisConnections(configuration: $0, logger: logger) }
        let store = redis.map { RedisServingStore(
                redis: $0.serving,
                publishing: $0.publishing,
                acknowledging: $0.acknowledging,
                logger: logger
            ) }
        let shared = store.flatMap { store in
            serving.cacheTimeToLive > .zero
                ? SharedServing(
                    store: store,
                    timeToLive: serving.cacheTimeToLive,
                    invalidation: serving.invalidation,
                    usersFromStore: false
                ) : nil
        }
        let activeUsers = serving.precomputePerSecond > 0 && (cache != nil || shared != nil) ? ActiveUsers() : nil
        let deduplication = DeduplicationIndex(
            retention: processing.deduplicationRetention,
            maxIDs: processing.deduplicationMaxIDs
        )
        let acknowledgements = AcknowledgedEvents()
        let processor = StreamProcessor(
            log: log,
            deduplication: deduplication,
            checkpoints: try FileCheckpointStore(directory: "\(storage.directory)/checkpoints"),
            catalog: catalog,
            configuration: processorConfiguration,
            logger: logger,
            onApplied: { event in activeUsers?.note(event) },
            publisher: store,
            acknowledgements: acknowledgements
        )
        // What Redis lost (a restart without persistence) or the publisher dropped is published again from here.
        store?.republish(from: processor)
        let retrainer = ModelRetrainer(
            log: log,
            processor: processor,
            configuration: .init(
                interval: processing.retrainInterval,
                trainer: .init(epochs: processing.retrainEpochs),
                minimumInterval: processing.minimumRetrainInterval
            ),
            logger: logger
        )
        let meter = RequestMeter()
        let recommendations = RecommendationService(
            profiles: processor.profiles,
            trending: processor.trending,
            engine: processor.engine,
            catalog: catalog,
            defaultRules: serving.rules,
            defaultCategoryCap: serving.categoryCap,
            cache: cache,
            shared: shared,
            meter: meter,
            readYourWrites: .init(acknowledgements: acknowledgements, timeout: serving.readYourWritesTimeout)
        )

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
                    configuration: .init(
                        interval: configuration.cluster.snapshotInterval,
                        settings: configuration.sharedSettings
                    ),
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
                    configuration: .init(perSecond: serving.precomputePerSecond),
                    logger: logger
                )
            )
        }

        let partitionLag: @Sendable () -> [TopicPartition: Int64] = {
            let ends = log.endOffsets()
            let positions = processor.positions
            var lag: [TopicPartition: Int64] = [:]
            for (partition, end) in ends { lag[partition] = max(0, end - (positions[partition] ?? 0)) }
            return lag
        }
        var cachedUsers: (@Sendable () -> Int)?
        if let cache { cachedUsers = { cache.count } }
        let sampler = ScrapeSampler(
            .init(
                role: configuration.role,
                ready: { processor.isReady && storageFailure() == nil },
                engine: processor.engine,
                catalog: catalog,
                partitionLag: partitionLag,
                cachedUsers: cachedUsers,
                deduplicationIDs: { deduplication.count },
                dataDirectory: storage.directory,
                redis: redis?.all ?? []
            )
        )
        let validator = EventValidator(
            configuration: .init(
                schema: processing.schema,
                maxFutureSkewMilliseconds: processing.maxFutureSkew.wholeMilliseconds
            )
        )
        self.components = APIComponents(
            ingest: IngestService(
                log: log,
                deduplication: deduplication,
                decoder: IngestBatchDecoder(validator: validator, maxEvents: processing.maxEventsPerBatch),
                acknowledgements: [acknowledgements] + (store.map { [$0] } ?? []),
                backlog: processor.backlog
            ),
            recommendations: servesRecommendations ? recommendations : nil,
            readiness: { (processor.isReady, processor.isRecovered, processor.lag()) },
            storageFailure: storageFailure,
            diskFull: diskFull,
            metricsText: {
                sampler.sample()
                return MetricsHelp.annotate(metricsText())
            },
            isRecovered: { processor.isRecovered },
            maxBodyBytes: configuration.http.maxBodyBytes,
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
            catalog: CatalogService(log: log, catalog: catalog),
            security: configuration.http.security
        )
        self.log = log
        self.processor = processor
        self.retrainer = retrainer
        self.services = services
    }
}

extension ProcessorRole where Log == SegmentedEventLog {
    /// Opens (and recovers) the embedded log in the data directory's `log` directory and assembles the role from a
    /// configuration whose role is ``ServerConfiguration/Role/all`` or ``ServerConfiguration/Role/processor``.
    public init(
        configuration: ServerConfiguration,
        metricsText: @escaping @Sendable () -> String,
        logger: Logger
    ) throws {
        let storage = configuration.storage
        var logConfiguration = SegmentedEventLog.Configuration(
            directory: "\(storage.directory)/log",
            topics: Self.topics(for: configuration),
            durability: storage.durability,
            segmentBytes: storage.segmentBytes,
            retentionBytes: storage.retentionBytes,
            retentionAge: storage.retentionAge,
            maxPendingBytes: storage.maxPendingBytes,
            // Retention never deletes what the processor has not checkpointed: it replays from its checkpoint,
            // whose positions it commits to its group after every checkpoint.
            retentionGroups: [try Self.processorConfiguration(for: configuration).group]
        )
        logConfiguration.syncFaults = storage.syncFaults
        logConfiguration.writeFaults = storage.writeFaults
        let log = try SegmentedEventLog.open(configuration: logConfiguration, logger: logger)
        try self.init(
            configuration: configuration,
            log: log,
            storageFailure: { log.failure?.message },
            diskFull: { log.diskFull?.message },
            metricsText: metricsText,
            logger: logger
        )
    }
}
