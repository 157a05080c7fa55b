import Foundation
import StarlingCore
import StarlingEvaluation
import StarlingModels
import StarlingTestSupport
import Testing

/// Evaluation through the front door: the protocols drive the real binary through its public HTTP API.
@Suite(.serialized)
struct ThroughAPIEvaluationTests {
    /// A small synthetic ratings stream: 40 users, each rating 20 of 60 items (mostly from a block of items they
    /// like), one rating a minute. Deterministic.
    static func syntheticRatings() -> [Event] {
        var state: UInt64 = 0x5EED
        func next(_ bound: Int) -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((state >> 33) % UInt64(bound))
        }
        var events: [Event] = []
        var rated: [Int: Set<Int>] = [:]
        var minute: Int64 = 14_000_000  // 1996-08
        while events.count < 800 {
            let user = next(40)
            let block = user % 6
            let item = next(4) == 0 ? next(60) : block * 10 + next(10)
            guard rated[user, default: []].insert(item).inserted else { continue }
            let value = Double(item / 10 == block ? 3 + next(3) : 1 + next(3))
            minute += 1
            events.append(
                Event(type: .rating, user: "u\(user)", item: "i\(item)", timestamp: .seconds(minute * 60), value: value)
            )
        }
        return events
    }

    @Test func everyEventReachesTheServerWithItsTimestampAndEveryPositiveIsAsked() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("starling-api-eval-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let server = try StarlingServer(dataDirectory: directory, extraArguments: ["--cache-ttl-seconds", "0"])
        try await server.start()

        let events = Self.syntheticRatings()
        let (row, report) = try await Self.replayThroughAPI(events, port: server.port)

        #expect(report.failure == nil)
        #expect(report.eventsPosted == events.count)
        #expect(report.listsAsked == events.filter { ($0.value ?? 0) >= 4 }.count)
        #expect(row.evaluated > 0)
        // The server applied each user's events, at the data's times (not when they were received).
        for user in ["u0", "u7", "u39"] {
            let own = events.filter { $0.user == user }
            let (status, profile) = try await server.json("GET", "/v1/users/\(user)")
            #expect(status == 200)
            #expect(profile["event_count"]?.int == own.count)
            #expect(profile["last_seen"]?.string == own.map(\.timestamp).max()?.description)
        }
    }

    @Test func throughTheAPIWithoutCachingTheBlendScoresAsInProcess() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("starling-api-eval-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let server = try StarlingServer(
            dataDirectory: directory,
            extraArguments: ["--cache-ttl-seconds", "0", "--partitions", "1"]
        )
        try await server.start()

        let events = Self.syntheticRatings()
        let (api, report) = try await Self.replayThroughAPI(events, port: server.port)
        let inProcess = PrequentialEvaluation().run(events: events, source: .blend) { RecommendationEngine() }

        #expect(report.failure == nil)
        #expect(api.evaluated == inProcess.evaluated)
        // Lists that did not yet reflect the user's last events (the processor applies them asynchronously) may
        // differ; with none behind, the two replays are the same computation.
        let behind = report.listsBehind
        #expect(
            abs(api.ndcgAt10 - inProcess.ndcgAt10) <= 0.005 + Double(behind) / Double(max(api.evaluated, 1)),
            "NDCG@10 through the API \(api.ndcgAt10), in process \(inProcess.ndcgAt10), \(behind) lists behind"
        )
    }

    @Test func starlingEvalThroughAPIStartsAServerAndWritesTheSameRows() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("starling-api-eval-\(UUID())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let lines = Self.syntheticRatings().map {
            "\($0.user)\t\($0.item!)\t\(Int($0.value!))\t\($0.timestamp.milliseconds / 1_000)"
        }
        try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: directory + "/u.data"))

        let (status, output) = try await Self.run([
            "eval", directory + "/u.data", "--protocol", "prequential", "--through-api",
            "--server-arg=--cache-ttl-seconds=0", "--json", directory + "/api.json",
        ])
        #expect(status == 0, "starling eval --through-api failed: \(output)")
        let rows = try JSONScanner.parse([UInt8](Data(contentsOf: URL(fileURLWithPath: directory + "/api.json"))))
        let row = try #require(rows.array?.first)
        #expect(rows.array?.count == 1)
        #expect(row["protocol"]?.string == "prequential")
        #expect(row["source"]?.string == "blend")
        #expect(output.contains("prequential through the API: 800 events posted"))
    }

    @Test func evalThroughAPIRefusesSourcesTheAPIDoesNotServe() async throws {
        let (status, output) = try await Self.run(["eval", "/nonexistent.data", "--through-api", "--source", "embedding"])
        #expect(status != 0)
        #expect(output.contains("the API serves the blend only"), "\(output)")
    }

    /// Replays `events` prequentially through the API of the server on `port`. The replay's HTTP calls block, so it
    /// runs on a thread of its own, not on the cooperative pool.
    static func replayThroughAPI(_ events: [Event], port: Int) async throws -> (EvaluationRow, APIRecommender.Report) {
        try await onOwnThread { () -> Result<(EvaluationRow, APIRecommender.Report), APIClientError> in
            Result { () throws(APIClientError) in
                let recommender = try APIRecommender(url: "http://127.0.0.1:\(port)")
                let row = PrequentialEvaluation().run(events: events, source: .blend) { recommender }
                return (row, recommender.report)
            }
        }.get()
    }

    /// Runs the binary; returns its exit status and its standard output and error.
    static func run(_ arguments: [String]) async throws -> (Int32, String) {
        try await runToEnd(StarlingServer.binaryPath, arguments)
    }
}
