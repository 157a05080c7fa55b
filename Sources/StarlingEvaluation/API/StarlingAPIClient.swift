#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
public import StarlingCore
public import StarlingModels

/// A client of one Starling server's public HTTP API, as evaluation uses it: it posts events one request at a time
/// and asks for users' lists, over one kept-alive connection.
///
/// It speaks only the documented API (`POST /v1/events`, `GET /v1/users/{user}/recommendations`, `GET /ready`).
/// While the server answers 503 (recovering, or the log not keeping up) it waits as `Retry-After` says and
/// asks again, up to ``retryLimit`` times.
///
/// ```swift
/// let client = try StarlingAPIClient(url: "http://127.0.0.1:8080")
/// try client.post(event, id: "evt-1")
/// let list = try client.recommendations(user: "alice", count: 10)
/// ```
public final class StarlingAPIClient {
    /// One list as the server answered it.
    public struct List: Sendable, Equatable {
        /// The items, best first.
        public var items: [ScoredItem]
        /// The response's `profile_version`: how many of the user's events the list reflects.
        public var profileVersion: UInt64?
        /// Whether the server marked the list stale: `nil` when the response carries no freshness marker at all.
        public var markedStale: Bool?

        public init(items: [ScoredItem], profileVersion: UInt64?, markedStale: Bool?) {
            self.items = items
            self.profileVersion = profileVersion
            self.markedStale = markedStale
        }
    }

    /// The server's base URL, as given.
    public let url: String
    /// How many times a request answered with 503 is sent again before giving up.
    public var retryLimit = 100
    private let connection: HTTPConnection

    /// Connects to the server at `url` (`http://host:port`).
    ///
    /// - Throws: ``APIClientError`` when the URL is not `http://host[:port]` or the server cannot be reached.
    public init(url: String) throws(APIClientError) {
        let (host, port) = try Self.hostAndPort(url)
        self.url = url
        self.connection = try HTTPConnection(host: host, port: port)
    }

    /// The host and port of an `http://host[:port][/]` URL (port 80 when absent).
    package static func hostAndPort(_ url: String) throws(APIClientError) -> (host: String, port: Int) {
        guard url.hasPrefix("http://") else {
            throw APIClientError("the server URL must start with http:// (https is not supported), found '\(url)'")
        }
        var rest = url.dropFirst("http://".count)
        while rest.hasSuffix("/") { rest = rest.dropLast() }
        guard !rest.isEmpty, !rest.contains("/") else {
            throw APIClientError("the server URL must be http://host:port with no path, found '\(url)'")
        }
        if rest.hasPrefix("[") {  // [::1]:8080
            guard let close = rest.firstIndex(of: "]") else { throw APIClientError("malformed IPv6 host in '\(url)'") }
            let host = String(rest[rest.index(after: rest.startIndex)..<close])
            let after = rest[rest.index(after: close)...]
            if after.isEmpty { return (host, 80) }
            guard after.hasPrefix(":"), let port = Int(after.dropFirst()), (1...65_535).contains(port) else {
                throw APIClientError("the port in '\(url)' must be a number from 1 to 65535")
            }
            return (host, port)
        }
        let parts = rest.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count <= 2, !parts[0].isEmpty else {
            throw APIClientError("the server URL must be http://host:port, found '\(url)'")
        }
        guard parts.count == 2 else { return (String(parts[0]), 80) }
        guard let port = Int(parts[1]), (1...65_535).contains(port) else {
            throw APIClientError("the port in '\(url)' must be a number from 1 to 65535, found '\(parts[1])'")
        }
        return (String(parts[0]), port)
    }

    // MARK: - Requests

    /// Whether `GET /ready` answers 200 now.
    public func isReady() -> Bool {
        (try? self.connection.send(method: "GET", path: "/ready").status) == 200
    }

    /// Posts one event with the id `id`, and returns once the server has acknowledged it (durably).
    ///
    /// - Throws: ``APIClientError`` when the server rejects the event (with its reason), reports it as a duplicate
    ///   (the id was accepted before: the server was not empty), or answers with another error.
    public func post(_ event: Event, id: String) throws(APIClientError) {
        let body = Array(Self.eventJSON(event, id: id).utf8)
        let response = try self.send(method: "POST", path: "/v1/events", body: body, what: "posting event '\(id)'")
        guard response.status == 200 else {
            throw APIClientError("posting event '\(id)' to \(self.url) failed with HTTP \(response.status): \(response.text)")
        }
        let answer = try? JSONScanner.parse(response.body)
        if let rejected = answer?["rejected"]?.array, let first = rejected.first {
            throw APIClientError(
                "\(self.url) rejected event '\(id)': \(first["error"]?.string ?? response.text)"
            )
        }
        if let duplicates = answer?["duplicates"]?.int, duplicates > 0 {
            throw APIClientError(
                "\(self.url) already had an event with id '\(id)': evaluation through the API needs an empty server"
            )
        }
    }

    /// Asks for the top `count` of `user`, with no other parameter (the server's default list).
    public func recommendations(user: String, count: Int) throws(APIClientError) -> List {
        let path = Self.recommendationsPath(user: user, count: count)
        let response = try self.send(method: "GET", path: path, body: [], what: "asking the list of '\(user)'")
        guard response.status == 200 else {
            throw APIClientError("GET \(path) on \(self.url) failed with HTTP \(response.status): \(response.text)")
        }
        return try Self.list(from: response, path: path)
    }

