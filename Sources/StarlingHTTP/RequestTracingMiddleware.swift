import Dispatch
import HTTPTypes
public import Hummingbird
public import Logging

/// Gives every request an id and a W3C trace context, puts both in the metadata of every log line written while
/// handling it, and returns them in the response.
///
/// - The request id is the request's `X-Request-Id` when it is sane (1–128 characters: letters, digits and
///   `-_.:+=/@`), or else the request's new span id (16 hexadecimal digits). It is the logger's `hb.request.id`, the key
///   Hummingbird gives each request, so one id names the request in every line, Hummingbird's own included.
/// - The trace context continues a valid `traceparent` and starts a new trace for a missing or malformed one
///   (never an error: ``TraceContext``). Its ids are logged as `trace.id`, `span.id` and, for a continued trace,
///   `span.parent_id`; the response's `traceparent` names this request's span.
///
/// The handler runs with the request's logger bound as the task-local `Logger.current` (`withLogger`), so code
/// below the routes that is handed no logger — the Redis calls made for the request — logs with these ids too.
/// Each request is logged once it is answered, at `debug` (method, route, status, duration).
///
/// Added to the router first, so it wraps the other middleware and every route, the not-found answer included.
public struct RequestTracingMiddleware<Context: RequestContext>: RouterMiddleware {
    /// `X-Request-Id`.
    public static var requestIDHeader: HTTPField.Name { HTTPField.Name("X-Request-Id")! }
    /// `traceparent`.
    public static var traceparentHeader: HTTPField.Name { HTTPField.Name("traceparent")! }

    public init() {}

    public func handle(
        _ request: Request,
        context: Context,
        next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        let start = DispatchTime.now().uptimeNanoseconds
        let trace = TraceContext(traceparent: request.headers[Self.traceparentHeader])
        let requestID = Self.requestID(request.headers[Self.requestIDHeader], otherwise: trace.spanID)
        var context = context
        // One assignment of the whole metadata: a handler may do work per change (swift-log's StreamLogHandler
        // renders all of its metadata again on each).
        var metadata = context.logger.handler.metadata
        metadata["hb.request.id"] = .string(requestID)
        metadata["trace.id"] = .string(trace.traceID)
        metadata["span.id"] = .string(trace.spanID)
        if let parent = trace.parentID { metadata["span.parent_id"] = .string(parent) }
        context.logger.handler.metadata = metadata
        let logger = context.logger
        var response = try await withLogger(logger) { _ in try await next(request, context) }
        response.headers[Self.requestIDHeader] = requestID
        response.headers[Self.traceparentHeader] = trace.traceparent
        logger.debug(
            "Request answered",
            metadata: [
                "http.method": "\(request.method.rawValue)",
                "http.route": "\(context.endpointPath ?? "unmatched")",
                "http.status": "\(response.status.code)",
                "http.duration_ms": "\(Double(DispatchTime.now().uptimeNanoseconds - start) / 1_000_000)",
            ]
        )
        return response
    }

    /// The request's own id when it is sane, or else `fallback` (the request's new span id).
    static func requestID(_ header: String?, otherwise fallback: String) -> String {
        if let header, Self.isSane(header) { return header }
        return fallback
    }

    /// 1–128 characters, each a letter, a digit or one of `-_.:+=/@`.
    static func isSane(_ id: String) -> Bool {
        let utf8 = id.utf8
        guard !utf8.isEmpty, utf8.count <= 128 else { return false }
        return utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"):
                true
            case UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: ":"), UInt8(ascii: "+"),
                UInt8(ascii: "="), UInt8(ascii: "/"), UInt8(ascii: "@"):
                true
            default:
                false
            }
        }
    }
}
