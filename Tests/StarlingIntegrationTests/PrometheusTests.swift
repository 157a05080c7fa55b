import Foundation
import StarlingCore
import StarlingTestSupport
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A real Prometheus (Debian's `prometheus` package) scraping a running deployment — an owner process and an API
/// process sharing a Redis server the test starts — with `deploy/prometheus/alerts.yml` loaded: the recording rules
/// evaluate, every rule is healthy, and every expression of `deploy/grafana/starling.json` evaluates and names only
/// metrics Prometheus knows (`scripts/check-dashboard --prometheus`).
@Suite(.serialized)
struct PrometheusTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    @Test func prometheusScrapesStarlingEvaluatesTheRulesAndEveryDashboardExpression() async throws {
        let prometheusBinary = "/usr/bin/prometheus"
        try #require(
            FileManager.default.isExecutableFile(atPath: prometheusBinary),
            "prometheus is needed (Debian package prometheus; scripts/test installs it)"
        )
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("starling-prometheus-\(UUID())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }

        let redis = try await RedisServerProcess.started()
        defer { redis.stop() }
        let owner = try StarlingServer(
            dataDirectory: "\(directory)/owner",
            extraArguments: ["--redis", redis.url, "--snapshot-seconds", "1"]
        )
        try await owner.start()
        let api = try StarlingServer(
            dataDirectory: "\(directory)/api",
            extraArguments: ["--role", "api", "--redis", redis.url]
        )
        try await api.start()

        let events = #"{"events":[{"type":"view","user":"u1","item":"a"},{"type":"like","user":"u1","item":"b"},"#
            + #"{"type":"view","user":"u2","item":"a"},{"type":"rating","user":"u2","item":"b","value":9}]}"#
        #expect(try await owner.request("POST", "/v1/events", body: events).0 == 200)
        // A 5xx for the 5xx recording rule: an API process takes no events.
        #expect(try await api.request("POST", "/v1/events", body: events).0 == 503)

        let port = try freeLoopbackPort()
        let configuration = """
            global:
              scrape_interval: 1s
              evaluation_interval: 1s
            rule_files:
              - \(Self.root.path)/deploy/prometheus/alerts.yml
            scrape_configs:
              - job_name: starling-processor
                static_configs: [{targets: ["127.0.0.1:\(owner.port)"]}]
              - job_name: starling-api
                static_configs: [{targets: ["127.0.0.1:\(api.port)"]}]
            """
        try configuration.write(toFile: "\(directory)/prometheus.yml", atomically: true, encoding: .utf8)
        let prometheus = Process()
        prometheus.executableURL = URL(fileURLWithPath: prometheusBinary)
        prometheus.arguments = [
            "--config.file=\(directory)/prometheus.yml",
            "--storage.tsdb.path=\(directory)/tsdb",
            "--web.listen-address=127.0.0.1:\(port)",
        ]
        FileManager.default.createFile(atPath: "\(directory)/prometheus.log", contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: "\(directory)/prometheus.log"))
        prometheus.standardOutput = log
        prometheus.standardError = log
        try prometheus.run()
        defer { if prometheus.isRunning { prometheus.terminate() } }
        let base = "http://127.0.0.1:\(port)"

        // A recording rule over both processes' traffic, read back once Prometheus has scraped and evaluated it;
        // requests keep coming meanwhile so the rate is above zero.
        var rates: [String: Double] = [:]
        do {
            try await eventually("role:starling_http_requests:rate1m has a positive value for both roles", timeout: .seconds(90), interval: .milliseconds(500)) {
                _ = try await owner.request("GET", "/v1/users/u1/recommendations")
                _ = try await api.request("GET", "/v1/users/u2/recommendations")
                _ = try await api.request("GET", "/v1/sessions/s1/recommendations")
                rates = try await Self.query("role:starling_http_requests:rate1m", at: base)
                return (rates["all"] ?? 0) > 0 && (rates["api"] ?? 0) > 0
            }
        } catch {
            Issue.record("rates: \(rates); Prometheus log: \(Self.tail("\(directory)/prometheus.log"))")
            throw error
        }

        // Every rule of alerts.yml evaluates without error.
        try await eventually("every rule has been evaluated", timeout: .seconds(30), interval: .milliseconds(500)) {
            try await Self.ruleHealth(at: base).allSatisfy { $0.value != "unknown" }
        }
        let health = try await Self.ruleHealth(at: base)
        #expect(health.count == 17, "rules loaded: \(health.keys.sorted())")
        #expect(health.filter { $0.value != "ok" }.isEmpty, "unhealthy rules: \(health.filter { $0.value != "ok" })")

        // The dashboard: structure, and every expression against this Prometheus (names it does not know fail).
        let (status, output) = try await runToEnd(
            "/usr/bin/env",
            ["python3", "\(Self.root.path)/scripts/check-dashboard", "\(Self.root.path)/deploy/grafana/starling.json",
                "--prometheus", base, "--wait", "30"]
        )
        #expect(status == 0, "check-dashboard: \(output)")

        prometheus.terminate()
        try await waitForExit(of: prometheus)
        try await api.stop()
        try await owner.stop()
    }

    /// An instant query's result, by the `role` label of each series.
    static func query(_ expression: String, at base: String) async throws -> [String: Double] {
        var components = URLComponents(string: "\(base)/api/v1/query")!
        components.queryItems = [URLQueryItem(name: "query", value: expression)]
        guard let answer = try? await Self.json(components.url!) else { return [:] }
        var values: [String: Double] = [:]
        for series in answer["data"]?["result"]?.array ?? [] {
            guard let role = series["metric"]?["role"]?.string, let value = series["value"]?.array?.last?.string
            else { continue }
            values[role] = Double(value)
        }
        return values
    }

    /// Every rule's health (`ok`, `err` or `unknown` before its first evaluation), by name.
    static func ruleHealth(at base: String) async throws -> [String: String] {
        let answer = try await Self.json(URL(string: "\(base)/api/v1/rules")!)
        var health: [String: String] = [:]
        for group in answer["data"]?["groups"]?.array ?? [] {
            for rule in group["rules"]?.array ?? [] {
                health[rule["name"]?.string ?? "?"] = rule["health"]?.string ?? "?"
            }
        }
        return health
    }

    static func json(_ url: URL) async throws -> JSONValue {
        let (data, _) = try await URLSession.shared.data(from: url)
        return try JSONScanner.parse([UInt8](data))
    }

    static func tail(_ path: String) -> String {
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        return String(text.suffix(2_000))
    }
}
