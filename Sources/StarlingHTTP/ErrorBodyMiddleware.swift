import HTTPTypes
public import Hummingbird
import Logging

/// Gives every error the API's shape, `{"error": "…"}`, including those no handler writes: Hummingbird answers a
/// path that names no route (or a method the path does not take) with a bodiless 404, and a handler's unexpected
/// error with a bodiless 500. A path that has routes, asked with a method none of them takes, is answered 405 with
/// `Allow` listing the methods it takes (from ``RouteMethods``).
///
/// Added to the router before any route, so it wraps every handler and the not-found responder.
public struct ErrorBodyMiddleware<Context: RequestContext>: RouterMiddleware {
    let routeMethods: RouteMethods?

    /// - Parameter routeMethods: the router's routes, recorded once they were all added; without it a wrong method
    ///   is answered 404 like an unknown path.
    public init(routeMethods: RouteMethods? = nil) {
        self.routeMethods = routeMethods
    }

    public func handle(
        _ request: Request,
        context: Context,
        next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPError {
            if error.status == .notFound, let allowed = self.routeMethods?.methods(for: request.uri.path),
                !allowed.isEmpty, !allowed.contains(request.method)
            {
                let list = allowed.map(\.rawValue).joined(separator: ", ")
                return Responses.error(
                    .methodNotAllowed,
                    "method \(request.method) not allowed for \(Self.shownPath(request)): it takes \(list)",
                    headers: [.allow: list]
                )
            }
            let message = error.body ?? Self.message(for: error.status, request)
            return Responses.error(error.status, message, headers: error.headers)
        } catch let error as any HTTPResponseError {
            // Another error that knows its response (none of Starling's): keep it as it is.
            return try error.response(from: request, context: context)
        } catch {
            context.logger.error(
                "Request failed",
                metadata: [
                    "starling.http.route": "\(context.endpointPath ?? "unmatched")",
                    "starling.http.error": "\(String(reflecting: error))",
                ]
            )
            return Responses.error(.internalServerError, "internal error while answering \(Self.describe(request))")
        }
    }

    static func message(for status: HTTPResponse.Status, _ request: Request) -> String {
        guard status == .notFound else { return status.reasonPhrase }
        return "no route for \(Self.describe(request)): GET /openapi.yaml describes the routes of this API"
    }

    /// `METHOD /path`, the path cut at 200 characters.
    static func describe(_ request: Request) -> String {
        "\(request.method) \(Self.shownPath(request))"
    }

    /// The request's path, cut at 200 characters.
    static func shownPath(_ request: Request) -> String {
        let path = request.uri.path
        return path.utf8.count <= 200 ? path : String(path.prefix(200)) + "…"
    }
}
