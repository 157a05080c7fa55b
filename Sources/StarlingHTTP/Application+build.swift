public import Hummingbird
import Logging
public import StarlingCore
public import StarlingServing
public import StarlingStream

/// Everything the HTTP API needs, assembled by the composition root.
///
/// A process that does not own the log (`--role api`) has no ingest and no catalogue service: those routes answer
/// 503 with ``writesUnavailable``. A process that does not serve recommendations (`--role processor`) has no
/// recommendation service and registers none of its routes.
public struct APIComponents<Log: EventLog, Profiles: ProfileStore>: Sendable {
    public var ingest: IngestService<Log>?
    public var recommendations: RecommendationService<Profiles>?
    public var readiness: OperationsController.Readiness
    /// Why the process's event log stopped accepting events, or `nil` (see ``OperationsController``).
    public var storageFailure: @Sendable () -> String?
    /// Why the event log refuses appends while its disk is full, or `nil` (see ``OperationsController``).
    public var diskFull: @Sendable () -> String?
    /// Whether recovery finished (ingest opens then); cheaper than ``readiness``, which also computes the lag.
    public var isRecovered: @Sendable () -> Bool
    public var metricsText: @Sendable () -> String
    /// The largest request body accepted, in bytes. Defaults to 16 MiB.
    public var maxBodyBytes: Int
    /// Model status and retraining, when the process runs a retrainer.
    public var models: ModelsController?
    /// The item catalogue API, when the process owns the log.
    public var catalog: CatalogService<Log>?
    /// The catalogue `GET /v1/items/{item}` reads when the process has no ``catalog`` service.
    public var catalogView: ItemCatalog?
    /// Why ingest and catalogue changes are not accepted here, when the process has no ``ingest``.
    public var writesUnavailable: String?
    /// API keys and CORS. Defaults to ``HTTPSecurity/open``.
    public var security: HTTPSecurity
    /// The demo site (`starling demo`), or `nil`.
    public var demo: AssetsController.Demo?
    /// The per-second series of `GET /v1/stats` and the dashboard. It holds what it was given as a metrics backend
    /// (the executable bootstraps it beside Prometheus's); a fresh one, given nothing, charts zeros.
    public var stats: LiveStats

    public init(
        ingest: IngestService<Log>?,
        recommendations: RecommendationService<Profiles>?,
        readiness: @escaping OperationsController.Readiness,
        storageFailure: @escaping @Sendable () -> String? = { nil },
        diskFull: @escaping @Sendable () -> String? = { nil },
        metricsText: @escaping @Sendable () -> String,
        isRecovered: (@Sendable () -> Bool)? = nil,
        maxBodyBytes: Int = 16 * 1_024 * 1_024,
        models: ModelsController? = nil,
        catalog: CatalogService<Log>? = nil,
        catalogView: ItemCatalog? = nil,
        writesUnavailable: String? = nil,
        security: HTTPSecurity = .open,
        demo: AssetsController.Demo? = nil,
        stats: LiveStats = LiveStats()
    ) {
        self.security = security
        self.demo = demo
        self.stats = stats
        self.catalogView = catalogView
        self.writesUnavailable = writesUnavailable
        self.models = models
        self.catalog = catalog
        self.ingest = ingest
        self.recommendations = recommendations
        self.readiness = readiness
        self.storageFailure = storageFailure
        self.diskFull = diskFull
        self.isRecovered = isRecovered ?? { readiness().recovered }
        self.metricsText = metricsText
        self.maxBodyBytes = maxBodyBytes
    }
}

/// Builds the router of the public API v1 and the operations endpoints, as `docs/openapi.yaml` describes them
/// (served at `GET /openapi.yaml`).
public func buildRouter<Log: EventLog, Profiles: ProfileStore>(
    _ components: APIComponents<Log, Profiles>
) -> Router<BasicRequestContext> {
    let router = Router(context: BasicRequestContext.self)
    let routeMethods = RouteMethods()
    router.add(middleware: RequestTracingMiddleware())
    router.add(middleware: HTTPMetricsMiddleware())
    // Outside the error middleware, so that refusals and errors carry CORS headers too (a page can read them).
    router.add(middleware: CORSMiddleware(origins: components.security.allowedOrigins))
    router.add(middleware: ErrorBodyMiddleware(routeMethods: routeMethods))
    router.add(middleware: AuthenticationMiddleware(security: components.security))
    if let ingest = components.ingest {
        IngestController(
            ingest: ingest,
            maxBodyBytes: components.maxBodyBytes,
            isAccepting: components.isRecovered
        ).addRoutes(to: router)
    }
    if let recommendations = components.recommendations {
        RecommendationController(service: recommendations).addRoutes(to: router)
        SessionController(service: recommendations).addRoutes(to: router)
    }
    OperationsController(
        readiness: components.readiness,
        storageFailure: components.storageFailure,
        diskFull: components.diskFull,
        metricsText: components.metricsText
    ).addRoutes(to: router)
    OpenAPIController().addRoutes(to: router)
    AssetsController(demo: components.demo).addRoutes(to: router)
    DashboardController(stats: components.stats).addRoutes(to: router)
    components.models?.addRoutes(to: router)
    if let catalog = components.catalog {
        CatalogController(service: catalog, maxBodyBytes: components.maxBodyBytes, isAccepting: components.isRecovered)
            .addRoutes(to: router)
    } else if let view = components.catalogView {
        router.get("/v1/items/:item") { _, context in CatalogController<Log>.get(from: view, context: context) }
    }
    if let reason = components.writesUnavailable {
        let unavailable: @Sendable (Request, BasicRequestContext) -> Response = { _, _ in
            Responses.error(.serviceUnavailable, reason)
        }
        if components.ingest == nil { router.post("/v1/events", use: unavailable) }
        if components.catalog == nil {
            router.put("/v1/items/:item", use: unavailable)
            router.post("/v1/items", use: unavailable)
            router.delete("/v1/items/:item", use: unavailable)
        }
    }
    routeMethods.record(router)
    return router
}
