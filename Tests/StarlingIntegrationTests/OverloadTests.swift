import Foundation
import StarlingCore
import Synchronization
import Testing

/// Overload staged with the real binary: more clients than the processor keeps up with, against a small `--max-lag`,
/// so that flow control certainly refuses batches.
@Suite(.serialized)
struct OverloadTests {
    private struct Read: Sendable {
        var path: String
        var status: Int
        var seconds: Double
    }

    @Test func overloadIsRefusedWithRetryAfterReadsKeepAnsweringAndEveryRetriedBatchCountsOnce() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("starling-overload-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // At most 50 records behind, at most 200 events waiting (4 × 50): 24 clients of 100-event batches outrun it.
        let server = try StarlingServer(dataDirectory: directory, extraArguments: ["--max-lag", "50", "--partitions", "2"])
        _ = try await server.start()

        let users = (0..<40).map { "o\($0)" }
        let ledger = IngestLedger()
        let stop = Shared(false)
        let reads = Shared<[Read]>([])
        let refusals = Shared<[StarlingServer.Answer]>([])
        let unexpected = Shared<[String]>([])
        try await withThrowingTaskGroup(of: Void.self) { group in
            defer { stop.withLock { $0 = true } }
            for client in 0..<24 {
                group.addTask {
                    var sequence = 0
                    while !stop.value {
                        let batch = IngestLedger.batch(prefix: "o", client: client, sequence: sequence, size: 100, users: users)
                        let index = ledger.sent(batch)
                        let answer = try await server.send("POST", "/v1/events", body: batch.body)
                        ledger.answered(index, acknowledged: answer.status == 200)
                        switch answer.status {
                        case 200: break
                        case 503: refusals.withLock { $0.append(answer) }
                        default:
                            unexpected.withLock { $0.append("\(answer.status) \(String(decoding: answer.body, as: UTF8.self))") }
                        }
                        sequence += 1
                    }
                }
            }
            // Reads while ingest is refused: liveness, readiness, a profile and a list.
            group.addTask {
                while !stop.value {
                    for path in ["/health", "/ready", "/v1/users/o1", "/v1/users/o2/recommendations?count=5"] {
                        let started = ContinuousClock.now
                        let answer = try await server.send("GET", path)
                        let seconds = (ContinuousClock.now - started) / .seconds(1)
                        reads.withLock { $0.append(Read(path: path, status: answer.status, seconds: seconds)) }
                    }
                    try await Task.sleep(for: .milliseconds(20))
                }
            }
            let started = ContinuousClock.now
            try await waitUntil("3 s of overload with 20 batches refused, 20 acknowledged and 20 reads", timeout: .seconds(180)) {
                ledger.count(.refused) >= 20 && ledger.count(.acknowledged) >= 20 && reads.withLock { $0.count } >= 20
                    && ContinuousClock.now - started >= .seconds(3)
            }
            stop.withLock { $0 = true }
            try await group.waitForAll()
        }

        #expect(unexpected.value.isEmpty, "answers other than 200 and 503: \(unexpected.withLock { $0.prefix(5) })")
        // Every refusal says when to come back, and why, as JSON.
        for answer in refusals.value {
            #expect(answer.retryAfter.flatMap { Int($0) }.map { $0 >= 1 } == true, "503 without Retry-After")
            #expect(answer.contentType?.hasPrefix("application/json") == true)
            let message = answer.json?["error"]?.string ?? ""
            #expect(message.contains("behind") && message.contains("retry later"), "unclear 503: \(message)")
        }
        // The server kept answering reads: every one of them, with a status that is not an error, in bounded time.
        let allReads = reads.value
        #expect(allReads.count >= 20, "too few reads (\(allReads.count)) during the overload")
        for read in allReads {
            let expected = read.path.hasPrefix("/v1/users/o1") ? [200, 404] : [200]
            #expect(expected.contains(read.status), "\(read.path) answered \(read.status) under overload")
            #expect(read.seconds < 5, "\(read.path) took \(read.seconds) s under overload")
        }
        let slowest = allReads.map(\.seconds).max() ?? 0
        print("overload: \(ledger.count(.acknowledged)) batches acknowledged, \(ledger.count(.refused)) refused; \(allReads.count) reads, slowest \(slowest) s")

        // Every refused batch is retried until acknowledged: a 503 appended nothing, so all of it is new.
        for (_, batch) in ledger.batches(.refused) {
            var answer = try await server.send("POST", "/v1/events", body: batch.body)
            let deadline = ContinuousClock.now + .seconds(60)
            while answer.status == 503, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(50))
                answer = try await server.send("POST", "/v1/events", body: batch.body)
            }
            #expect(answer.status == 200)
            #expect(answer.json?["accepted"]?.int == 100 && answer.json?["duplicates"]?.int == 0, "a refused batch was partly appended")
        }
        // Acknowledged batches retried are duplicates: nothing is applied twice.
        for (_, batch) in ledger.batches(.acknowledged).prefix(20) {
            let answer = try await server.send("POST", "/v1/events", body: batch.body)
            #expect(answer.status == 200 && answer.json?["duplicates"]?.int == 100)
        }
        // The processor catches up, and every event sent counts exactly once.
        try await waitUntil("the processor to catch up", timeout: .seconds(120)) { try await server.lag() == 0 }
        for (user, sent) in ledger.sentPerUser.sorted(by: { $0.key < $1.key }) {
            let (status, profile) = try await server.json("GET", "/v1/users/\(user)")
            #expect(status == 200)
            #expect(profile["event_count"]?.int == sent, "\(user): \(profile["event_count"]?.int ?? -1) events applied, \(sent) acknowledged")
        }
        try await server.stop()
    }
}
