import Crypto
public import Foundation

/// What an API key may do.
///
/// The split follows analytics and search services: a *publishable* key only sends events, so it can be embedded in
/// a web page or an app; a *secret* key reads profiles and recommendations and administers (catalogue, retraining,
/// deletion), and stays on the site's servers.
public enum APIKeyKind: String, Sendable, Hashable, Codable {
    case publishable
    case secret
}

/// One API key, as the server holds it: its SHA-256, never the key itself.
public struct APIKey: Sendable, Hashable {
    /// How many requests a publishable key may make.
    public struct RateLimit: Sendable, Hashable {
        /// Requests per second, sustained.
        public var perSecond: Double
        /// Requests allowed at once after a quiet period.
        public var burst: Int

        public init(perSecond: Double, burst: Int) {
            self.perSecond = perSecond
            self.burst = burst
        }

        /// The limit of a publishable key whose entry names none: 100 requests per second, bursts of 200.
        public static let publishableDefault = RateLimit(perSecond: 100, burst: 200)
    }

    /// A name for logs and error messages (never the key).
    public var name: String
    public var kind: APIKeyKind
    /// The SHA-256 of the key, as 64 lowercase hexadecimal digits.
    public var sha256: String
    /// For a publishable key, the web origins (`scheme://host[:port]`, or `*` for any) whose pages may send it; a
    /// request that carries another `Origin` is refused. Requests without `Origin` (apps, servers) are not browser
    /// requests and are accepted. Ignored for secret keys.
    public var origins: [String]
    /// For a publishable key, its rate limit; `nil` for a secret key.
    public var rateLimit: RateLimit?

    public init(name: String, kind: APIKeyKind, sha256: String, origins: [String] = [], rateLimit: RateLimit? = nil) {
        self.name = name
        self.kind = kind
        self.sha256 = sha256
        self.origins = origins
        self.rateLimit = kind == .publishable ? (rateLimit ?? .publishableDefault) : nil
    }

    /// Whether a browser page of `origin` may use this key.
    public func allows(origin: String) -> Bool {
        self.kind == .secret || self.origins.contains("*") || self.origins.contains(origin)
    }
}

/// The API keys a server accepts, looked up by the SHA-256 of the key a request presents.
///
/// Keys come from a JSON document (the file given to `--api-keys`, or the `STARLING_API_KEYS` environment variable):
///
/// ```json
/// {"keys": [
///   {"name": "backend", "kind": "secret", "sha256": "…"},
///   {"name": "website", "kind": "publishable", "sha256": "…",
///    "origins": ["https://shop.example"], "rate_limit": {"per_second": 20, "burst": 40}}
/// ]}
/// ```
///
/// Only hashes are stored, so the document can be read by more people than the keys themselves; `starling keys
/// create` makes a key and its entry. A set without keys turns authentication off.
public struct APIKeys: Sendable {
    private let byHash: [String: APIKey]

    /// No keys: every route is open.
    public static let none = APIKeys(validated: [:])

    private init(validated: [String: APIKey]) {
        self.byHash = validated
    }

    /// - Throws: ``APIKeysError`` when two keys share a name or a hash, or a hash is not 64 hexadecimal digits.
    public init(_ keys: [APIKey]) throws(APIKeysError) {
        var byHash: [String: APIKey] = [:]
        var names = Set<String>()
        for var key in keys {
            key.sha256 = key.sha256.lowercased()
            guard key.sha256.utf8.count == 64, key.sha256.utf8.allSatisfy({ Self.isHexDigit($0) }) else {
                throw APIKeysError("key '\(key.name)': sha256 must be 64 hexadecimal digits, found '\(key.sha256)'")
            }
            guard !key.name.isEmpty else { throw APIKeysError("every key needs a non-empty name") }
            guard names.insert(key.name).inserted else { throw APIKeysError("two keys are named '\(key.name)'") }
            guard byHash[key.sha256] == nil else {
                throw APIKeysError("keys '\(byHash[key.sha256]!.name)' and '\(key.name)' have the same sha256")
            }
            if let limit = key.rateLimit, !(limit.perSecond > 0) || limit.burst < 1 {
                throw APIKeysError("key '\(key.name)': rate_limit needs per_second > 0 and burst ≥ 1")
            }
            byHash[key.sha256] = key
        }
        self.byHash = byHash
    }

