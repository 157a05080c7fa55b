/// Who may call which routes: API keys, the origins browsers may call from, and whether `/metrics` needs a key.
public struct HTTPSecurity: Sendable {
    /// The accepted keys; none turns authentication off (every route open, as on a developer's machine).
    public var keys: APIKeys
    /// Origins besides the publishable keys' whose pages may call the API from a browser (CORS), for example an
    /// internal tool that sends a secret key.
    public var corsOrigins: [String]
    /// Whether `GET /metrics` needs a secret key. Defaults to `false` (Prometheus scrapes without one).
    public var protectMetrics: Bool

    public init(keys: APIKeys = .none, corsOrigins: [String] = [], protectMetrics: Bool = false) {
        self.keys = keys
        self.corsOrigins = corsOrigins
        self.protectMetrics = protectMetrics
    }

    /// No keys, no CORS: every route open. The default.
    public static let open = HTTPSecurity()

    /// Every origin a browser may call from: ``corsOrigins`` and the publishable keys' origins.
    public var allowedOrigins: Set<String> {
        self.keys.publishableOrigins.union(self.corsOrigins)
    }
}

/// What a request needs to be served, by route.
public enum RouteAccess: Sendable, Hashable {
    /// Anyone: probes, the API description, static assets.
    case open
    /// Sending events: a publishable or a secret key.
    case events
    /// Everything else: reading users' data and recommendations, the catalogue, models: a secret key.
    case secret

    /// The access `method` and `path` need.
    public static func of(method: String, path: some StringProtocol, protectMetrics: Bool) -> RouteAccess {
        switch (method, path) {
        case ("GET", "/health"), ("GET", "/ready"), ("GET", "/openapi.yaml"): .open
        // Static assets: the dashboard's page (its data needs a secret key), the browser SDK a page loads, the demo.
        case ("GET", "/dashboard"), ("GET", "/sdk/starling.js"), ("GET", "/demo"), ("GET", "/demo/catalog.json"): .open
        case ("GET", "/metrics"): protectMetrics ? .secret : .open
        case ("POST", "/v1/events"): .events
        default: .secret
        }
    }
}
