public import Logging
public import ServiceLifecycle
public import StarlingCluster
public import StarlingCore
public import StarlingEventLog
public import StarlingHTTP
import StarlingModels
import StarlingServing

/// `--role api`: recommendations from Redis and the model snapshot published there; no log, no processor.
///
/// A ``SnapshotFollower`` keeps a model replica current from the published snapshots and the applied-event stream;
/// users' state always comes from Redis, and lists are shared there while caching is on. Ingest and catalogue
/// changes answer 503, naming the roles that take them.
public struct APIRole: ServerRole {
    public let configuration: ServerConfiguration
    /// Installs published model snapshots and replays the applied events into the local engine.
    public let follower: SnapshotFollower
    /// Everything the router is built from.
    public var components: APIComponents<SegmentedEventLog, MemoryProfileStore>
    /// The snapshot follower.
    public var services: [any Service]

    /// Assembles the role from a configuration whose ``ServerConfiguration/Cluster/redis`` is set; nothing
    /// connects before the services start.
    public init(
        configuration: ServerConfiguration,
        metricsText: @escaping @Sendable () -> String,
        logger: Logger
    ) throws {
        guard let redisConfiguration = configuration.cluster.redis else {
            preconditionFailure("an API process serves from Redis: set cluster.redis")
        }
        self.configuration = configuration
        let serving = configuration.serving
        let redis = RedisConnections(configuration: redisConfiguration, logger: logger)
        let engineConfiguration = try RecommendationEngine.Configuration(
            settings: configuration.processing.modelSettings
        )
        let engine = EngineStore(RecommendationEngine(configuration: engineConfiguration))
        let trending = SnapshotPublisher<TrendingSnapshot>(.empty)
        let catalog = ItemCatalog()
        let follower = SnapshotFollower(
            redis: redis.snapshots,
            engine: engine,
            engineConfiguration: engineConfiguration,
            trending: trending,
            catalog: catalog,
            configuration: .init(settings: configuration.sharedSettings),
            logger: logger
        )
        let store = RedisServingStore(redis: redis.serving, logger: logger)
        let recommendations = RecommendationService(
            profiles: MemoryProfileStore(),
            trending: trending,
            engine: engine,
            catalog: catalog,
            defaultRules: serving.rules,
            defaultCategoryCap: serving.categoryCap,
            // Users' state always comes from Redis; lists are shared only while caching is on.
            shared: SharedServing(
                store: store,
                timeToLive: serving.cacheTimeToLive,
                invalidation: serving.invalidation,
                usersFromStore: true
            ),
            readYourWrites: .init(timeout: serving.readYourWritesTimeout)
        )
        let sampler = ScrapeSampler(
            .init(role: .api, ready: { follower.isReady }, engine: engine, catalog: catalog, redis: redis.all)
        )
        self.components = APIComponents(
            ingest: nil,
            recommendations: recommendations,
            readiness: { (follower.isReady, follower.hasSnapshot, 0) },
            metricsText: {
                sampler.sample()
                return MetricsHelp.annotate(metricsText())
            },
            maxBodyBytes: configuration.http.maxBodyBytes,
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
            writesUnavailable: "this process runs --role api and has no event log: send events and catalogue changes "
                + "to a process started with --role all or --role processor (ingest into API processes needs a log "
                + "shared between machines, which comes with Kafka)",
            security: configuration.http.security
        )
        self.follower = follower
        self.services = [follower]
    }
}
