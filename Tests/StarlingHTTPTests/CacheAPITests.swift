import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import StarlingCore
import StarlingEventLog
import StarlingStream
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

    @Test func aCachedListIsServedUntilASignificantEventBustsIt() async throws {
        try await APIFixture(cacheTTL: .seconds(600)).run { client, processor in
            try await self.seed(client, processor)
            let first = try await self.list(client)
            #expect(first.version == 1)
            let firstItem = try #require(first.items.first)

            // A view is not significant: the cached list (with the item just viewed) is served as it was.
            _ = try await client.postEvents(#"{"events":[{"type":"view","user":"me","item":"\#(firstItem)"}]}"#)
            try await eventually("view applied") { processor.appliedCount == 152 }
            let cached = try await self.list(client)
            #expect(cached.items == first.items)
            #expect(cached.version == 1)

            // A like busts it: the very next request reflects the like.
            _ = try await client.postEvents(#"{"events":[{"type":"like","user":"me","item":"heat"}]}"#)
            try await eventually("like applied") { processor.appliedCount == 153 }
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
            let expiry = EventTime.now().milliseconds + 400
            _ = try await client.execute(
                uri: "/v1/items/\(top)",
                method: .put,
                headers: [.contentType: "application/json"],
                body: ByteBuffer(string: #"{"expires_at":\#(expiry)}"#)
            )
            #expect(try await self.list(client).items.first == top)  // cached, still valid
            try await Task.sleep(for: .milliseconds(600))
            #expect(try await !self.list(client).items.contains(top))
        }
    }
}
