import Foundation
import StarlingCore
import Synchronization
import Testing

/// Starts the real binary, ingests from concurrent clients while killing it with SIGKILL, restarts it, and proves
/// that every acknowledged event is present exactly once.
@Suite(.serialized)
struct CrashRecoveryTests {
    private struct Batch: Sendable {
        var body: String
        var users: [String]
    }

    private final class Ledger: Sendable {
        /// Batches sent; `true` once acknowledged with 200.
        let batches = Mutex<[(batch: Batch, acknowledged: Bool)]>([])
    }

    private static let userCount = 30
    private static let batchSize = 20

    private static func makeBatch(client: Int, sequence: Int) -> Batch {
        var users: [String] = []
        var events: [String] = []
        for k in 0..<batchSize {
            let user = "user-\((client * 7 + sequence * 3 + k) % userCount)"
            users.append(user)
            events.append(
                #"{"type":"view","user":"\#(user)","item":"item-\#((sequence + k) % 50)","id":"c\#(client)-\#(sequence)-\#(k)"}"#
            )
        }
        return Batch(body: "{\"events\":[\(events.joined(separator: ","))]}", users: users)
    }

    @Test(arguments: ["fsync", "buffered"])
    func everyAcknowledgedEventSurvivesKill9ExactlyOnce(durability: String) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("starling-crash-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let arguments = ["--checkpoint-seconds", "1", "--durability", durability, "--partitions", "3"]
        let server = try StarlingServer(dataDirectory: directory, extraArguments: arguments)
        try await server.start()

        // Ingest from 6 concurrent clients; kill -9 mid-flight, once at least 30 batches were acknowledged and 1 s
        // has passed (a condition, not a fixed time: a busy machine acknowledges more slowly).
        let ledger = Ledger()
        await withTaskGroup(of: Void.self) { group in
            for client in 0..<6 {
                group.addTask {
                    var sequence = 0
                    while true {
                        let batch = Self.makeBatch(client: client, sequence: sequence)
                        let index = ledger.batches.withLock { batches in
                            batches.append((batch, false))
                            return batches.count - 1
                        }
                        guard let (status, _) = try? await server.request("POST", "/v1/events", body: batch.body) else {
                            return  // the server is gone
                        }
                        if status == 200 { ledger.batches.withLock { $0[index].acknowledged = true } }
                        sequence += 1
                    }
                }
            }
            let started = ContinuousClock.now
            let deadline = started + .seconds(120)
            while ContinuousClock.now < deadline {
                let acknowledged = ledger.batches.withLock { $0.count(where: \.acknowledged) }
                if acknowledged >= 30, ContinuousClock.now - started >= .seconds(1) { break }
                try? await Task.sleep(for: .milliseconds(50))
            }
            server.kill9()
        }
        let batches = ledger.batches.withLock { $0 }
        let acknowledged = batches.filter(\.acknowledged)
        #expect(acknowledged.count >= 20, "too few acknowledged batches (\(acknowledged.count)) for a meaningful test")

        var sentPerUser: [String: Int] = [:]
        var acknowledgedPerUser: [String: Int] = [:]
        for (batch, ack) in batches {
            for user in batch.users {
                sentPerUser[user, default: 0] += 1
                if ack { acknowledgedPerUser[user, default: 0] += 1 }
            }
        }

        // Restart: every acknowledged event is there, and nothing beyond what was sent.
        let restarted = try StarlingServer(dataDirectory: directory, extraArguments: arguments)
        try await restarted.start()
        for user in sentPerUser.keys.sorted() {
            let (status, profile) = try await restarted.json("GET", "/v1/users/\(user)")
            let count = status == 200 ? (profile["event_count"]?.int ?? -1) : 0
            #expect(count >= acknowledgedPerUser[user, default: 0], "\(user) lost acknowledged events")
            #expect(count <= sentPerUser[user, default: 0], "\(user) has events that were never sent")
        }

        // Retrying acknowledged batches changes nothing: their ids are known after the crash.
        for (batch, _) in acknowledged {
            let (status, result) = try await restarted.json("POST", "/v1/events", body: batch.body)
            #expect(status == 200)
            #expect(result["accepted"]?.int == 0)
            #expect(result["duplicates"]?.int == Self.batchSize)
        }
        // Retrying the batches in flight at the kill completes them; each event now counts exactly once.
        for (batch, ack) in batches where !ack {
            let (status, result) = try await restarted.json("POST", "/v1/events", body: batch.body)
            #expect(status == 200)
            #expect((result["accepted"]?.int ?? 0) + (result["duplicates"]?.int ?? 0) == Self.batchSize)
        }
        try await Task.sleep(for: .milliseconds(200))
        for user in sentPerUser.keys.sorted() {
            let (_, profile) = try await restarted.json("GET", "/v1/users/\(user)")
            #expect(profile["event_count"]?.int == sentPerUser[user], "\(user) is not exactly-once")
            #expect(profile["version"]?.int == sentPerUser[user])
        }
        restarted.stop()
    }

    @Test func metricsEndpointPassesPromtool() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("starling-metrics-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let server = try StarlingServer(dataDirectory: directory)
        try await server.start()
        defer { server.stop() }
        _ = try await server.request("POST", "/v1/events", body: #"{"events":[{"type":"view","user":"u","item":"i"},{"type":"x"}]}"#)
        _ = try await server.request("GET", "/v1/users/u/recommendations")
        _ = try await server.request("GET", "/v1/users/missing")
        let (status, metrics) = try await server.request("GET", "/metrics")
        #expect(status == 200)
        let text = String(decoding: metrics, as: UTF8.self)
        for name in ["starling_freshness_seconds", "starling_ingest_events_accepted_total", "starling_http_requests_total",
            "starling_processor_lag_records", "starling_log_appended_records_total"]
        {
            #expect(text.contains("# TYPE \(name) "), "missing \(name)")
        }

        try expectPromtoolAccepts(metrics)
    }
}
