import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import StarlingCore
import StarlingEventLog
import StarlingStream
import StarlingTestSupport
import Testing

struct CatalogAPITests {
    private func put(_ client: some TestClientProtocol, _ item: String, _ body: String) async throws -> TestResponse {
        try await client.execute(
            uri: "/v1/items/\(item)",
            method: .put,
            headers: [.contentType: "application/json"],
            body: ByteBuffer(string: body)
        )
    }

    /// Popular items with categories and attributes, and a user who has seen one of them.
    private func seed(_ client: some TestClientProtocol, _ processor: StreamProcessor<SegmentedEventLog>) async throws {
        let items = #"""
            [{"id":"n1","category":"news","tags":["politics"],"attributes":{"brand":"acme","premium":true}},
             {"id":"n2","category":"news","tags":["economy"]},
             {"id":"n3","category":"news","tags":["politics"]},
             {"id":"s1","category":"sport","attributes":{"brand":"acme"}},
             {"id":"s2","category":"sport"},
             {"id":"m1","category":"music"}]
            """#
        let response = try await client.execute(
            uri: "/v1/items",
            method: .post,
            headers: [.contentType: "application/json"],
            body: ByteBuffer(string: items)
        )
        #expect(try response.json["accepted"]?.int == 6)
        // Popularity: n1 > n2 > n3 > s1 > s2 > m1.
        var events: [String] = []
        for (item, views) in [("n1", 12), ("n2", 10), ("n3", 8), ("s1", 6), ("s2", 4), ("m1", 2)] {
            for k in 0..<views { events.append(#"{"type":"view","user":"crowd-\#(k)-\#(item)","item":"\#(item)"}"#) }
        }
        events.append(#"{"type":"view","user":"reader","item":"m1"}"#)
        _ = try await client.postEvents("{\"events\":[\(events.joined(separator: ","))]}")
        try await eventually("applied") { processor.appliedCount == 43 }
    }

    private func items(_ client: some TestClientProtocol, _ query: String, user: String = "reader") async throws -> [String] {
        let (status, body) = try await client.getJSON("/v1/users/\(user)/recommendations?\(query)")
        #expect(status == .ok, "\(query)")
        return body["items"]?.array?.compactMap { $0["item"]?.string } ?? []
    }

    @Test func itemsCanBeWrittenReadAndDeleted() async throws {
        try await APIFixture().run { client, _ in
            let put = try await self.put(
                client,
                "book-1",
                #"{"category":"books","tags":["sf"],"published_at":"2026-01-02T03:04:05Z","available":true,"attributes":{"pages":320}}"#
            )
            #expect(put.status == .ok)
            let (status, item) = try await client.getJSON("/v1/items/book-1")
            #expect(status == .ok)
            #expect(item["category"]?.string == "books")
            #expect(item["published_at"]?.string == "2026-01-02T03:04:05.000Z")
            #expect(item["attributes"]?["pages"]?.int == 320)

            let bad = try await self.put(client, "book-2", #"{"tags":"sf","available":"yes"}"#)
            #expect(bad.status == .badRequest)
            #expect(try bad.json["error"]?.string?.hasPrefix("tags:") == true)
            let wrongType = try await client.execute(uri: "/v1/items/book-2", method: .put, headers: [.contentType: "text/plain"], body: ByteBuffer(string: "{}"))
            #expect(wrongType.status == .unsupportedMediaType)

            let bulk = try await client.execute(
                uri: "/v1/items",
                method: .post,
                headers: [.contentType: "application/x-ndjson"],
                body: ByteBuffer(string: "{\"id\":\"a\"}\n{\"category\":\"x\"}\n{\"id\":\"b\",\"expires_at\":-5}\n")
            )
            let result = try bulk.json
            #expect(result["accepted"]?.int == 1)
            #expect(result["rejected"]?.array?.map { $0["error"]?.string } == ["id: is required", "expires_at: must not be before 1970-01-01T00:00:00Z"])

            let deleted = try await client.execute(uri: "/v1/items/book-1", method: .delete)
            #expect(deleted.status == .ok)
            let (gone, _) = try await client.getJSON("/v1/items/book-1")
            #expect(gone == .notFound)
        }
    }

    @Test func unavailableExpiredAndDeletedItemsAreNeverRecommended() async throws {
        try await APIFixture().run { client, processor in
            try await self.seed(client, processor)
            // A visitor without history gets trending items, most popular first.
            #expect(try await self.items(client, "count=3", user: "visitor") == ["n1", "n2", "n3"])
            _ = try await self.put(client, "n1", #"{"category":"news","available":false}"#)
            _ = try await self.put(client, "n2", #"{"category":"news","expires_at":"2001-01-01T00:00:00Z"}"#)
            _ = try await client.execute(uri: "/v1/items/n3", method: .delete)
            #expect(try await self.items(client, "count=3", user: "visitor") == ["s1", "s2", "m1"])
            #expect(try await self.items(client, "count=10").allSatisfy { !["n1", "n2", "n3"].contains($0) })
            let (_, trending) = try await client.getJSON("/v1/trending?count=2")
            #expect(trending["items"]?.array?.compactMap { $0["item"]?.string } == ["s1", "s2"])
        }
    }

    @Test func filtersRulesPinsAndDiversity() async throws {
        try await APIFixture().run { client, processor in
            try await self.seed(client, processor)
            // Every filter keeps the unfiltered order of what it lets through.
            let base = try await self.items(client, "count=10")
            #expect(Set(base) == ["n1", "n2", "n3", "s1", "s2"])
            let category = ["n1": "news", "n2": "news", "n3": "news", "s1": "sport", "s2": "sport"]
            #expect(try await self.items(client, "category=sport") == base.filter { category[$0] == "sport" })
            #expect(try await self.items(client, "exclude_category=news&count=5") == base.filter { category[$0] != "news" })
            #expect(try await self.items(client, "tag=politics") == base.filter { ["n1", "n3"].contains($0) })
            #expect(try await self.items(client, "exclude_tag=politics&count=3") == base.filter { !["n1", "n3"].contains($0) })
            // Burying acme (n1, s1) puts every other item first.
            #expect(try await self.items(client, "count=3&bury=brand:acme") == base.filter { !["n1", "s1"].contains($0) })
            #expect(try await self.items(client, "count=2&boost=premium:true:0.01&category=news") == base.filter { ["n2", "n3"].contains($0) })
            let capped = try await self.items(client, "count=4&category_cap=1")
            #expect(capped == [base.first { category[$0] == "news" }!, base.first { category[$0] == "sport" }!].sorted { base.firstIndex(of: $0)! < base.firstIndex(of: $1)! })
            #expect(try await self.items(client, "count=3&pin=s2:1") == ["s2"] + base.filter { $0 != "s2" }.prefix(2))
            // The reader saw m1: excluded by default, allowed back when seen items are not excluded.
            #expect(try await !self.items(client, "count=10").contains("m1"))
            #expect(try await self.items(client, "count=10&exclude_seen=false").contains("m1"))
            #expect(try await !self.items(client, "count=10&exclude_seen=24h").contains("m1"))
            #expect(try await self.items(client, "count=3&diversity=0.5").count == 3)
            // The longest window is the whole history; a window whose milliseconds overflow is refused, not a trap.
            #expect(try await !self.items(client, "count=10&exclude_seen=36500d").contains("m1"))
            for bad in [
                "exclude_seen=soon", "exclude_seen=999999999999d", "exclude_seen=36501d", "boost=brand", "pin=x:0",
                "category_cap=0", "diversity=2",
            ] {
                let (status, body) = try await client.getJSON("/v1/users/reader/recommendations?\(bad)")
                #expect(status == .badRequest, "\(bad)")
                #expect(body["error"]?.string?.hasPrefix(String(bad.prefix(while: { $0 != "=" }))) == true, "\(bad)")
            }
        }
    }

    @Test func freshItemsReachVisitorsWithoutHistory() async throws {
        try await APIFixture().run { client, _ in
            let now = EventTime.now()
            _ = try await self.put(client, "just-out", #"{"published_at":\#(now.milliseconds - 60_000)}"#)
            _ = try await self.put(client, "old", #"{"published_at":"2001-01-01T00:00:00Z"}"#)
            let (_, body) = try await client.getJSON("/v1/users/newcomer/recommendations")
            let items = try #require(body["items"]?.array)
            #expect(items.first?["item"]?.string == "just-out")
            #expect(items.first?["reason"]?.string == "new")
            #expect(!items.contains { $0["item"]?.string == "old" })
        }
    }

    /// Catalogue changes wait for recovery, as ingest does: the processor restores the catalogue from its checkpoint
    /// and, when the checkpoint is ahead of a truncated log, reads from where the recovered log ended — a change
    /// appended before that could be overwritten by the restore or skipped.
    @Test func catalogueChangesAreClosedWhileRecovering() async throws {
        try await APIFixture(forceRecovering: true).run { client, _ in
            let put = try await self.put(client, "dune", #"{"category":"scifi"}"#)
            #expect(put.status == .serviceUnavailable)
            #expect(put.headers[.retryAfter] == "1")
            let delete = try await client.execute(uri: "/v1/items/dune", method: .delete)
            #expect(delete.status == .serviceUnavailable)
        }
    }
}
