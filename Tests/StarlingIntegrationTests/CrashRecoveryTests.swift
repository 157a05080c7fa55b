import Foundation
import StarlingCore
import StarlingTestSupport
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

    /// Rounds of kill -9 during sustained ingest: for each round the server restarts on the same data directory
    /// (its recovery time is recorded), clients ingest until the round has seen enough acknowledgements, and the
    /// server is killed with requests in flight. At the end every acknowledged event is present exactly once, and
    /// retrying every batch — acknowledged or not — leaves each event counted exactly once.
    ///
    /// `STARLING_BINARY=.build/release/starling swift test --filter CrashRecoveryTests` times the release binary.
    @Test(arguments: [("fsync", 20), ("buffered", 5)])
    func everyAcknowledgedEventSurvivesRoundsOfKill9ExactlyOnce(durability: String, rounds: Int) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("starling-crash-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let arguments = ["--checkpoint-seconds", "1", "--durability", durability, "--partitions", "3"]
        let ledger = Ledger()
        var recoveryTimes: [Duration] = []
        for round in 0..<rounds {
            let server = try StarlingServer(dataDirectory: directory, extraArguments: arguments)
            recoveryTimes.append(try await server.start())
            // Ingest from 6 concurrent clients; kill -9 mid-flight once this round saw a number of acknowledgements
            // that varies by round (a condition, not a fixed time: a busy machine acknowledges more slowly).
            let wanted = 10 + (round * 7) % 23
            try await Self.ingest(into: server, ledger: ledger, round: round, untilAcknowledged: wanted)
        }
        let batches = ledger.batches.withLock { $0 }
        let acknowledged = batches.filter(\.acknowledged)
        #expect(acknowledged.count >= rounds * 10, "too few acknowledged batches (\(acknowledged.count))")

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
        recoveryTimes.append(try await restarted.start())
        for user in sentPerUser.keys.sorted() {
            let count = try await Self.eventCount(of: user, on: restarted)
            #expect(count >= acknowledgedPerUser[user, default: 0], "\(user) lost acknowledged events")
            #expect(count <= sentPerUser[user, default: 0], "\(user) has events that were never sent")
        }

        // Retrying acknowledged batches changes nothing: their ids are known after the crashes.
        for (batch, _) in acknowledged {
            let (status, result) = try await restarted.json("POST", "/v1/events", body: batch.body)
            #expect(status == 200)
            #expect(result["accepted"]?.int == 0)
            #expect(result["duplicates"]?.int == Self.batchSize)
        }
        // Retrying the batches in flight at a kill completes them; each event now counts exactly once.
        for (batch, ack) in batches where !ack {
            let (status, result) = try await restarted.json("POST", "/v1/events", body: batch.body)
            #expect(status == 200)
            #expect((result["accepted"]?.int ?? 0) + (result["duplicates"]?.int ?? 0) == Self.batchSize)
        }
        let total = sentPerUser.values.reduce(0, +)
        try await Self.waitUntilApplied(total, on: restarted)
        for user in sentPerUser.keys.sorted() {
            let (_, profile) = try await restarted.json("GET", "/v1/users/\(user)")
            #expect(profile["event_count"]?.int == sentPerUser[user], "\(user) is not exactly-once")
            #expect(profile["version"]?.int == sentPerUser[user])
        }
        try await restarted.stop()
        let sorted = recoveryTimes.sorted()
        print(
            "kill -9 rounds (\(durability)): \(rounds) rounds, \(acknowledged.count) batches acknowledged, "
                + "\(batches.count - acknowledged.count) in flight at a kill; restart to ready: "
                + "median \(sorted[sorted.count / 2]), max \(sorted.last!)"
        )
    }

    /// Sends batches from 6 clients until `wanted` of them were acknowledged in this round (or 120 s passed), then
    /// kills the server with SIGKILL while requests are in flight.
    private static func ingest(into server: StarlingServer, ledger: Ledger, round: Int, untilAcknowledged wanted: Int)
        async throws
    {
        let acknowledgedBefore = ledger.batches.withLock { $0.count(where: \.acknowledged) }
        await withTaskGroup(of: Void.self) { group in
            for client in 0..<6 {
                group.addTask {
                    var sequence = 0
                    while !Task.isCancelled {
                        let batch = Self.makeBatch(client: round * 100 + client, sequence: sequence)
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
            let deadline = ContinuousClock.now + .seconds(120)
            while ContinuousClock.now < deadline {
                let acknowledged = ledger.batches.withLock { $0.count(where: \.acknowledged) }
                if acknowledged - acknowledgedBefore >= wanted { break }
                try? await Task.sleep(for: .milliseconds(10))
            }
            try? await server.kill9()
        }
    }

    /// A user's `event_count`, 0 when the user is unknown.
    private static func eventCount(of user: String, on server: StarlingServer) async throws -> Int {
        let (status, profile) = try await server.json("GET", "/v1/users/\(user)")
        return status == 200 ? (profile["event_count"]?.int ?? -1) : 0
    }

    /// Waits (up to 30 s) until the processor applied `count` events: the sum of `event_count` over every user.
    private static func waitUntilApplied(_ count: Int, on server: StarlingServer) async throws {
        let deadline = ContinuousClock.now + .seconds(30)
        var applied = 0
        while ContinuousClock.now < deadline {
            applied = 0
            for user in 0..<userCount { applied += try await Self.eventCount(of: "user-\(user)", on: server) }
            if applied >= count { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        Issue.record("the processor applied \(applied) of \(count) events within 30 s")
    }

    @Test func metricsEndpointPassesPromtool() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("starling-metrics-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let server = try StarlingServer(dataDirectory: directory)
        try await server.start()
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

        try await expectPromtoolAccepts(metrics)
        try await server.stop()
    }
}
