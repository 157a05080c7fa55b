import Foundation
import StarlingCore
import StarlingTestSupport
import Synchronization
import Testing

/// Redis killed (SIGKILL) and restarted empty while clients ingest into the log's owner without pause, with an API
/// process serving from Redis: nothing acknowledged is lost or applied twice, both processes keep answering, and the
/// API process serves every user at the owner's version again once Redis is back.
@Suite(.serialized)
struct RedisRestartTests {
    private static let batchSize = 20

    @Test func redisKilledAndRestartedEmptyDuringSustainedIngest() async throws {
        let redis = try await RedisServerProcess.started()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("starling-redis-restart-\(UUID())").path
        defer {
            try? FileManager.default.removeItem(atPath: directory)
            try? FileManager.default.removeItem(atPath: directory + "-api")
        }
        let owner = try StarlingServer(
            dataDirectory: directory,
            extraArguments: ["--redis", redis.url, "--snapshot-seconds", "1", "--partitions", "2"]
        )
        _ = try await owner.start()
        let api = try StarlingServer(dataDirectory: directory + "-api", extraArguments: ["--role", "api", "--redis", redis.url])
        _ = try await api.start()

        // "early" users act only before Redis is killed: after the restart nothing new of theirs is published, so
        // only a republish of everything brings them back. "steady" users act throughout.
        let early = (0..<20).map { "early\($0)" }
        let steady = (0..<20).map { "steady\($0)" }
        let ledger = IngestLedger()
        let redisDown = Shared(false)
        let stop = Shared(false)
        let unexpected = Shared<[String]>([])
        let probes = Shared<(count: Int, slowest: Double)>((0, 0))
        var killedAt = ContinuousClock.now
        var restartedAt = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            defer { stop.withLock { $0 = true } }
            for client in 0..<6 {
                group.addTask {
                    var sequence = 0
                    while !stop.value {
                        let users = redisDown.value || ledger.count(.acknowledged) >= 30 ? steady : early + steady
                        let batch = IngestLedger.batch(prefix: "r", client: client, sequence: sequence, size: Self.batchSize, users: users)
                        let index = ledger.sent(batch)
                        let answer = try await owner.send("POST", "/v1/events", body: batch.body)
                        ledger.answered(index, acknowledged: answer.status == 200)
                        // Acknowledged, or a retryable refusal that says why; never a 5xx without a reason.
                        if answer.status != 200,
                            !(answer.status == 503 && answer.retryAfter != nil && answer.json?["error"]?.string != nil)
                        {
                            unexpected.withLock { $0.append("ingest: \(answer.status) \(String(decoding: answer.body, as: UTF8.self))") }
                        }
                        sequence += 1
                    }
                }
            }
            // Both processes keep answering throughout, lists included.
            group.addTask {
                while !stop.value {
                    for (server, path) in [(owner, "/health"), (api, "/health"), (owner, "/v1/users/steady1/recommendations"),
                        (api, "/v1/users/steady1/recommendations")]
                    {
                        let started = ContinuousClock.now
                        let answer = try await server.send("GET", path)
                        let seconds = (ContinuousClock.now - started) / .seconds(1)
                        probes.withLock { $0 = ($0.count + 1, max($0.slowest, seconds)) }
                        if answer.status != 200 {
                            unexpected.withLock { $0.append("\(server === owner ? "owner" : "api") \(path): \(answer.status)") }
                        }
                    }
                    try await Task.sleep(for: .milliseconds(50))
                }
            }

            try await waitUntil("30 batches acknowledged with Redis up", timeout: .seconds(120)) {
                ledger.count(.acknowledged) >= 30
            }
            // Early users have been published once Redis holds them, or the test would not show them missing later.
            try await waitUntil("the API process serves the early users", timeout: .seconds(60)) {
                for user in early where try await api.request("GET", "/v1/users/\(user)").0 != 200 { return false }
                return true
            }
            redisDown.withLock { $0 = true }
            await redis.killAndWait()
            killedAt = .now
            let beforeKill = ledger.count(.acknowledged)
            try await waitUntil("3 s with Redis down and 30 batches acknowledged meanwhile", timeout: .seconds(120)) {
                ledger.count(.acknowledged) >= beforeKill + 30 && ContinuousClock.now - killedAt >= .seconds(3)
            }
            try await redis.start()
            restartedAt = .now
            let beforeRestart = ledger.count(.acknowledged)
            try await waitUntil("20 batches acknowledged after the restart", timeout: .seconds(120)) {
                ledger.count(.acknowledged) >= beforeRestart + 20
            }
            stop.withLock { $0 = true }
            try await group.waitForAll()
        }
        let downFor = restartedAt - killedAt
        #expect(unexpected.value.isEmpty, "\(unexpected.withLock { $0.prefix(10) })")

        // Refused batches (none expected) are retried until acknowledged; then every batch sent counts.
        for (_, batch) in ledger.batches(.refused) {
            var answer = try await owner.send("POST", "/v1/events", body: batch.body)
            let deadline = ContinuousClock.now + .seconds(60)
            while answer.status == 503, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(50))
                answer = try await owner.send("POST", "/v1/events", body: batch.body)
            }
            #expect(answer.status == 200)
        }
        try await waitUntil("the owner's processor to catch up", timeout: .seconds(120)) { try await owner.lag() == 0 }
        let sent = ledger.sentPerUser
        var ownerVersions: [String: Int] = [:]
        for user in early + steady {
            let (status, profile) = try await owner.json("GET", "/v1/users/\(user)")
            #expect(status == 200)
            #expect(profile["event_count"]?.int == sent[user], "owner: \(user) applied \(profile["event_count"]?.int ?? -1), sent \(sent[user] ?? 0)")
            ownerVersions[user] = profile["version"]?.int
        }

        // The API process serves every user at the owner's version again: the early users only through the
        // owner publishing everything again into the emptied Redis.
        var missing: [String] = []
        defer { #expect(missing.isEmpty, "the API process does not serve these users at the owner's version: \(missing)") }
        let caughtUp = try await waitUntil("the API process to serve every user at the owner's version", timeout: .seconds(60)) {
            missing = []
            for user in early + steady {
                let (status, profile) = try await api.json("GET", "/v1/users/\(user)")
                if status != 200 || profile["version"]?.int != ownerVersions[user] || profile["event_count"]?.int != sent[user] {
                    missing.append(user)
                }
            }
            return missing.isEmpty
        }
        let recovery = ContinuousClock.now - restartedAt
        for user in ["early0", "steady0"] {
            let (status, list) = try await api.json("GET", "/v1/users/\(user)/recommendations?count=5")
            #expect(status == 200 && list["profile_version"]?.int == ownerVersions[user])
        }
        let acknowledged = ledger.count(.acknowledged)
        let probed = probes.value
        print(
            "redis restart: down \(downFor), \(acknowledged) batches of \(Self.batchSize) acknowledged, "
                + "\(ledger.count(.refused)) refused; API process caught up \(recovery) after the restart "
                + "(\(caughtUp) after the owner had applied everything); \(probed.count) probes, slowest \(probed.slowest) s"
        )
        try await api.stop()
        try await owner.stop()
    }
}
