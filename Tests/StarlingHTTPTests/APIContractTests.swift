import Foundation
import HTTPTypes
import HummingbirdTesting
import StarlingCore
import Testing

/// What `docs/openapi.yaml` promises for every request, including those no route takes: regressions from
/// `scripts/api-fuzz`.
struct APIContractTests {
    @Test(arguments: [
        (HTTPRequest.Method.get, "/v1/nowhere"),
        (.patch, "/v1/nowhere/dune"),
        (.get, "/v1/users/"),
        (.post, "/v1/users//recommendations"),
    ])
    func aPathWithoutARouteIsAJSON404NamingIt(method: HTTPRequest.Method, path: String) async throws {
        try await APIFixture().run { client, _ in
            let response = try await client.execute(uri: path, method: method)
            #expect(response.status == .notFound)
            #expect(response.headers[.contentType] == "application/json")
            let message = try #require(try response.json["error"]?.string)
            #expect(message.hasPrefix("no route for \(method) \(path):"))
        }
    }

    @Test(arguments: [
        (HTTPRequest.Method.patch, "/v1/items/dune", "GET, PUT, DELETE"),
        (.post, "/health", "GET"),
        (.get, "/v1/events", "POST"),
        (.delete, "/v1/users/u/recommendations", "GET"),
    ])
    func aMethodThePathDoesNotTakeIsAJSON405WithAllow(method: HTTPRequest.Method, path: String, allow: String)
        async throws
    {
        try await APIFixture().run { client, _ in
            let response = try await client.execute(uri: path, method: method)
            #expect(response.status == .methodNotAllowed)
            #expect(response.headers[.allow] == allow)
            #expect(response.headers[.contentType] == "application/json")
            let message = try #require(try response.json["error"]?.string)
            #expect(message == "method \(method) not allowed for \(path): it takes \(allow)")
        }
    }

    /// One character of 2,001 scalars (4,001 bytes): within 256 characters, over the 1,024 bytes an id may have.
    static let heavyID = "a" + String(repeating: "\u{301}", count: 2_000)

    @Test func anItemIdInThePathIsBoundedInBytesLikeAnItemIdInAnEvent() async throws {
        let encoded = try #require(Self.heavyID.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed))
        try await APIFixture().run { client, _ in
            let event = try await client.postEvents(#"{"events":[{"type":"view","user":"u","item":"\#(Self.heavyID)"}]}"#)
            let eventError = try #require(try event.json["rejected"]?.array?.first?["error"]?.string)
            #expect(eventError == "item: must be at most 1024 bytes of UTF-8, found 4001")

            let put = try await client.sendJSON(.put, "/v1/items/\(encoded)", "{}")
            #expect(put.status == .badRequest)
            #expect(try put.json["error"]?.string == eventError)
            for path in ["/v1/items/", "/v1/users/", "/v1/sessions/"] {
                let uri = path + encoded + (path == "/v1/items/" ? "" : "/recommendations")
                let response = try await client.execute(uri: uri, method: .get)
                #expect(response.status == .badRequest, "GET \(path)…")
            }
        }
    }

    @Test(arguments: [
        (#""""#, "items: must not be empty"),
        ("1", "items: must be a string, found a number"),
        ("\"\(String(repeating: "x", count: 300))\"", "items: must be at most 256 characters, found 300"),
        ("\"\(APIContractTests.heavyID)\"", "items: must be at most 1024 bytes of UTF-8, found 4001"),
    ])
    func theRecentItemsOfASessionAreIdsByTheRuleOfIdsInEvents(entry: String, expected: String) async throws {
        try await APIFixture().run { client, _ in
            let body = #"{"items": ["dune", \#(entry)]}"#
            let response = try await client.sendJSON(.post, "/v1/recommendations/session", body)
            #expect(response.status == .badRequest)
            #expect(try response.json["error"]?.string == expected)
        }
    }

    /// Times a catalogue entry holds are written back as RFC 3339, whose years have four digits.
    @Test(arguments: [
        (#"{"published_at": -5000000000000000}"#, "published_at"),
        (#"{"published_at": -62167219200001}"#, "published_at"),
        (#"{"published_at": "0000-01-01T00:00:00+01:00"}"#, "published_at"),
        (#"{"expires_at": 253402300800000}"#, "expires_at"),
        (#"{"expires_at": "9999-12-31T23:59:59-01:00"}"#, "expires_at"),
    ])
    func aTimeOutsideTheYearsRFC3339CanWriteIsRefused(body: String, field: String) async throws {
        try await APIFixture().run { client, _ in
            let response = try await client.sendJSON(.put, "/v1/items/dune", body)
            #expect(response.status == .badRequest)
            let message = try #require(try response.json["error"]?.string)
            #expect(message.hasPrefix("\(field): must be from 0000-01-01T00:00:00Z to 9999-12-31T23:59:59.999Z"))
        }
    }

    @Test func theFirstAndLastTimesRFC3339CanWriteAreKeptAndReadBack() async throws {
        try await APIFixture().run { client, _ in
            let body = #"{"published_at": -62167219200000, "expires_at": 253402300799999}"#
            let put = try await client.sendJSON(.put, "/v1/items/dune", body)
            #expect(put.status == .ok)
            let (status, item) = try await client.getJSON("/v1/items/dune")
            #expect(status == .ok)
            #expect(item["published_at"]?.string == "0000-01-01T00:00:00.000Z")
            #expect(item["expires_at"]?.string == "9999-12-31T23:59:59.999Z")
            // What the server writes, it reads: the entry can be sent back as it was read.
            let echoed = #"{"published_at": "0000-01-01T00:00:00.000Z", "expires_at": "9999-12-31T23:59:59.999Z"}"#
            #expect(try await client.sendJSON(.put, "/v1/items/dune", echoed).status == .ok)
        }
    }
}
