import Foundation
import StarlingCore
import StarlingTestSupport
import Testing

/// The metrics operators act on move when what they describe happens, as a client sees them on `/metrics` of the
/// real binary.
@Suite(.serialized)
struct MetricsTests {
    /// One scrape of `/metrics`: every sample by metric name and labels.
    struct Scrape: CustomStringConvertible {
        var samples: [String: [(labels: [String: String], value: Double)]] = [:]
        var description: String { self.samples.keys.sorted().joined(separator: ", ") }

        init(_ text: String) {
            for line in text.split(separator: "\n") where !line.hasPrefix("#") {
                guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...])
                else { continue }
                let series = line[..<space]
                var labels: [String: String] = [:]
                var name = String(series)
                if let brace = series.firstIndex(of: "{") {
                    name = String(series[..<brace])
                    let body = series[series.index(after: brace)..<(series.lastIndex(of: "}") ?? series.endIndex)]
                    for pair in body.split(separator: ",") {
                        let parts = pair.split(separator: "=", maxSplits: 1)
                        guard parts.count == 2 else { continue }
                        labels[String(parts[0])] = String(parts[1].dropFirst().dropLast())
                    }
                }
                self.samples[name, default: []].append((labels, value))
            }
        }

        /// The sum of the samples of `name` whose labels include `labels`; `nil` when there is none.
        func value(_ name: String, _ labels: [String: String] = [:]) -> Double? {
            let matching = (self.samples[name] ?? []).filter { sample in
                labels.allSatisfy { sample.labels[$0.key] == $0.value }
            }
            return matching.isEmpty ? nil : matching.reduce(0) { $0 + $1.value }
        }

        func count(_ name: String) -> Int { self.samples[name]?.count ?? 0 }
    }

    static func scrape(_ server: StarlingServer) async throws -> Scrape {
        let (status, body) = try await server.request("GET", "/metrics")
        #expect(status == 200)
        return Scrape(String(decoding: body, as: UTF8.self))
    }

    static func directory() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("starling-metrics-\(UUID())").path
    }

    @Test func ingestLogProcessorCacheAndModelMetricsMove() async throws {
        let directory = Self.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let server = try StarlingServer(
            dataDirectory: directory,
            extraArguments: ["--partitions", "2", "--min-retrain-interval-seconds", "0", "--precompute-per-second", "0"]
        )
        try await server.start()
        let before = try await Self.scrape(server)
        #expect(before.value("starling_ready") == 1)
        #expect(before.value("starling_role_info", ["role": "all"]) == 1)
        #expect(before.value("starling_ingest_refused_requests_total", ["reason": "malformed_body"]) == 0)
        #expect(before.value("starling_retrains_total", ["result": "success"]) == 0)
        let free = try #require(before.value("starling_data_disk_free_bytes"))
        let size = try #require(before.value("starling_data_disk_size_bytes"))
        #expect(free > 0 && size >= free)
        #expect((before.value("process_resident_memory_bytes") ?? 0) > 1_000_000)

        // Ingest by type and result, rejections by reason, refused requests by reason.
        let batch = #"{"events":[{"type":"view","user":"u1","item":"a","id":"e1"},{"type":"view","user":"u2","item":"a"},"#
            + #"{"type":"like","user":"u1","item":"b"},{"type":"rating","user":"u2","item":"b","value":9},{"user":"u3"}]}"#
        #expect(try await server.request("POST", "/v1/events", body: batch).0 == 200)
        #expect(try await server.request("POST", "/v1/events", body: #"{"events":[{"type":"view","user":"u1","item":"a","id":"e1"}]}"#).0 == 200)
        #expect(try await server.request("POST", "/v1/events", body: #"{"events": ["#).0 == 400)
        #expect(try await server.request("POST", "/v1/events", body: "x", contentType: "text/html").0 == 415)
        try await eventually("the processor applied the events") {
            try await Self.scrape(server).value("starling_users") == 2
        }
        let ingested = try await Self.scrape(server)
        #expect(ingested.value("starling_ingest_events_total", ["type": "view", "result": "accepted"]) == 2)
        #expect(ingested.value("starling_ingest_events_total", ["type": "like", "result": "accepted"]) == 1)
        #expect(ingested.value("starling_ingest_events_total", ["type": "view", "result": "duplicate"]) == 1)
        #expect(ingested.value("starling_ingest_events_total", ["result": "rejected"]) == 2)
        #expect(ingested.value("starling_ingest_rejected_events_total", ["reason": "value"]) == 1)
        #expect(ingested.value("starling_ingest_rejected_events_total", ["reason": "type"]) == 1)
        #expect(ingested.value("starling_ingest_refused_requests_total", ["reason": "malformed_body"]) == 1)
        #expect(ingested.value("starling_ingest_refused_requests_total", ["reason": "unsupported_media_type"]) == 1)

        // The log's group commits and the processor's model updates; lag per partition; what the engine holds.
        #expect((ingested.value("starling_log_commit_batch_records_count") ?? 0) >= 1)
        #expect(ingested.value("starling_log_commit_batch_records_sum") == 3)
        #expect((ingested.value("starling_model_update_duration_seconds_count") ?? 0) >= 1)
        #expect(ingested.value("starling_items") == 2)
        #expect(ingested.value("starling_store_entries", ["store": "dedup_ids"]) == 1)
        let users = try #require(ingested.value("starling_users"))
        #expect(ingested.value("starling_memory_bytes", ["store": "embeddings"]) == (users + 2) * 64 * 4)
        #expect((ingested.value("starling_memory_bytes", ["store": "user_records"]) ?? 0) > 0)
        // Six event topics and the catalogue, two partitions each; all applied.
        #expect(ingested.count("starling_processor_partition_lag_records") == 14)
        #expect(ingested.value("starling_processor_partition_lag_records") == 0)
        #expect(ingested.value("starling_processor_lag_records") == 0)

        // Recommendation latency by endpoint and cache result; invalidation when the user acts.
        _ = try await server.request("GET", "/v1/users/u1/recommendations")
        _ = try await server.request("GET", "/v1/users/u1/recommendations")
        _ = try await server.request("GET", "/v1/sessions/s1/recommendations")
        let served = try await Self.scrape(server)
        let user = "starling_recommendation_duration_seconds_count"
        #expect(served.value(user, ["endpoint": "user", "cache": "miss"]) == 1)
        #expect(served.value(user, ["endpoint": "user", "cache": "process_hit"]) == 1)
        #expect(served.value(user, ["endpoint": "session", "cache": "disabled"]) == 1)
        #expect(served.value("starling_store_entries", ["store": "cache"]) == 1)
        #expect(served.value("starling_cache_invalidations_total", ["layer": "process", "reason": "user_changed"]) == 0)
        #expect(try await server.request("POST", "/v1/events", body: #"{"events":[{"type":"view","user":"u1","item":"c"}]}"#).0 == 200)
        _ = try await server.request("GET", "/v1/users/u1/recommendations")
        let invalidated = try await Self.scrape(server)
        #expect(invalidated.value("starling_cache_invalidations_total", ["layer": "process", "reason": "user_changed"]) == 1)
        #expect(invalidated.value(user, ["endpoint": "user", "cache": "miss"]) == 2)

        // A retrain: its result, the model version and when it last succeeded.
        #expect(try await server.request("POST", "/v1/models/retrain").0 == 202)
        try await eventually("the retrain succeeded", timeout: .seconds(60), interval: .milliseconds(50)) {
            try await Self.scrape(server).value("starling_retrains_total", ["result": "success"]) == 1
        }
        let retrained = try await Self.scrape(server)
        #expect(retrained.value("starling_model_version") == 1)
        #expect(retrained.value("starling_retrains_total", ["result": "failure"]) == 0)
        #expect((retrained.value("starling_retrain_last_success_timestamp_seconds") ?? 0) > Date().timeIntervalSince1970 - 120)
        _ = try await server.request("GET", "/v1/users/u1/recommendations")
        let afterRetrain = try await Self.scrape(server)
        #expect(afterRetrain.value("starling_cache_invalidations_total", ["layer": "process", "reason": "model_changed"]) == 1)

        try await expectPromtoolAccepts(try await server.request("GET", "/metrics").1)
        try await server.stop()
    }

    @Test func redisMetricsSayWhenRedisIsUnreachable() async throws {
        let redis = try await RedisServerProcess.started()
        defer { redis.stop() }
        let directory = Self.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let owner = try StarlingServer(dataDirectory: directory, extraArguments: ["--redis", redis.url])
        try await owner.start()
        #expect(try await owner.request("POST", "/v1/events", body: #"{"events":[{"type":"view","user":"u","item":"i"}]}"#).0 == 200)
        try await eventually("commands were sent to Redis") {
            try await (Self.scrape(owner).value("starling_redis_commands_total", ["connection": "publishing"]) ?? 0) > 0
        }
        let reachable = try await Self.scrape(owner)
        #expect(reachable.value("starling_redis_up", ["connection": "publishing"]) == 1)
        #expect(reachable.value("starling_redis_command_failures_total") == 0)

        redis.stop()
        // The publisher checks Redis every second: its commands fail from then on.
        try await eventually("the publishing connection reports Redis unreachable", timeout: .seconds(30), interval: .milliseconds(100)) {
            let scrape = try await Self.scrape(owner)
            return (scrape.value("starling_redis_command_failures_total", ["connection": "publishing"]) ?? 0) > 0
                && scrape.value("starling_redis_up", ["connection": "publishing"]) == 0
        }
        try await owner.stop()
    }
}
