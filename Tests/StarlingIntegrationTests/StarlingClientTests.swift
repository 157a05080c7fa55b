import Foundation
import StarlingClient
import StarlingCore
import StarlingTestSupport
import Testing

/// The Swift SDK against the released binary on loopback: nothing tracked is lost or counted twice across a server
/// killed mid-stream, or across the app itself restarting with events queued on disk.
@Suite(.serialized)
struct StarlingClientTests {
    private func directory() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("starling-sdk-\(UUID())").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    private func configuration(_ server: StarlingServer, queue: String) -> StarlingClient.Configuration {
        .init(
            baseURL: URL(string: "http://127.0.0.1:\(server.port)")!,
            batchSize: 50,
            queueDirectory: URL(fileURLWithPath: queue),
            initialBackoff: .milliseconds(20),
            maxBackoff: .milliseconds(200)
        )
    }

    /// Each user's event count as the server's profiles say.
    private func counts(_ server: StarlingServer, users: [String]) async throws -> [String: Int] {
        var counts: [String: Int] = [:]
        for user in users {
            let (status, profile) = try await server.json("GET", "/v1/users/\(user)")
            counts[user] = status == 200 ? profile["event_count"]?.int ?? -1 : 0
        }
        return counts
    }

    @Test func aServerKilledMidStreamLosesAndDoublesNothing() async throws {
        let directory = try self.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let server = try StarlingServer(dataDirectory: "\(directory)/data")
        try await server.start()
        let client = try StarlingClient(configuration: self.configuration(server, queue: "\(directory)/queue"))
        let users = (0..<20).map { "sdk-user-\($0)" }
        var expected: [String: Int] = [:]
        let total = 2_000
        for k in 0..<total {
            let user = users[k % users.count]
            try await client.track(StarlingEvent(type: k % 7 == 0 ? "like" : "view", user: user, item: "item-\(k % 97)"))
            expected[user, default: 0] += 1
            if k == 700 {
                // Killed while the client is sending: some batches acknowledged, one maybe appended but never
                // answered, the rest not sent.
                try await eventually("the client to have sent some batches") { await client.pendingCount <= 600 }
                try await server.kill9()
                #expect(await client.pendingCount > 0)
            }
            if k == 1_300 { try await server.start() }
        }
        try await client.flush()
        #expect(await client.pendingCount == 0)
        #expect(try await self.counts(server, users: users) == expected)
        try await server.stop()
    }

    @Test func eventsQueuedOnDiskAreSentByTheNextRunOfTheApp() async throws {
        let directory = try self.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let server = try StarlingServer(dataDirectory: "\(directory)/data")
        let users = ["offline-a", "offline-b", "offline-c"]
        do {
            // The server is not running: the app tracks while offline, then is closed.
            let client = try StarlingClient(configuration: self.configuration(server, queue: "\(directory)/queue"))
            for k in 0..<120 { try await client.track(StarlingEvent(type: "view", user: users[k % 3], item: "i\(k)")) }
            #expect(await client.pendingCount == 120)
        }
        try await server.start()
        let reopened = try StarlingClient(configuration: self.configuration(server, queue: "\(directory)/queue"))
        #expect(await reopened.pendingCount == 120)
        try await reopened.flush()
        #expect(await reopened.pendingCount == 0)
        #expect(try await self.counts(server, users: users) == ["offline-a": 40, "offline-b": 40, "offline-c": 40])
        // Flushed events are gone from disk: a third run sends nothing again.
        let third = try StarlingClient(configuration: self.configuration(server, queue: "\(directory)/queue"))
        #expect(await third.pendingCount == 0)
        try await server.stop()
    }

    @Test func invalidEventsAreReportedAndNotSentAgain() async throws {
        let directory = try self.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let server = try StarlingServer(dataDirectory: "\(directory)/data")
        try await server.start()
        let rejected = LockedBox<[String]>([])
        var configuration = self.configuration(server, queue: "\(directory)/queue")
        configuration.onRejected = { events in rejected.withLock { $0 += events.map { "\($0.event.type): \($0.reason)" } } }
        let client = try StarlingClient(configuration: configuration)
        try await client.track(StarlingEvent(type: "rating", user: "r", item: "x", value: 9))
        try await client.track(StarlingEvent(type: "view", user: "r", item: "x"))
        try await client.flush()
        #expect(rejected.value == ["rating: value: must be between 1 and 5 for 'rating' events, found 9.0"])
        #expect(try await self.counts(server, users: ["r"]) == ["r": 1])
        let recommendations = try await client.recommendations(for: "r")
        #expect(recommendations.allSatisfy { $0.item != "x" && !$0.reason.isEmpty })
        try await server.stop()
    }
}
