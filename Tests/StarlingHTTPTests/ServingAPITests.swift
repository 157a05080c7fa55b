import HTTPTypes
import Hummingbird
import HummingbirdTesting
import StarlingCore
import StarlingEventLog
import StarlingStream
import StarlingTestSupport
import Testing

struct ServingAPITests {
    @Test func eventsShowUpInProfileAndRecommendationsOverLoopback() async throws {
        try await APIFixture().run(.live) { client, processor in
            let events = [
                #"{"type":"purchase","user":"bob","item":"hit"}"#,
                #"{"type":"like","user":"bob","item":"second"}"#,
                #"{"type":"view","user":"carol","item":"third"}"#,
                #"{"type":"view","user":"alice","item":"hit","timestamp":1700000000000}"#,
            ].joined(separator: ",")
            let posted = try await client.postEvents("{\"events\":[\(events)]}")
            #expect(posted.status == .ok)
            try await eventually("4 applied") { processor.appliedCount == 4 }

            let (status, profile) = try await client.getJSON("/v1/users/alice")
            #expect(status == .ok)
            #expect(profile["user"]?.string == "alice")
            #expect(profile["version"]?.int == 1)
            #expect(profile["event_count"]?.int == 1)
            let recent = try #require(profile["recent"]?.array)
            #expect(recent.first?["item"]?.string == "hit")
            #expect(recent.first?["type"]?.string == "view")
            #expect(recent.first?["timestamp"]?.string == "2023-11-14T22:13:20.000Z")

            // alice saw "hit": it is excluded; "second" is excluded by the request.
            let (recStatus, recs) = try await client.getJSON("/v1/users/alice/recommendations?count=5&exclude=second")
            #expect(recStatus == .ok)
            #expect(recs["user"]?.string == "alice")
            #expect(recs["profile_version"]?.int == 1)
            let items = try #require(recs["items"]?.array)
            #expect(items.map { $0["item"]?.string } == ["third"])
            #expect(items.first?["reason"]?.string == "trending")

            // An unknown user gets popular items and version 0.
            let (_, anonymous) = try await client.getJSON("/v1/users/nobody/recommendations?count=2")
            #expect(anonymous["items"]?.array?.map { $0["item"]?.string } == ["hit", "second"])
            #expect(anonymous["profile_version"]?.int == 0)

            let (_, trending) = try await client.getJSON("/v1/trending?count=3")
            #expect(trending["items"]?.array?.map { $0["item"]?.string } == ["hit", "second", "third"])
        }
    }

    @Test func unknownUsersAre404() async throws {
        try await APIFixture().run { client, _ in
            let (status, body) = try await client.getJSON("/v1/users/ghost")
            #expect(status == .notFound)
            #expect(body["error"]?.string == "unknown user 'ghost'")
        }
    }

    @Test(arguments: ["0", "201", "ten", "-1"])
    func badCountsAre400(count: String) async throws {
        try await APIFixture().run { client, _ in
            for uri in ["/v1/users/u/recommendations?count=\(count)", "/v1/trending?count=\(count)"] {
                let (status, body) = try await client.getJSON(uri)
                #expect(status == .badRequest)
                #expect(body["error"]?.string?.hasPrefix("count must be an integer") == true)
            }
        }
    }

    @Test func percentEncodedUserIdsAreDecoded() async throws {
        try await APIFixture().run { client, processor in
            _ = try await client.postEvents(#"{"events":[{"type":"view","user":"jane doe/1","item":"x"}]}"#)
            try await eventually("applied") { processor.appliedCount == 1 }
            let (status, profile) = try await client.getJSON("/v1/users/jane%20doe%2F1")
            #expect(status == .ok)
            #expect(profile["user"]?.string == "jane doe/1")
        }
    }

    @Test func healthAndReadiness() async throws {
        try await APIFixture().run { client, _ in
            let (health, healthBody) = try await client.getJSON("/health")
            #expect(health == .ok)
            #expect(healthBody["status"]?.string == "ok")
            let (ready, readyBody) = try await client.getJSON("/ready")
            #expect(ready == .ok)
            #expect(readyBody["status"]?.string == "ready")
            #expect(readyBody["lag"]?.int == 0)
        }
    }
}
