public import Hummingbird
public import Logging
public import ServiceLifecycle
public import StarlingCore
public import StarlingEventLog
public import StarlingHTTP

/// What a role of `starling serve` assembles: the HTTP API's components and the services that run beside the
/// server.
///
/// ``ProcessorRole`` (`--role all` and `--role processor`) and ``APIRole`` (`--role api`) conform.
/// ``buildApplication(configuration:metricsText:logger:)`` picks the role the configuration names; tests build
/// a role directly, adjust what they need, and take its ``application(logger:)``.
public protocol ServerRole: Sendable {
    /// Where the role's recommendation service reads users' profiles.
    associatedtype Profiles: ProfileStore

    /// The configuration the role was built from.
    var configuration: ServerConfiguration { get }
    /// Everything the HTTP API's router is built from.
    var components: APIComponents<SegmentedEventLog, Profiles> { get }
    /// The services to run beside the HTTP server, in start order (they stop in reverse).
    var services: [any Service] { get }

    /// Assembles the role from `configuration`.
    ///
    /// - Parameters:
    ///   - configuration: The settings.
    ///   - metricsText: The metrics exposition, served at `GET /metrics` with help text added.
    ///   - logger: The logger of the application's services.
    /// - Throws: When a model setting is invalid, or the role's storage cannot be opened.
    init(configuration: ServerConfiguration, metricsText: @escaping @Sendable () -> String, logger: Logger) throws
}

extension ServerRole {
    /// The Hummingbird application: the API router on the configured address, running the role's services and
    /// the sampling of the dashboard's series.
    ///
    /// - Parameters:
    ///   - logger: The logger of the application and its requests.
    ///   - stats: The dashboard's series, when the process records its metrics into one (the executable
    ///     bootstraps it as a metrics backend); the components' own otherwise.
    public func application(
        logger: Logger,
        stats: LiveStats? = nil
    ) -> Application<RouterResponder<BasicRequestContext>> {
        let http = self.configuration.http
        let (seconds, attoseconds) = http.idleTimeout.components
        var components = self.components
        if let stats { components.stats = stats }
        return Application(
            router: buildRouter(components),
            server: .http1(
                configuration: .init(idleTimeout: .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000))
            ),
            configuration: .init(
                address: .hostname(http.host, port: http.port),
                serverName: "starling",
                availableConnectionsDelegate: .maximum(http.maxConnections, logger: logger)
            ),
            services: self.services + [components.stats],
            logger: logger
        )
    }
}

/// Builds the application of the role `configuration` names.
///
/// - Parameters:
///   - configuration: The role and its settings; ``ServerConfiguration/Role/api`` needs
///     ``ServerConfiguration/Cluster/redis``.
///   - metricsText: The metrics exposition, served at `GET /metrics` with help text added.
///   - stats: The dashboard's series, bootstrapped as a metrics backend beside Prometheus's.
///   - logger: The logger of the application and its services.
/// - Throws: When a model setting is invalid, or the log or the checkpoint directory cannot be opened.
public func buildApplication(
    configuration: ServerConfiguration,
    metricsText: @escaping @Sendable () -> String,
    stats: LiveStats? = nil,
    logger: Logger
) throws -> Application<RouterResponder<BasicRequestContext>> {
    let role: any ServerRole.Type = configuration.role == .api ? APIRole.self : ProcessorRole.self
    let built = try role.init(configuration: configuration, metricsText: metricsText, logger: logger)
    return built.application(logger: logger, stats: stats)
}
