import Foundation
import StarlingCore
import StarlingModels
import Testing

@testable import StarlingEvaluation

#if canImport(Glibc)
import Glibc
#endif

struct StarlingAPIClientTests {
    @Test func anEventIsPostedWithItsIdTimestampInMillisecondsAndValue() throws {
        let event = rating("user 1", "item \"x\"", 4.5, at: 881_250_949)
        let body = try JSONScanner.parse(StarlingAPIClient.eventJSON(event, id: "eval-7"))
        let events = try #require(body["events"]?.array)
        #expect(events.count == 1)
        let posted = events[0]
        #expect(posted["type"]?.string == "rating")
        #expect(posted["user"]?.string == "user 1")
        #expect(posted["item"]?.string == "item \"x\"")
        #expect(posted["id"]?.string == "eval-7")
        #expect(posted["timestamp"]?.int == 881_250_949_000)
        #expect(posted["value"] == .number(4.5, integer: nil))
        #expect(posted["session"] == nil)
        #expect(posted["context"] == nil)
    }

    @Test func sessionAndContextArePostedWhenTheEventHasThem() throws {
        var event = Event(type: .view, user: "u", item: "i", session: "s1", timestamp: .seconds(1))
        event.context = [("category", .string("scifi")), ("price", .number(9.5)), ("new", .bool(true))]
        let posted = try #require(try JSONScanner.parse(StarlingAPIClient.eventJSON(event, id: "e"))["events"]?.array?.first)
        #expect(posted["session"]?.string == "s1")
        #expect(posted["context"]?["category"]?.string == "scifi")
        #expect(posted["context"]?["price"] == .number(9.5, integer: nil))
        #expect(posted["context"]?["new"] == .bool(true))
        #expect(posted["value"] == nil)
    }

