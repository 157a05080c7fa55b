import HTTPTypes
public import Hummingbird
import Logging
import Metrics

/// Checks the API key of every request whose route needs one (``RouteAccess``).
///
/// The key comes as `Authorization: Bearer <key>`, or for `POST /v1/events` also as the `key` query parameter
/// (`navigator.sendBeacon` cannot set headers). No key, or one the server does not know: 401 with
/// `WWW-Authenticate: Bearer`. A publishable key on a route that needs a secret one, or sent from a page whose
/// `Origin` its allowlist does not name: 403. A publishable key over its rate limit: 429 with `Retry-After`. Each
/// answer is the API's `{"error": "…"}` and names what is wrong; the key itself is never echoed or logged.
///
/// With no keys configured it lets everything through.
public struct AuthenticationMiddleware<Context: RequestContext>: RouterMiddleware {
    let security: HTTPSecurity
    let limiter: RateLimiter
    private let failures = AuthenticationFailures()

    public init(security: HTTPSecurity, limiter: RateLimiter = RateLimiter()) {
        self.security = security
        self.limiter = limiter
    }

    public func handle(
        _ request: Request,
        context: Context,
        next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        guard !self.security.keys.isEmpty else { return try await next(request, context) }
        let access = RouteAccess.of(
            method: request.method.rawValue,
            path: request.uri.path,
            protectMetrics: self.security.protectMetrics
        )
        if access == .open { return try await next(request, context) }
        if let refusal = self.refusal(of: request, access: access, logger: context.logger) { return refusal }
        return try await next(request, context)
    }

    /// The response refusing `request`, or `nil` when its key allows it.
    func refusal(of request: Request, access: RouteAccess, logger: Logger) -> Response? {
        guard let presented = Self.presentedKey(request, access: access) else {
            self.failures.missing.increment()
            return Responses.error(
                .unauthorized,
                "missing API key: send it as 'Authorization: Bearer <key>'"
                    + (access == .events ? " (or as the 'key' query parameter)" : ""),
                headers: [.wwwAuthenticate: "Bearer realm=\"starling\""]
            )
        }
        guard let key = self.security.keys.key(presented: presented) else {
            self.failures.unknown.increment()
            return Responses.error(
                .unauthorized,
                "unknown API key: it matches none of the keys this server was given",
                headers: [.wwwAuthenticate: "Bearer realm=\"starling\", error=\"invalid_token\""]
            )
        }
        guard key.kind == .publishable else { return nil }
        if access == .secret {
            self.failures.forbidden.increment()
            return Responses.error(
                .forbidden,
                "key '\(key.name)' is publishable: it may only send events (POST /v1/events); "
                    + "\(request.method) \(request.uri.path) needs a secret key"
            )
        }
        if let origin = request.headers[.origin], !key.allows(origin: origin) {
            self.failures.origin.increment()
            logger.debug("Origin refused for a publishable key", metadata: ["starling.auth.key": "\(key.name)"])
            return Responses.error(
                .forbidden,
                "origin '\(origin.prefix(200))' is not allowed to use key '\(key.name)': "
                    + "add it to the key's origins"
            )
        }
        if let limit = key.rateLimit, let wait = self.limiter.take(key.name, limit: limit) {
            self.failures.rateLimited.increment()
            let seconds = max(1, Int((Double(wait.components.seconds) + Double(wait.components.attoseconds) / 1e18)
                .rounded(.up)))
            return Responses.error(
                .tooManyRequests,
                "key '\(key.name)' is over its rate limit of \(Self.format(limit.perSecond)) requests/s "
                    + "(bursts of \(limit.burst)): retry in \(seconds) s",
                headers: [.retryAfter: "\(seconds)"]
            )
        }
        return nil
    }

    /// The key a request presents: the bearer token, or for sending events the `key` query parameter.
    static func presentedKey(_ request: Request, access: RouteAccess) -> Substring? {
        if let authorization = request.headers[.authorization] {
            let parts = authorization.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
            if parts.count == 2, parts[0].lowercased() == "bearer" {
                return parts[1].drop { $0 == " " }
            }
        }
        if access == .events, let key = request.uri.queryParameters.get("key") { return Substring(key) }
        return nil
    }

    private static func format(_ value: Double) -> String {
        value == value.rounded() ? "\(Int(value))" : "\(value)"
    }
}

/// Refused requests by reason, created once.
private struct AuthenticationFailures: Sendable {
    let missing = Counter(label: "starling_http_auth_failures_total", dimensions: [("reason", "missing_key")])
    let unknown = Counter(label: "starling_http_auth_failures_total", dimensions: [("reason", "unknown_key")])
    let forbidden = Counter(label: "starling_http_auth_failures_total", dimensions: [("reason", "publishable_key")])
    let origin = Counter(label: "starling_http_auth_failures_total", dimensions: [("reason", "origin")])
    let rateLimited = Counter(label: "starling_http_auth_failures_total", dimensions: [("reason", "rate_limited")])
}