    /// Sends a request, waiting and sending it again while the server answers 503.
    private func send(method: String, path: String, body: [UInt8], what: String) throws(APIClientError)
        -> HTTPConnection.Response
    {
        var attempts = 0
        while true {
            let response: HTTPConnection.Response
            do {
                response = try self.connection.send(method: method, path: path, body: body)
            } catch {
                throw APIClientError("\(what) on \(self.url): \(error.message)")
            }
            guard response.status == 503, attempts < self.retryLimit else { return response }
            attempts += 1
            let seconds = response.header("Retry-After").flatMap { Double($0) } ?? 0.1
            usleep(UInt32(min(max(seconds, 0.01), 1) * 1_000_000))
        }
    }

    // MARK: - Request and response shapes

    /// The JSON body that posts `event` with the id `id`: `type`, `user`, `item`, `id`, `timestamp` (epoch
    /// milliseconds, the event's own time), and `value`, `session` and `context` when the event has them.
    package static func eventJSON(_ event: Event, id: String) -> String {
        var fields = [
            "\"type\":\(EvaluationRow.jsonString(event.type.name))",
            "\"user\":\(EvaluationRow.jsonString(event.user))",
        ]
        if let item = event.item { fields.append("\"item\":\(EvaluationRow.jsonString(item))") }
        fields.append("\"id\":\(EvaluationRow.jsonString(id))")
        fields.append("\"timestamp\":\(event.timestamp.milliseconds)")
        if let value = event.value, value.isFinite { fields.append("\"value\":\(value.description)") }
        if let session = event.session { fields.append("\"session\":\(EvaluationRow.jsonString(session))") }
        if !event.context.isEmpty {
            let members = event.context.map { key, value -> String in
                let text: String
                switch value {
                case .string(let s): text = EvaluationRow.jsonString(s)
                case .number(let d): text = d.isFinite ? d.description : "null"
                case .bool(let b): text = b ? "true" : "false"
                }
                return "\(EvaluationRow.jsonString(key)):\(text)"
            }
            fields.append("\"context\":{\(members.joined(separator: ","))}")
        }
        return "{\"events\":[{\(fields.joined(separator: ","))}]}"
    }

    /// `/v1/users/{user}/recommendations?count=N` with the user id percent-encoded.
    package static func recommendationsPath(user: String, count: Int) -> String {
        "/v1/users/\(self.percentEncoded(user))/recommendations?count=\(count)"
    }

    /// `text` with every byte but RFC 3986's unreserved characters percent-encoded.
    package static func percentEncoded(_ text: String) -> String {
        var result = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                UInt8(ascii: "~"):
                result.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let hex = String(byte, radix: 16, uppercase: true)
                result += "%" + (hex.count == 1 ? "0" + hex : hex)
            }
        }
        return result
    }

    /// Reads a recommendations response: `items[].item` and `items[].score`, `profile_version`, and a freshness
    /// marker if the server sends one.
    ///
    /// The marker is looked for tolerantly, since its shape is not fixed: a top-level `"stale": true|false` or
    /// `"fresh": true|false` in the body, or a header whose name starts with `Starling-` and contains `stale` or
    /// `fresh` (`Starling-Stale: true`, `Starling-Freshness: stale`, …).
    package static func list(from response: HTTPConnection.Response, path: String = "") throws(APIClientError) -> List {
        let document: JSONValue
        do {
            document = try JSONScanner.parse(response.body)
        } catch {
            throw APIClientError("the response to GET \(path) is not JSON (\(error)): \(response.text.prefix(200))")
        }
        guard let entries = document["items"]?.array else {
            throw APIClientError("the response to GET \(path) has no 'items' array: \(response.text.prefix(200))")
        }
        var items: [ScoredItem] = []
        items.reserveCapacity(entries.count)
        for entry in entries {
            guard let item = entry["item"]?.string else {
                throw APIClientError("an entry of 'items' in the response to GET \(path) has no 'item' string")
            }
            var score = 0.0
            if case .number(let value, _)? = entry["score"] { score = value }
            items.append(ScoredItem(item: item, score: score))
        }
        let version = document["profile_version"]?.int.flatMap { UInt64(exactly: $0) }
        return List(items: items, profileVersion: version, markedStale: self.staleMarker(document, response.headers))
    }

    /// Whether the response says its list is stale; `nil` when it carries no freshness marker.
    static func staleMarker(_ document: JSONValue, _ headers: [(name: String, value: String)]) -> Bool? {
        if case .bool(let stale)? = document["stale"] { return stale }
        if case .bool(let fresh)? = document["fresh"] { return !fresh }
        for (name, value) in headers {
            let name = name.lowercased()
            guard name.hasPrefix("starling-") else { continue }
            let value = value.lowercased().trimmed(of: " \t")
            if name.contains("stale") { return !["false", "0", "no"].contains(value) }
            if name.contains("fresh") {
                if ["true", "1", "yes", "fresh"].contains(value) { return false }
                if ["false", "0", "no", "stale"].contains(value) { return true }
                return value.contains("stale")
            }
        }
        return nil
    }
}

@available(*, unavailable, message: "a StarlingAPIClient owns one blocking connection, used from one task")
extension StarlingAPIClient: Sendable {}

extension String {
    fileprivate func trimmed(of set: String) -> String {
        var slice = Substring(self)
        while let first = slice.first, set.contains(first) { slice.removeFirst() }
        while let last = slice.last, set.contains(last) { slice.removeLast() }
        return String(slice)
    }
}
