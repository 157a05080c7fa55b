public import Hummingbird
public import Logging
public import ServiceLifecycle
public import StarlingCore
import StarlingEventLog
public import StarlingHTTP

#if Kafka
import StarlingKafka
#endif

/// What a role of `starling serve` assembles: the HTTP API's components and the services that run beside the
/// server.
///
/// ``ProcessorRole`` (`--role all` and `--role processor`, on the embedded log or on Kafka) and ``APIRole``
/// (`--role api`) conform. ``buildApplication(configuration:metricsText:logger:)`` picks the role the
/// configuration names; tests build a role directly, adjust what they need, and take its ``application(logger:)``.
public protocol ServerRole: Sendable {
    /// The event log ingest appends to (a role without ingest names the embedded log's type).
    associatedtype Log: EventLog
    /// Where the role's recommendation service reads users' profiles.
    associatedtype Profiles: ProfileStore

    /// The configuration the role was built from.
    var configuration: ServerConfiguration { get }
    /// Everything the HTTP API's router is built from.
    var components: APIComponents<Log, Profiles> { get }
    /// The services to run beside the HTTP server, in start order (they stop in reverse).
    var services: [any Service] { get }
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

/// Builds the application of the role `configuration` names, on the embedded log or, with
/// ``ServerConfiguration/Cluster/kafka``, on Kafka.
///
/// - Parameters:
///   - configuration: The role and its settings; ``ServerConfiguration/Role/api`` needs
///     ``ServerConfiguration/Cluster/redis``.
///   - metricsText: The metrics exposition, served at `GET /metrics` with help text added.
///   - stats: The dashboard's series, bootstrapped as a metrics backend beside Prometheus's.
///   - logger: The logger of the application and its services.
/// - Throws: ``ServerConfigurationError`` when the server would listen beyond loopback without API keys (see
///   ``ServerConfiguration/HTTP/insecureNoAuth``), or when the configuration names Kafka in a binary built without
///   the `Kafka` trait (``ServerConfigurationError/kafkaNotBuilt``); when a model setting is invalid, the log or the
///   checkpoint directory cannot be opened, or the Kafka cluster does not answer.
public func buildApplication(
    configuration: ServerConfiguration,
    metricsText: @escaping @Sendable () -> String,
    stats: LiveStats? = nil,
    logger: Logger
) async throws -> Application<RouterResponder<BasicRequestContext>> {
    try configuration.http.validate()
    if configuration.role == .api {
        return try APIRole(configuration: configuration, metricsText: metricsText, logger: logger)
            .application(logger: logger, stats: stats)
    }
    if configuration.cluster.kafka != nil {
        #if Kafka
        return try await ProcessorRole.onKafka(configuration: configuration, metricsText: metricsText, logger: logger)
            .application(logger: logger, stats: stats)
        #else
        throw ServerConfigurationError.kafkaNotBuilt
        #endif
    }
    return try ProcessorRole(configuration: configuration, metricsText: metricsText, logger: logger)
        .application(logger: logger, stats: stats)
}
