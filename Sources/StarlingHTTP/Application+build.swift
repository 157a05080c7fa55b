public import Hummingbird
import Logging
public import StarlingCore
public import StarlingServing
public import StarlingStream

/// Everything the HTTP API needs, assembled by the composition root.
public struct APIComponents<Log: EventLog, Profiles: ProfileStore>: Sendable {
    public var ingest: IngestService<Log>
    public var recommendations: RecommendationService<Profiles>
    public var readiness: OperationsController.Readiness
    /// Whether recovery finished (ingest opens then); cheaper than ``readiness``, which also computes the lag.
    public var isRecovered: @Sendable () -> Bool
    public var metricsText: @Sendable () -> String
    /// The largest request body accepted, in bytes. Defaults to 16 MiB.
    public var maxBodyBytes: Int
    /// Model status and retraining, when the process runs a retrainer.
    public var models: ModelsController?
    /// The item catalogue API, when the process has a catalogue.
    public var catalog: CatalogService<Log>?

    public init(
        ingest: IngestService<Log>,
        recommendations: RecommendationService<Profiles>,
        readiness: @escaping OperationsController.Readiness,
        metricsText: @escaping @Sendable () -> String,
        isRecovered: (@Sendable () -> Bool)? = nil,
        maxBodyBytes: Int = 16 * 1_024 * 1_024,
        models: ModelsController? = nil,
        catalog: CatalogService<Log>? = nil
    ) {
        self.models = models
        self.catalog = catalog
        self.ingest = ingest
        self.recommendations = recommendations
        self.readiness = readiness
        self.isRecovered = isRecovered ?? { readiness().recovered }
        self.metricsText = metricsText
        self.maxBodyBytes = maxBodyBytes
    }
}

/// Builds the router of the public API v1 and the operations endpoints.
public func buildRouter<Log: EventLog, Profiles: ProfileStore>(
    _ components: APIComponents<Log, Profiles>
) -> Router<BasicRequestContext> {
    let router = Router(context: BasicRequestContext.self)
    router.add(middleware: HTTPMetricsMiddleware())
    IngestController(
        ingest: components.ingest,
        maxBodyBytes: components.maxBodyBytes,
        isAccepting: components.isRecovered
    ).addRoutes(to: router)
    RecommendationController(service: components.recommendations).addRoutes(to: router)
    SessionController(service: components.recommendations).addRoutes(to: router)
    OperationsController(readiness: components.readiness, metricsText: components.metricsText).addRoutes(to: router)
    components.models?.addRoutes(to: router)
    if let catalog = components.catalog {
        CatalogController(service: catalog, maxBodyBytes: components.maxBodyBytes).addRoutes(to: router)
    }
    return router
}
