import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import StarlingCore
import StarlingEventLog
import StarlingStream
import StarlingTestSupport
import Testing

struct LearningAPITests {
    /// 30 users like both "dune" and "arrival"; 30 like both "heat" and "ronin"; "filler" items are popular.
    private func seed(_ client: some TestClientProtocol) async throws {
        var events: [String] = []
        for u in 0..<30 {
            events.append(#"{"type":"like","user":"sf-\#(u)","item":"dune"}"#)
            events.append(#"{"type":"like","user":"sf-\#(u)","item":"arrival"}"#)
            events.append(#"{"type":"like","user":"crime-\#(u)","item":"heat"}"#)
            events.append(#"{"type":"like","user":"crime-\#(u)","item":"ronin"}"#)
            events.append(#"{"type":"purchase","user":"pop-\#(u)","item":"filler-\#(u % 3)"}"#)
        }
        let response = try await client.postEvents("{\"events\":[\(events.joined(separator: ","))]}")
        #expect(try response.json["accepted"]?.int == 150)
    }

    @Test func aLikeMakesSimilarItemsRiseWithAReason() async throws {
        try await APIFixture().run { client, processor in
            try await self.seed(client)
            try await eventually("seed applied") { processor.appliedCount == 150 }
            _ = try await client.postEvents(#"{"events":[{"type":"like","user":"newcomer","item":"heat"}]}"#)
            try await eventually("like applied") { processor.appliedCount == 151 }

            let (status, recs) = try await client.getJSON("/v1/users/newcomer/recommendations?count=3")
            #expect(status == .ok)
            let items = try #require(recs["items"]?.array)
            #expect(items.first?["item"]?.string == "ronin")
            #expect(items.first?["reason"]?.string == "similar to heat")
            #expect(!items.contains { $0["item"]?.string == "heat" })
            #expect(recs["profile_version"]?.int == 1)
        }
    }

    @Test func aDislikedItemIsNeverRecommendedAgain() async throws {
        try await APIFixture().run { client, processor in
            try await self.seed(client)
            _ = try await client.postEvents(
                #"{"events":[{"type":"like","user":"u","item":"heat"},{"type":"dislike","user":"u","item":"ronin"}]}"#
            )
            try await eventually("applied") { processor.appliedCount == 152 }
            let (_, recs) = try await client.getJSON("/v1/users/u/recommendations?count=50")
            let items = try #require(recs["items"]?.array).compactMap { $0["item"]?.string }
            #expect(!items.contains("ronin"))
            #expect(!items.isEmpty)
        }
    }

    @Test func similarItemsEndpoint() async throws {
        try await APIFixture().run { client, processor in
            try await self.seed(client)
            try await eventually("seed applied") { processor.appliedCount == 150 }
            let (status, body) = try await client.getJSON("/v1/items/dune/similar?count=2")
            #expect(status == .ok)
            #expect(body["item"]?.string == "dune")
            let items = try #require(body["items"]?.array)
            #expect(items.first?["item"]?.string == "arrival")
            #expect(items.first?["reason"]?.string == "similar to dune")

            let (missing, error) = try await client.getJSON("/v1/items/nothing/similar")
            #expect(missing == .notFound)
            #expect(error["error"]?.string == "unknown item 'nothing'")
            let (bad, _) = try await client.getJSON("/v1/items/dune/similar?count=0")
            #expect(bad == .badRequest)
        }
    }

    @Test func trendingByCategory() async throws {
        try await APIFixture().run { client, processor in
            _ = try await client.postEvents(
                #"""
                {"events":[
                  {"type":"view","user":"a","item":"goal","context":{"category":"sport"}},
                  {"type":"view","user":"b","item":"goal","context":{"category":"sport"}},
                  {"type":"view","user":"c","item":"match","context":{"category":"sport"}},
                  {"type":"view","user":"d","item":"vote","context":{"category":"politics"}}
                ]}
                """#
            )
            try await eventually("applied") { processor.appliedCount == 4 }
            let (_, sport) = try await client.getJSON("/v1/trending?category=sport")
            #expect(sport["category"]?.string == "sport")
            #expect(sport["items"]?.array?.compactMap { $0["item"]?.string } == ["goal", "match"])
            #expect(sport["items"]?.array?.first?["reason"]?.string == "trending in sport")
            let (_, none) = try await client.getJSON("/v1/trending?category=cooking")
            #expect(none["items"]?.array?.isEmpty == true)
        }
    }
}

struct ModelsAPITests {
    @Test func aRetrainOnDemandBumpsTheModelVersion() async throws {
        try await APIFixture().run { client, processor in
            let events = (0..<40).map { #"{"type":"like","user":"u\#($0 % 8)","item":"i\#($0 % 11)"}"# }
            _ = try await client.postEvents("{\"events\":[\(events.joined(separator: ","))]}")
            try await eventually("applied") { processor.appliedCount == 40 }
            let (before, status) = try await client.getJSON("/v1/models")
            #expect(before == .ok)
            #expect(status["model_version"]?.int == 0)

            let started = try await client.execute(uri: "/v1/models/retrain", method: .post)
            #expect(started.status == .accepted)
            try await eventually("retrained") {
                let (_, body) = try await client.getJSON("/v1/models")
                return body["model_version"]?.int == 1
            }
            let (_, after) = try await client.getJSON("/v1/models")
            #expect(after["retrains_completed"]?.int == 1)
            #expect(after["last_retrain_interactions"]?.int == 40)
            let (_, recs) = try await client.getJSON("/v1/users/u1/recommendations")
            #expect(recs["model_version"]?.int == 1)

            // Within a minute of the last retrain's end another is refused: a client cannot keep one running.
            let again = try await client.execute(uri: "/v1/models/retrain", method: .post)
            #expect(again.status == .tooManyRequests)
            let wait = again.headers[.retryAfter].flatMap { Int($0) }
            #expect(wait.map { (1...60).contains($0) } == true)
            #expect(String(buffer: again.body).contains("--min-retrain-interval-seconds"))
        }
    }
}

struct SessionAPITests {
    @Test func anonymousSessionsGetRecommendationsFromTheirOwnItems() async throws {
        try await APIFixture().run { client, processor in
            var events: [String] = []
            for u in 0..<20 {
                events.append(#"{"type":"like","user":"u\#(u)","item":"tea"}"#)
                events.append(#"{"type":"like","user":"u\#(u)","item":"scones"}"#)
                events.append(#"{"type":"view","user":"p\#(u)","item":"popular"}"#)
                events.append(#"{"type":"view","user":"p\#(u)","item":"popular-2"}"#)
            }
            events.append(#"{"type":"view","user":"anon-1","item":"tea","session":"visit-1"}"#)
            _ = try await client.postEvents("{\"events\":[\(events.joined(separator: ","))]}")
            try await eventually("applied") { processor.appliedCount == 81 }

            let (status, body) = try await client.getJSON("/v1/sessions/visit-1/recommendations?count=3")
            #expect(status == .ok)
            #expect(body["session"]?.string == "visit-1")
            let items = try #require(body["items"]?.array)
            #expect(items.first?["item"]?.string == "scones")
            #expect(items.first?["reason"]?.string == "similar to tea")
            #expect(!items.contains { $0["item"]?.string == "tea" })

            // An unknown session gets trending items.
            let (_, unknown) = try await client.getJSON("/v1/sessions/nobody/recommendations?count=1")
            #expect(unknown["items"]?.array?.first?["reason"]?.string == "trending")

            // Items in the body, nothing stored.
            let posted = try await client.execute(
                uri: "/v1/recommendations/session",
                method: .post,
                headers: [.contentType: "application/json"],
                body: ByteBuffer(string: #"{"items":["scones"],"count":2}"#)
            )
            #expect(posted.status == .ok)
            let list = try #require(try posted.json["items"]?.array)
            #expect(list.count == 2)
            #expect(list.first?["item"]?.string == "tea")

            let bad = try await client.execute(
                uri: "/v1/recommendations/session",
                method: .post,
                headers: [.contentType: "application/json"],
                body: ByteBuffer(string: #"{"items":"scones"}"#)
            )
            #expect(bad.status == .badRequest)
            #expect(try bad.json["error"]?.string?.hasPrefix("items:") == true)
        }
    }
}