    @Test func theUserIsPercentEncodedInTheListPath() {
        #expect(StarlingAPIClient.recommendationsPath(user: "42", count: 10) == "/v1/users/42/recommendations?count=10")
        #expect(
            StarlingAPIClient.recommendationsPath(user: "a b/ü", count: 20)
                == "/v1/users/a%20b%2F%C3%BC/recommendations?count=20"
        )
    }

    @Test(arguments: [
        ("http://127.0.0.1:8080", "127.0.0.1", 8080),
        ("http://localhost:9000/", "localhost", 9000),
        ("http://example.org", "example.org", 80),
        ("http://[::1]:8081", "::1", 8081),
    ])
    func serverURLsGiveHostAndPort(url: String, host: String, port: Int) throws {
        let parsed = try StarlingAPIClient.hostAndPort(url)
        #expect(parsed.host == host)
        #expect(parsed.port == port)
    }

    @Test(arguments: ["https://example.org", "127.0.0.1:8080", "http://host:port", "http://host:8080/v1", "http://"])
    func malformedServerURLsAreRefusedWithTheReason(url: String) {
        #expect(throws: APIClientError.self) { try StarlingAPIClient.hostAndPort(url) }
    }

    @Test func aListResponseGivesItemsScoresAndProfileVersion() throws {
        let body = #"{"user":"u","items":[{"item":"a","score":0.5,"reason":"trending"},{"item":"b","score":0.25,"reason":"trending"}],"profile_version":3,"model_version":0}"#
        let list = try StarlingAPIClient.list(from: .init(status: 200, headers: [], body: Array(body.utf8)))
        #expect(list.items == [ScoredItem(item: "a", score: 0.5), ScoredItem(item: "b", score: 0.25)])
        #expect(list.profileVersion == 3)
        #expect(list.markedStale == nil)
    }

    @Test(arguments: [
        (#"{"items":[],"stale":true}"#, [(String, String)](), true as Bool?),
        (#"{"items":[],"stale":false}"#, [], false),
        (#"{"items":[],"fresh":false}"#, [], true),
        (#"{"items":[]}"#, [("Starling-Stale", "true")], true),
        (#"{"items":[]}"#, [("starling-freshness", "fresh")], false),
        (#"{"items":[]}"#, [("Starling-Freshness", "stale")], true),
        (#"{"items":[]}"#, [("Starling-Request-Id", "17"), ("Content-Type", "application/json")], nil),
    ])
    func aFreshnessMarkerIsReadFromTheBodyOrAStarlingHeader(
        body: String,
        headers: [(String, String)],
        stale: Bool?
    ) throws {
        let response = HTTPConnection.Response(
            status: 200,
            headers: headers.map { (name: $0.0, value: $0.1) },
            body: Array(body.utf8)
        )
        #expect(try StarlingAPIClient.list(from: response).markedStale == stale)
    }

    @Test func aResponseWithoutItemsIsAnErrorThatSaysSo() {
        let response = HTTPConnection.Response(status: 200, headers: [], body: Array(#"{"error":"x"}"#.utf8))
        #expect(throws: APIClientError.self) { try StarlingAPIClient.list(from: response, path: "/v1/users/u/recommendations") }
    }

    @Test func oneConnectionReadsSizedAndChunkedResponsesAndReconnectsAfterTheServerCloses() throws {
        let server = try ScriptedHTTPServer(responses: [
            // Connection 1: two answers on one kept-alive connection, then the server closes it.
            [
                "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nhello",
                "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n4;x=y\r\ndefg\r\n0\r\n\r\n",
            ],
            // Connection 2: after the reconnect.
            ["HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"],
        ])
        let connection = try HTTPConnection(host: "127.0.0.1", port: server.port, timeoutSeconds: 5)
        let first = try connection.send(method: "GET", path: "/a")
        #expect(first.status == 200)
        #expect(first.text == "hello")
        #expect(first.header("content-type") == "text/plain")
        let second = try connection.send(method: "POST", path: "/b", body: Array("{}".utf8))
        #expect(second.status == 201)
        #expect(second.text == "abcdefg")
        let third = try connection.send(method: "GET", path: "/c")
        #expect(third.status == 503)
        #expect(third.header("Retry-After") == "1")
        server.wait()
        #expect(server.requestLines == ["GET /a HTTP/1.1", "POST /b HTTP/1.1", "GET /c HTTP/1.1"])
    }

    @Test func aPOSTCarriesContentTypeAndLength() {
        let bytes = HTTPConnection.request(
            method: "POST",
            path: "/v1/events",
            host: "127.0.0.1",
            port: 8080,
            contentType: "application/json",
            body: Array("{}".utf8)
        )
        #expect(
            String(decoding: bytes, as: UTF8.self)
                == "POST /v1/events HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
        )
    }
}

/// What a replay through the API reports, against a scripted server.
struct APIRecommenderTests {
    /// A `200 OK` response with a JSON body and extra header lines.
    static func ok(_ body: String, headers: String = "") -> String {
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\(headers)Content-Length: \(body.utf8.count)\r\n\r\n\(body)"
    }

    static let accepted = ok(#"{"accepted":1,"duplicates":0,"rejected":[]}"#)

    @Test func listsBehindTheUsersAcknowledgedEventsAndListsMarkedStaleAreCounted() throws {
        let server = try ScriptedHTTPServer(responses: [
            [
                Self.accepted,
                Self.ok(#"{"user":"u","items":[{"item":"x","score":1}],"profile_version":1,"model_version":0}"#),
                Self.accepted,
                Self.ok(
                    #"{"user":"u","items":[{"item":"x","score":1}],"profile_version":1,"model_version":0}"#,
                    headers: "Starling-Stale: true\r\n"
                ),
                Self.ok(#"{"user":"v","items":[],"profile_version":0,"model_version":0}"#),
            ]
        ])
        var recommender = try APIRecommender(url: "http://127.0.0.1:\(server.port)")
        recommender.learn(rating("u", "a", 5, at: 1))
        #expect(recommender.recommend(user: "u", count: 10, source: .blend).map(\.item) == ["x"])
        recommender.learn(rating("u", "b", 4, at: 2))
        _ = recommender.recommend(user: "u", count: 10, source: .blend)  // still at version 1 of 2: behind
        _ = recommender.recommend(user: "v", count: 10, source: .blend)  // no events posted: not behind
        server.wait()

        var expected = APIRecommender.Report()
        expected.eventsPosted = 2
        expected.listsAsked = 3
        expected.listsBehind = 1
        expected.listsMarkedStale = 1
        expected.listsWithMarker = 1
        #expect(recommender.report == expected)
        #expect(
            server.requestLines == [
                "POST /v1/events HTTP/1.1", "GET /v1/users/u/recommendations?count=10 HTTP/1.1",
                "POST /v1/events HTTP/1.1", "GET /v1/users/u/recommendations?count=10 HTTP/1.1",
                "GET /v1/users/v/recommendations?count=10 HTTP/1.1",
            ]
        )
    }

    @Test func aRejectedEventStopsTheReplayAndIsReportedWithTheServersReason() throws {
        let server = try ScriptedHTTPServer(responses: [
            [Self.ok(#"{"accepted":0,"duplicates":0,"rejected":[{"index":0,"error":"value: must be between 1 and 5"}]}"#)]
        ])
        var recommender = try APIRecommender(url: "http://127.0.0.1:\(server.port)")
        recommender.learn(rating("u", "a", 9, at: 1))
        recommender.learn(rating("u", "b", 4, at: 2))
        #expect(recommender.recommend(user: "u", count: 10, source: .blend).isEmpty)
        server.wait()

        #expect(server.requestLines == ["POST /v1/events HTTP/1.1"])
        #expect(recommender.report.eventsPosted == 0)
        let failure = try #require(recommender.report.failure)
        #expect(failure.description.contains("rejected event 'eval-1': value: must be between 1 and 5"))
    }
}

/// A loopback TCP server that answers the requests of each accepted connection, in order, with scripted bytes, then
/// closes that connection; it records each request line.
final class ScriptedHTTPServer: @unchecked Sendable {
    // @unchecked: `lines` is written by the server thread and read only after `wait()`, which joins it.
    let port: Int
    private let listener: Int32
    private let done = DispatchSemaphore(value: 0)
    private(set) var requestLines: [String] = []

    init(responses: [[String]]) throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer -> Int32 in
                guard bind(fd, pointer, length) == 0, listen(fd, 4) == 0 else { return -1 }
                return getsockname(fd, pointer, &length)
            }
        }
        try #require(fd >= 0 && bound == 0, "cannot listen on a loopback port")
        self.listener = fd
        self.port = Int(UInt16(bigEndian: address.sin_port))
        let thread = Thread { [self] in
            for script in responses {
                let client = accept(self.listener, nil, nil)
                guard client >= 0 else { break }
                var pending: [UInt8] = []
                for response in script {
                    // Read one request: its head, and a body of Content-Length bytes.
                    while true {
                        if let end = Self.headEnd(pending) {
                            let head = String(decoding: pending[..<end], as: UTF8.self)
                            let length = head.split(separator: "\r\n")
                                .first { $0.lowercased().hasPrefix("content-length:") }
                                .flatMap { Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) } ?? 0
                            if pending.count >= end + 4 + length {
                                self.requestLines.append(String(head.split(separator: "\r\n")[0]))
                                pending.removeFirst(end + 4 + length)
                                break
                            }
                        }
                        var chunk = [UInt8](repeating: 0, count: 4096)
                        let count = chunk.withUnsafeMutableBytes { recv(client, $0.baseAddress!, $0.count, 0) }
                        guard count > 0 else { break }
                        pending.append(contentsOf: chunk[0..<count])
                    }
                    let bytes = Array(response.utf8)
                    _ = bytes.withUnsafeBytes { send(client, $0.baseAddress!, $0.count, 0) }
                }
                close(client)
            }
            close(self.listener)
            self.done.signal()
        }
        thread.start()
    }

    /// Waits until every scripted connection was served.
    func wait() {
        self.done.wait()
    }

    private static func headEnd(_ bytes: [UInt8]) -> Int? {
        guard bytes.count >= 4 else { return nil }
        for index in 0...(bytes.count - 4)
        where bytes[index] == 13 && bytes[index + 1] == 10 && bytes[index + 2] == 13 && bytes[index + 3] == 10 {
            return index
        }
        return nil
    }
}
