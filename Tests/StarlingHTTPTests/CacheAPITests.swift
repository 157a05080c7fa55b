import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import StarlingCore
import StarlingEventLog
import StarlingHTTP
import StarlingServing
import StarlingStream
import StarlingTestSupport
import Testing

struct CacheAPITests {
    private func seed(_ client: some TestClientProtocol, _ processor: StreamProcessor<SegmentedEventLog>) async throws {
        var events: [String] = []
        for u in 0..<25 {
            events.append(#"{"type":"like","user":"a\#(u)","item":"heat"}"#)
            events.append(#"{"type":"like","user":"a\#(u)","item":"ronin"}"#)
            for item in ["p1", "p2", "p3", "p4"] { events.append(#"{"type":"view","user":"v\#(u)","item":"\#(item)"}"#) }
        }
        events.append(#"{"type":"view","user":"me","item":"p4"}"#)
        _ = try await client.postEvents("{\"events\":[\(events.joined(separator: ","))]}")
        try await eventually("seed applied") { processor.appliedCount == 151 }
    }

    private func list(_ client: some TestClientProtocol) async throws -> (items: [String], version: Int?) {
        let (_, body) = try await client.getJSON("/v1/users/me/recommendations?count=3")
        return (body["items"]?.array?.compactMap { $0["item"]?.string } ?? [], body["profile_version"]?.int)
    }

    @Test func aCachedListIsServedOnlyForTheProfileVersionItWasComputedFrom() async throws {
        try await APIFixture(cacheTTL: .seconds(600)).run { client, processor in
            try await self.seed(client, processor)
            let first = try await self.list(client)
            #expect(first.version == 1)
            #expect(try await self.list(client).items == first.items, "nothing happened: a hit")
            let firstItem = try #require(first.items.first)

            // Any event makes it invalid: the very next request (no waiting in the test) reflects the view.
            _ = try await client.postEvents(#"{"events":[{"type":"view","user":"me","item":"\#(firstItem)"}]}"#)
            let next = try await self.list(client)
            #expect(next.version == 2)
            #expect(!next.items.contains(firstItem))

            _ = try await client.postEvents(#"{"events":[{"type":"like","user":"me","item":"heat"}]}"#)
            let liked = try await self.list(client)
            #expect(liked.version == 3)
            #expect(liked.items.first == "ronin")
            #expect(!liked.items.contains("heat"))
        }
    }

    @Test func withReuseOptedInAListOutlivesViewsWithoutTheViewedItems() async throws {
        let fixture = APIFixture(cacheTTL: .seconds(600), invalidation: .eventTypes(["like", "dislike"]))
        try await fixture.run { client, processor in
            try await self.seed(client, processor)
            let first = try await self.list(client)
            let firstItem = try #require(first.items.first)

            // A view is not significant here: the cached list is reused, without the item just viewed, and the
            // response carries the profile version at serving time.
            _ = try await client.postEvents(#"{"events":[{"type":"view","user":"me","item":"\#(firstItem)"}]}"#)
            let reused = try await self.list(client)
            #expect(reused.items == Array(first.items.dropFirst()))
            #expect(reused.version == 2)

            // A like invalidates it.
            _ = try await client.postEvents(#"{"events":[{"type":"like","user":"me","item":"heat"}]}"#)
            let fresh = try await self.list(client)
            #expect(fresh.version == 3)
            #expect(fresh.items.first == "ronin")
            #expect(!fresh.items.contains("heat"))
        }
    }

    @Test func anItemMadeUnavailableIsNeverServedFromTheCache() async throws {
        try await APIFixture(cacheTTL: .seconds(600)).run { client, processor in
            try await self.seed(client, processor)
            let first = try await self.list(client)
            let hidden = try #require(first.items.first)
            _ = try await client.execute(
                uri: "/v1/items/\(hidden)",
                method: .put,
                headers: [.contentType: "application/json"],
                body: ByteBuffer(string: #"{"available":false}"#)
            )
            let after = try await self.list(client)
            #expect(!after.items.contains(hidden))
            #expect(after.items.count == 3)
        }
    }

    @Test func anItemThatExpiresWhileCachedIsNotServed() async throws {
        try await APIFixture(cacheTTL: .seconds(600)).run { client, processor in
            try await self.seed(client, processor)
            let top = try #require(try await self.list(client).items.first)
            let expiry = EventTime.now().milliseconds + 2_000
            _ = try await client.execute(
                uri: "/v1/items/\(top)",
                method: .put,
                headers: [.contentType: "application/json"],
                body: ByteBuffer(string: #"{"expires_at":\#(expiry)}"#)
            )
            let beforeExpiry = try await self.list(client)
            if EventTime.now().milliseconds < expiry { #expect(beforeExpiry.items.first == top) }  // cached, still valid
            try await eventually("the expiry passes") { EventTime.now().milliseconds > expiry }
            #expect(try await !self.list(client).items.contains(top))
        }
    }
}

struct CachedRenderingTests {
    @Test func aHitSendsTheSameBytesAsTheMissThatStoredIt() async throws {
        try await APIFixture(cacheTTL: .seconds(600)).run { client, processor in
            var events: [String] = []
            for u in 0..<10 {
                events.append(#"{"type":"like","user":"a\#(u)","item":"say \"hi\""}"#)
                events.append(#"{"type":"like","user":"a\#(u)","item":"ü/2"}"#)
            }
            events.append(#"{"type":"like","user":"me","item":"say \"hi\""}"#)
            _ = try await client.postEvents("{\"events\":[\(events.joined(separator: ","))]}")
            try await eventually("applied") { processor.appliedCount == 21 }
            let miss = try await client.execute(uri: "/v1/users/me/recommendations?count=3", method: .get)
            #expect(String(buffer: miss.body).contains(#""item":"ü/2""#))
            // Nothing happened since: the next response is a hit, byte for byte the same.
            let hit = try await client.execute(uri: "/v1/users/me/recommendations?count=3", method: .get)
            #expect(hit.body == miss.body)
        }
    }
}

@Test func renderedItemsAreTheItemsMemberOfAResponse() throws {
    let items = [
        Recommendation(item: "a\"b", score: 1.25, reason: "similar to c\\d"),
        Recommendation(item: "x", score: 0, reason: "pinned"),
    ]
    var direct = JSONWriter()
    direct.beginObject()
    direct.key("items")
    direct.raw(Responses.renderItems(items))
    direct.endObject()
    let parsed = try JSONScanner.parse(direct.bytes)
    let first = try #require(parsed["items"]?.array?.first)
    #expect(first["item"]?.string == "a\"b")
    #expect(first["reason"]?.string == "similar to c\\d")
    #expect(parsed["items"]?.array?.count == 2)
}
