import Dispatch
import HTTPTypes
public import Hummingbird
import Metrics
import StarlingCore

/// Records `starling_http_requests_total` and `starling_http_request_duration_seconds` per route, method and
/// status. Routes are the router's patterns (`/v1/users/{user}`), never raw paths, so user ids never become
/// dimensions.
public struct HTTPMetricsMiddleware<Context: RequestContext>: RouterMiddleware {
    private struct Key: Hashable, Sendable {
        var route: String
        var method: String
        var status: Int
    }

    private struct Series: Sendable {
        var requests: Counter
        var duration: Timer
    }

    private let cache = LockedBox<[Key: Series]>([:])

    public init() {}

    public func handle(
        _ request: Request,
        context: Context,
        next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        let start = DispatchTime.now().uptimeNanoseconds
        do {
            let response = try await next(request, context)
            self.record(request, context, status: response.status.code, start: start)
            return response
        } catch {
            let status = (error as? any HTTPResponseError)?.status.code ?? 500
            self.record(request, context, status: status, start: start)
            throw error
        }
    }

    private func record(_ request: Request, _ context: Context, status: Int, start: UInt64) {
        let key = Key(route: context.endpointPath ?? "unmatched", method: request.method.rawValue, status: status)
        let series = self.cache.withLock { cache -> Series in
            if let series = cache[key] { return series }
            let dimensions = [("route", key.route), ("method", key.method), ("status", String(key.status))]
            let series = Series(
                requests: Counter(label: "starling_http_requests_total", dimensions: dimensions),
                duration: Timer(label: "starling_http_request_duration_seconds", dimensions: dimensions)
            )
            cache[key] = series
            return series
        }
        series.requests.increment()
        series.duration.recordNanoseconds(Int64(DispatchTime.now().uptimeNanoseconds - start))
    }
}