    /// Parses the JSON document described above.
    public init(json: Data) throws(APIKeysError) {
        let document: Document
        do {
            document = try JSONDecoder().decode(Document.self, from: json)
        } catch let error as DecodingError {
            throw APIKeysError("the API key document is not valid: \(Self.describe(error))")
        } catch {
            throw APIKeysError("the API key document is not valid: \(error)")
        }
        try self.init(
            document.keys.map { entry in
                APIKey(
                    name: entry.name,
                    kind: entry.kind,
                    sha256: entry.sha256,
                    origins: entry.origins ?? [],
                    rateLimit: entry.rateLimit.map { .init(perSecond: $0.perSecond, burst: $0.burst) }
                )
            }
        )
    }

    /// Whether no key is configured (authentication off).
    public var isEmpty: Bool { self.byHash.isEmpty }

    /// Every key.
    public var all: [APIKey] { self.byHash.values.sorted { $0.name < $1.name } }

    /// The origins any publishable key may be sent from.
    public var publishableOrigins: Set<String> {
        Set(self.byHash.values.filter { $0.kind == .publishable }.flatMap(\.origins))
    }

    /// The key whose SHA-256 is that of `presented`, if any.
    public func key(presented: some StringProtocol) -> APIKey? {
        self.byHash[Self.sha256(of: presented)]
    }

    /// The SHA-256 of `key` as 64 lowercase hexadecimal digits.
    public static func sha256(of key: some StringProtocol) -> String {
        SHA256.hash(data: Array(key.utf8)).hexadecimal
    }

    /// A new random key: `sk_` (secret) or `pk_` (publishable) and 43 characters of base64url (256 bits from the
    /// system's cryptographic random source).
    public static func generate(kind: APIKeyKind) -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        let encoded = Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
        return (kind == .secret ? "sk_" : "pk_") + encoded
    }

    /// The JSON document of these keys, in the format ``init(json:)`` reads.
    public func json() -> Data {
        let entries = self.all.map { key in
            Entry(
                name: key.name,
                kind: key.kind,
                sha256: key.sha256,
                origins: key.kind == .publishable ? key.origins : nil,
                rateLimit: key.rateLimit.map { .init(perSecond: $0.perSecond, burst: $0.burst) }
            )
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        // Encoding plain strings and numbers cannot fail.
        return (try? encoder.encode(Document(keys: entries))) ?? Data()
    }

    private static func isHexDigit(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(byte)
    }

    private static func describe(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String {
            let keys = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
            return keys.isEmpty ? "the document" : String(keys.drop { $0 == "." })
        }
        switch error {
        case .keyNotFound(let key, let context): return "\(path(context)): missing field '\(key.stringValue)'"
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
            return "\(path(context)): \(context.debugDescription)"
        @unknown default: return "\(error)"
        }
    }

    private struct Document: Codable {
        var keys: [Entry]
    }

    private struct Entry: Codable {
        struct Limit: Codable {
            var perSecond: Double
            var burst: Int
            enum CodingKeys: String, CodingKey {
                case perSecond = "per_second"
                case burst
            }
        }
        var name: String
        var kind: APIKeyKind
        var sha256: String
        var origins: [String]?
        var rateLimit: Limit?
        enum CodingKeys: String, CodingKey {
            case name, kind, sha256, origins
            case rateLimit = "rate_limit"
        }
    }
}

/// A key document or key set that cannot be used.
public struct APIKeysError: Error, Hashable, Sendable, CustomStringConvertible {
    public var description: String

    public init(_ description: String) {
        self.description = description
    }
}

extension Sequence<UInt8> {
    /// The bytes as lowercase hexadecimal digits, two per byte.
    var hexadecimal: String {
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        for byte in self {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: text, as: UTF8.self)
    }
}
