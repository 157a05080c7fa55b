import Hummingbird
import HummingbirdTesting
import Metrics
import StarlingCore
import Testing

@testable import StarlingHTTP

/// The dashboard's page, its per-second series (`GET /v1/stats`) and the profile's segment it shows.
struct DashboardAPITests {
    /// A backend whose seconds end only when the test calls `sample()`, at the times the test sets.
    private static func stats(now: LockedBox<Int64>) -> LiveStats {
        LiveStats(
            configuration: .init(points: 3),
            tick: { try await Task.sleep(for: .seconds(3_600)) },
            now: { now.withLock { $0 } }
        )
    }

    @Test func aSecondBecomesRatesPercentilesAndRatios() throws {
        let now = LockedBox<Int64>(10_000)
        let stats = Self.stats(now: now)
        let recommendations = stats.makeTimer(
            label: "starling_http_request_duration_seconds",
            dimensions: [("route", "/v1/users/{user}/recommendations"), ("method", "GET"), ("status", "200")]
        )
        let other = stats.makeTimer(
            label: "starling_http_request_duration_seconds",
            dimensions: [("route", "/v1/events"), ("method", "POST"), ("status", "200")]
        )
        #expect(stats.points.isEmpty, "the first second started when the backend was created")

        stats.makeCounter(label: "starling_ingest_events_accepted_total", dimensions: []).increment(by: 100)
        for _ in 0..<99 { recommendations.recordNanoseconds(2_000_000) }
        recommendations.recordNanoseconds(80_000_000)
        other.recordNanoseconds(5_000_000_000)
        stats.makeTimer(label: "starling_freshness_seconds", dimensions: []).recordNanoseconds(3_000_000)
        stats.makeRecorder(label: "starling_processor_lag_records", dimensions: [], aggregate: false).record(Int64(42))
        let cache = [("layer", "process"), ("result", "hit")]
        stats.makeCounter(label: "starling_cache_requests_total", dimensions: cache).increment(by: 3)
        stats.makeCounter(label: "starling_cache_requests_total", dimensions: [("layer", "process"), ("result", "miss")])
            .increment(by: 1)
        stats.makeCounter(label: "starling_http_requests_total", dimensions: [("status", "503")]).increment(by: 4)
        stats.makeCounter(label: "starling_http_requests_total", dimensions: [("status", "200")]).increment(by: 9)
        now.withLock { $0 = 12_000 }  // a two-second "second": rates are per second
        stats.sample()

        let point = try #require(stats.points.last)
        #expect(point.time == 12_000)
        #expect(point.ingestPerSecond == 50)
        #expect(point.recommendationsPerSecond == 50, "the other route's slow request is not a recommendation")
        let p50 = try #require(point.recommendationP50)
        let p99 = try #require(point.recommendationP99)
        #expect(p50 >= 2 && p50 < 2 * 1.2, "median within one bucket above 2 ms: \(p50)")
        #expect(p99 >= 2 && p99 < 2 * 1.2, "99 of 100 at 2 ms: \(p99)")
        #expect(try #require(point.freshnessP99) >= 3)
        #expect(point.lag == 42)
        #expect(point.cacheHitRatio == 0.75)
        #expect(point.errorsPerSecond == 2)

        // A quiet second: zero rates, no percentiles, no ratio; the lag stays as last reported.
        now.withLock { $0 = 13_000 }
        stats.sample()
        let quiet = try #require(stats.points.last)
        #expect(quiet.ingestPerSecond == 0 && quiet.recommendationP50 == nil && quiet.cacheHitRatio == nil)
        #expect(quiet.lag == 42)
        // Only the configured number of points is kept.
        now.withLock { $0 = 14_000 }
        stats.sample()
        now.withLock { $0 = 15_000 }
        stats.sample()
        #expect(stats.points.map { $0.time } == [13_000, 14_000, 15_000])
    }

    @Test(arguments: [(Int64(1), 0), (Int64(10_000), 0), (Int64(10_001), 1),
        (Int64(60_000_000_000), LiveStats.Histogram.bounds.count - 1), (Int64(60_000_000_001), LiveStats.Histogram.bounds.count)])
    func durationsFallInTheFirstBucketAtOrAboveThem(nanoseconds: Int64, bucket: Int) {
        #expect(LiveStats.Histogram.bucket(of: nanoseconds) == bucket)
    }

    @Test func statsServesEverySeriesAsAnArrayOfTheSameLength() async throws {
        let now = LockedBox<Int64>(1_000)
        let stats = Self.stats(now: now)
        var fixture = APIFixture()
        fixture.stats = stats
        try await fixture.run { client, _ in
            stats.makeCounter(label: "starling_ingest_events_accepted_total", dimensions: []).increment(by: 7)
            now.withLock { $0 = 2_000 }
            stats.sample()
            let (status, body) = try await client.getJSON("/v1/stats")
            #expect(status == .ok)
            #expect(body["interval_seconds"]?.int == 1)
            #expect(body["time"]?.array?.compactMap(\.int) == [2_000])
            #expect(body["ingest_per_second"]?.array?.first?.int == 7)
            #expect(body["recommendation_p99_ms"]?.array?.first?.typeName == "null")
            for series in [
                "recommendations_per_second", "recommendation_p50_ms", "freshness_p50_ms", "freshness_p99_ms",
                "lag_records", "cache_hit_ratio", "errors_per_second", "model_version",
            ] {
                #expect(body[series]?.array?.count == 1, "\(series)")
            }
        }
    }

    @Test func theDashboardIsOneSelfContainedPage() async throws {
        try await APIFixture().run { client, _ in
            let response = try await client.execute(uri: "/dashboard", method: .get)
            #expect(response.status == .ok)
            #expect(response.headers[.contentType] == "text/html; charset=utf-8")
            let page = String(buffer: response.body)
            #expect(page.hasPrefix("<!doctype html>"))
            #expect(page.contains("name=\"viewport\""), "readable on a phone")
            for route in ["/v1/stats", "/v1/trending", "/v1/models", "/ready", "/v1/users/"] {
                #expect(page.contains("\"\(route)"), "reads \(route)")
            }
            #expect(!page.contains("src=\"http") && !page.contains("href=\"http") && !page.contains("//cdn"))
        }
    }

    @Test func theProfileNamesTheUsersSegment() async throws {
        try await APIFixture().run { client, _ in
            #expect(try await client.postEvents(#"{"events":[{"type":"like","user":"ann","item":"dune"}]}"#).status == .ok)
            let (status, profile) = try await client.getJSON("/v1/users/ann")
            #expect(status == .ok)
            let segment = try #require(profile["segment"]?.int)
            #expect(segment >= 0 && segment < 16)
        }
    }
}
