import HTTPTypes
public import Hummingbird
import NIOCore

/// `GET /dashboard`, the built-in live dashboard, and `GET /v1/stats`, the per-second series it charts.
///
/// The page is one HTML file with its CSS and JavaScript inline (`Sources/StarlingHTTP/Dashboard/dashboard.html`),
/// compiled into the binary as a package resource (`.embedInCode`): nothing is read from disk or fetched from
/// another origin. It reads only public routes: `/v1/stats`, `/v1/trending`, `/v1/models`, `/ready` and, in its
/// user explorer, `/v1/users/{user}` and `/v1/users/{user}/recommendations`.
public struct DashboardController: Sendable {
    private static let page = ByteBuffer(bytes: PackageResources.dashboard_html)

    let stats: LiveStats

    /// - Parameter stats: The series `GET /v1/stats` serves.
    public init(stats: LiveStats) {
        self.stats = stats
    }

    public func addRoutes(to router: Router<some RequestContext>) {
        router.get("/dashboard") { _, _ in
            Response(
                status: .ok,
                headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-cache"],
                body: ResponseBody(byteBuffer: Self.page)
            )
        }
        router.get("/v1/stats") { _, _ in
            Responses.json(Self.render(self.stats.points, interval: 1))
        }
    }

    /// `{"interval_seconds": 1, "time": […], "ingest_per_second": […], …}`: one array per series, oldest first,
    /// `null` where a second had nothing to measure.
    static func render(_ points: [LiveStats.Point], interval: Int) -> JSONWriter {
        var writer = JSONWriter(capacity: 256 + points.count * 120)
        writer.beginObject()
        writer.field("interval_seconds", interval)
        func series(_ name: String, _ value: (LiveStats.Point) -> Double?) {
            writer.key(name)
            writer.beginArray()
            for point in points {
                if let value = value(point) {
                    writer.value((value * 1_000).rounded() / 1_000)
                } else {
                    writer.null()
                }
            }
            writer.endArray()
        }
        writer.key("time")
        writer.beginArray()
        for point in points { writer.value(point.time) }
        writer.endArray()
        series("ingest_per_second") { $0.ingestPerSecond }
        series("recommendations_per_second") { $0.recommendationsPerSecond }
        series("recommendation_p50_ms") { $0.recommendationP50 }
        series("recommendation_p99_ms") { $0.recommendationP99 }
        series("freshness_p50_ms") { $0.freshnessP50 }
        series("freshness_p99_ms") { $0.freshnessP99 }
        series("lag_records") { $0.lag }
        series("cache_hit_ratio") { $0.cacheHitRatio }
        series("errors_per_second") { $0.errorsPerSecond }
        series("model_version") { $0.modelVersion }
        writer.endObject()
        return writer
    }
}
