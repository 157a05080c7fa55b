import HTTPTypes
public import Hummingbird

/// Cross-origin requests from the allowed origins (``HTTPSecurity/allowedOrigins``): answers their preflight and
/// marks their responses readable by the calling page.
///
/// A preflight (`OPTIONS` with `Access-Control-Request-Method`) from an allowed origin gets 204 with the methods and
/// headers the API takes; from another origin, 403 naming it. Responses to an allowed origin carry
/// `Access-Control-Allow-Origin` (the origin itself, with `Vary: Origin`) and expose `Retry-After`. With no allowed
/// origins it does nothing, and browsers keep pages of other origins from reading the API's answers.
public struct CORSMiddleware<Context: RequestContext>: RouterMiddleware {
    let origins: Set<String>
    /// How long a browser may cache a preflight's answer.
    static var maxAgeSeconds: Int { 600 }

    public init(origins: Set<String>) {
        self.origins = origins
    }

    public func handle(
        _ request: Request,
        context: Context,
        next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        guard !self.origins.isEmpty, let origin = request.headers[.origin] else {
            return try await next(request, context)
        }
        let allowed = self.origins.contains("*") || self.origins.contains(origin)
        if request.method == .options, request.headers[.accessControlRequestMethod] != nil {
            guard allowed else {
                return Responses.error(
                    .forbidden,
                    "origin '\(origin.prefix(200))' may not call this API from a browser: it is not among the "
                        + "allowed origins (a publishable key's origins, or --cors-origin)"
                )
            }
            return Response(
                status: .noContent,
                headers: [
                    .accessControlAllowOrigin: origin,
                    .accessControlAllowMethods: "GET, POST, PUT, DELETE",
                    .accessControlAllowHeaders: "Authorization, Content-Type, X-Request-Id, traceparent",
                    .accessControlMaxAge: "\(Self.maxAgeSeconds)",
                    .vary: "Origin",
                ]
            )
        }
        var response = try await next(request, context)
        if allowed {
            response.headers[.accessControlAllowOrigin] = origin
            response.headers[.accessControlExposeHeaders] = "Retry-After"
            response.headers[.vary] = "Origin"
        }
        return response
    }
}
