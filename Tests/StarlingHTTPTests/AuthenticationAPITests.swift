import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import StarlingCore
import StarlingHTTP
import StarlingServer
import StarlingStream
import StarlingTestSupport
import Testing

/// API keys and CORS through the whole API (``ProcessorRole``'s router), as a client sees them.
struct AuthenticationAPITests {
    static let secret = "sk_test-secret"
    static let publishable = "pk_test-publishable"
    static let events = #"{"events": [{"type": "view", "user": "u1", "item": "i1"}]}"#

    static func security(protectMetrics: Bool = false) throws -> HTTPSecurity {
        HTTPSecurity(
            keys: try APIKeys([
                APIKey(name: "backend", kind: .secret, sha256: APIKeys.sha256(of: Self.secret)),
                APIKey(
                    name: "web",
                    kind: .publishable,
                    sha256: APIKeys.sha256(of: Self.publishable),
                    origins: ["https://shop.example"],
                    rateLimit: .init(perSecond: 1_000, burst: 1_000)
                ),
            ]),
            corsOrigins: ["https://admin.example"],
            protectMetrics: protectMetrics
        )
    }

    private func request(
        _ client: any TestClientProtocol,
        _ method: HTTPRequest.Method,
        _ uri: String,
        key: String? = nil,
        origin: String? = nil,
        body: String? = nil
    ) async throws -> (status: HTTPResponse.Status, headers: HTTPFields, error: String?) {
        var headers: HTTPFields = [:]
        if let key { headers[.authorization] = "Bearer \(key)" }
        if let origin { headers[.origin] = origin }
        if body != nil { headers[.contentType] = "application/json" }
        let response = try await client.execute(
            uri: uri,
            method: method,
            headers: headers,
            body: body.map { ByteBuffer(string: $0) }
        )
        let text = String(buffer: response.body)
        let error = (try? JSONScanner.parse(text))?["error"]?.string
        return (response.status, response.headers, error)
    }

    @Test func routesThatReadOrAdministerNeedASecretKey() async throws {
        try await APIFixture(security: Self.security()).run { client, _ async throws in
            let ingested = try await self.request(client, .post, "/v1/events", key: Self.secret, body: Self.events)
            #expect(ingested.status == .ok)
            for (method, uri) in [
                (HTTPRequest.Method.get, "/v1/users/u1"), (.get, "/v1/users/u1/recommendations"), (.get, "/v1/stats"),
                (.get, "/v1/trending"), (.get, "/v1/items/i1/similar"), (.post, "/v1/models/retrain"),
                (.delete, "/v1/items/i1"), (.get, "/v1/no-such-route"),
            ] {
                let none = try await self.request(client, method, uri)
                #expect(none.status == .unauthorized, "\(method) \(uri)")
                #expect(none.headers[.wwwAuthenticate]?.hasPrefix("Bearer") == true)
                #expect(none.error?.contains("missing API key") == true)
                let unknown = try await self.request(client, method, uri, key: "sk_guess")
                #expect(unknown.status == .unauthorized)
                #expect(unknown.error?.contains("unknown API key") == true)
                let publishable = try await self.request(client, method, uri, key: Self.publishable)
                #expect(publishable.status == .forbidden, "\(method) \(uri)")
                #expect(publishable.error?.contains("key 'web' is publishable") == true)
                let secret = try await self.request(client, method, uri, key: Self.secret)
                #expect(secret.status != .unauthorized && secret.status != .forbidden, "\(method) \(uri)")
            }
            #expect(try await self.request(client, .get, "/v1/users/u1", key: Self.secret).status == .ok)
            // The key never appears in an answer.
            let refused = try await self.request(client, .get, "/v1/users/u1", key: Self.publishable)
            #expect(refused.error?.contains(Self.publishable) == false)
        }
    }

    @Test func aPublishableKeySendsEventsFromItsOriginsAndAppsOnly() async throws {
        try await APIFixture(security: Self.security()).run { client, processor async throws in
            let noKey = try await self.request(client, .post, "/v1/events", body: Self.events)
            #expect(noKey.status == .unauthorized)
            let fromPage = try await self.request(
                client, .post, "/v1/events", key: Self.publishable, origin: "https://shop.example", body: Self.events
            )
            #expect(fromPage.status == .ok)
            #expect(fromPage.headers[.accessControlAllowOrigin] == "https://shop.example")
            let fromApp = try await self.request(client, .post, "/v1/events", key: Self.publishable, body: Self.events)
            #expect(fromApp.status == .ok)
            let elsewhere = try await self.request(
                client, .post, "/v1/events", key: Self.publishable, origin: "https://evil.example", body: Self.events
            )
            #expect(elsewhere.status == .forbidden)
            #expect(elsewhere.error == "origin 'https://evil.example' is not allowed to use key 'web': add it to the key's origins")
            #expect(elsewhere.headers[.accessControlAllowOrigin] == nil)
            // A beacon cannot set headers: the key may come as a query parameter, for sending events only.
            let beacon = try await self.request(client, .post, "/v1/events?key=\(Self.publishable)", body: Self.events)
            #expect(beacon.status == .ok)
            let queryRead = try await self.request(client, .get, "/v1/users/u1?key=\(Self.secret)")
            #expect(queryRead.status == .unauthorized)
            try await eventually("the three accepted batches applied") { processor.appliedCount == 3 }
        }
    }

    @Test func probesAndTheAPIDescriptionStayOpenAndMetricsCanBeProtected() async throws {
        try await APIFixture(security: Self.security()).run { client, _ async throws in
            for uri in ["/health", "/ready", "/openapi.yaml", "/metrics", "/sdk/starling.js", "/dashboard"] {
                #expect(try await self.request(client, .get, uri).status == .ok, "\(uri)")
            }
        }
        try await APIFixture(security: Self.security(protectMetrics: true)).run { client, _ async throws in
            #expect(try await self.request(client, .get, "/metrics").status == .unauthorized)
            #expect(try await self.request(client, .get, "/metrics", key: Self.publishable).status == .forbidden)
            #expect(try await self.request(client, .get, "/metrics", key: Self.secret).status == .ok)
            #expect(try await self.request(client, .get, "/health").status == .ok)
        }
    }

    @Test func preflightsFromAllowedOriginsAreAnsweredAndOthersRefused() async throws {
        try await APIFixture(security: Self.security()).run { client, _ async throws in
            for origin in ["https://shop.example", "https://admin.example"] {
                let response = try await client.execute(
                    uri: "/v1/events",
                    method: .options,
                    headers: [.origin: origin, .accessControlRequestMethod: "POST"]
                )
                #expect(response.status == .noContent)
                #expect(response.headers[.accessControlAllowOrigin] == origin)
                #expect(response.headers[.accessControlAllowHeaders]?.contains("Authorization") == true)
                #expect(response.headers[.vary] == "Origin")
            }
            let refused = try await client.execute(
                uri: "/v1/users/u1",
                method: .options,
                headers: [.origin: "https://evil.example", .accessControlRequestMethod: "GET"]
            )
            #expect(refused.status == .forbidden)
            #expect(refused.headers[.accessControlAllowOrigin] == nil)
            // A refusal a page of an allowed origin gets is readable by it.
            let unauthorized = try await self.request(client, .get, "/v1/users/u1", origin: "https://admin.example")
            #expect(unauthorized.status == .unauthorized)
            #expect(unauthorized.headers[.accessControlAllowOrigin] == "https://admin.example")
        }
    }

    @Test func withoutKeysEveryRouteIsOpenAndNoCORSHeadersAreSent() async throws {
        try await APIFixture().run { client, _ async throws in
            let ingested = try await self.request(
                client, .post, "/v1/events", origin: "https://shop.example", body: Self.events
            )
            #expect(ingested.status == .ok)
            #expect(ingested.headers[.accessControlAllowOrigin] == nil)
            #expect(try await self.request(client, .get, "/v1/users/u1").status == .ok)
        }
    }
}

/// The rate limit of publishable keys, on a clock the test moves.
struct RateLimitTests {
    final class Clock: Sendable {
        let nanoseconds = LockedBox<Int64>(0)
        func advance(_ duration: Duration) { self.nanoseconds.withLock { $0 += duration.wholeNanoseconds } }
    }

    @Test func aBucketAllowsItsBurstThenItsRate() {
        let clock = Clock()
        let limiter = RateLimiter(now: { clock.nanoseconds.value })
        let limit = APIKey.RateLimit(perSecond: 10, burst: 3)
        for _ in 0..<3 { #expect(limiter.take("web", limit: limit) == nil) }
        let wait = limiter.take("web", limit: limit)
        #expect(wait == .milliseconds(100))
        #expect(limiter.take("other", limit: limit) == nil, "each key has its own bucket")
        clock.advance(.milliseconds(100))
        #expect(limiter.take("web", limit: limit) == nil)
        #expect(limiter.take("web", limit: limit) != nil)
        clock.advance(.seconds(60))
        for _ in 0..<3 { #expect(limiter.take("web", limit: limit) == nil) }
        #expect(limiter.take("web", limit: limit) != nil, "a quiet minute refills the burst, not more")
    }

    @Test func aKeyOverItsLimitIsAnswered429WithRetryAfter() async throws {
        let clock = Clock()
        let security = HTTPSecurity(
            keys: try APIKeys([
                APIKey(
                    name: "web",
                    kind: .publishable,
                    sha256: APIKeys.sha256(of: "pk_x"),
                    rateLimit: .init(perSecond: 0.5, burst: 2)
                )
            ])
        )
        let router = Router(context: BasicRequestContext.self)
        router.add(middleware: ErrorBodyMiddleware())
        router.add(
            middleware: AuthenticationMiddleware(security: security, limiter: RateLimiter(now: { clock.nanoseconds.value }))
        )
        router.post("/v1/events") { _, _ in "ok" }
        try await Application(router: router).test(.router) { client in
            let headers: HTTPFields = [.authorization: "Bearer pk_x"]
            for _ in 0..<2 {
                #expect(try await client.execute(uri: "/v1/events", method: .post, headers: headers).status == .ok)
            }
            let limited = try await client.execute(uri: "/v1/events", method: .post, headers: headers)
            #expect(limited.status == .tooManyRequests)
            #expect(limited.headers[.retryAfter] == "2")
            let body = try JSONScanner.parse(String(buffer: limited.body))
            #expect(body["error"]?.string == "key 'web' is over its rate limit of 0.5 requests/s (bursts of 2): retry in 2 s")
            clock.advance(.seconds(2))
            #expect(try await client.execute(uri: "/v1/events", method: .post, headers: headers).status == .ok)
        }
    }
}

/// Reading key documents and the rule against serving without keys beyond loopback.
struct APIKeyConfigurationTests {
    @Test func keysAreHeldAsSHA256AndLookedUpByTheKeyPresented() throws {
        // FIPS 180-2's test vector for "abc".
        #expect(APIKeys.sha256(of: "abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        let generated = APIKeys.generate(kind: .secret)
        #expect(generated.hasPrefix("sk_") && generated.count == 46)
        #expect(APIKeys.generate(kind: .publishable).hasPrefix("pk_"))
        #expect(generated != APIKeys.generate(kind: .secret))
        let keys = try APIKeys([APIKey(name: "a", kind: .secret, sha256: APIKeys.sha256(of: generated).uppercased())])
        #expect(keys.key(presented: generated)?.name == "a")
        #expect(keys.key(presented: generated + "x") == nil)
    }

    @Test func aKeyDocumentRoundTripsAndItsMistakesAreNamed() throws {
        let document = """
            {"keys": [
              {"name": "backend", "kind": "secret", "sha256": "\(APIKeys.sha256(of: "s"))"},
              {"name": "web", "kind": "publishable", "sha256": "\(APIKeys.sha256(of: "p"))",
               "origins": ["https://shop.example"], "rate_limit": {"per_second": 20, "burst": 40}}
            ]}
            """
        let keys = try APIKeys(json: Data(document.utf8))
        #expect(keys.all.map(\.name) == ["backend", "web"])
        #expect(keys.key(presented: "p")?.rateLimit == .init(perSecond: 20, burst: 40))
        #expect(keys.publishableOrigins == ["https://shop.example"])
        let again = try APIKeys(json: keys.json())
        #expect(again.all == keys.all)

        func failure(_ json: String) -> String? {
            do {
                _ = try APIKeys(json: Data(json.utf8))
                return nil
            } catch {
                return error.description
            }
        }
        #expect(failure(#"{"keys": [{"name": "a", "kind": "secret"}]}"#)?.contains("missing field 'sha256'") == true)
        #expect(failure(#"{"keys": [{"name": "a", "kind": "root", "sha256": "00"}]}"#)?.contains("keys[0].kind") == true)
        #expect(
            failure(#"{"keys": [{"name": "a", "kind": "secret", "sha256": "abc"}]}"#)
                == "key 'a': sha256 must be 64 hexadecimal digits, found 'abc'"
        )
        let hash = APIKeys.sha256(of: "x")
        #expect(
            failure(#"{"keys": [{"name": "a", "kind": "secret", "sha256": "\#(hash)"}, {"name": "a", "kind": "secret", "sha256": "\#(APIKeys.sha256(of: "y"))"}]}"#)
                == "two keys are named 'a'"
        )
        #expect(failure("not json")?.hasPrefix("the API key document is not valid") == true)
    }

    @Test func listeningBeyondLoopbackNeedsKeysOrAnExplicitInsecureFlag() async throws {
        let keys = HTTPSecurity(keys: try APIKeys([APIKey(name: "a", kind: .secret, sha256: APIKeys.sha256(of: "a"))]))
        for host in ["127.0.0.1", "localhost", "::1"] {
            #expect(throws: Never.self) { try ServerConfiguration.HTTP(host: host).validate() }
        }
        #expect(throws: ServerConfigurationError.self) { try ServerConfiguration.HTTP(host: "0.0.0.0").validate() }
        #expect(throws: Never.self) { try ServerConfiguration.HTTP(host: "0.0.0.0", security: keys).validate() }
        #expect(throws: Never.self) { try ServerConfiguration.HTTP(host: "0.0.0.0", insecureNoAuth: true).validate() }
        #expect(throws: ServerConfigurationError.self) {
            try ServerConfiguration.HTTP(host: "0.0.0.0", security: keys, insecureNoAuth: true).validate()
        }
        // The composition root applies the rule before opening anything.
        let open = ServerConfiguration(http: .init(host: "0.0.0.0", port: 0))
        let error = await #expect(throws: ServerConfigurationError.self) {
            _ = try await buildApplication(configuration: open, metricsText: { "" }, logger: Logger(label: "test"))
        }
        #expect(error?.description.hasPrefix("refusing to listen on 0.0.0.0 without API keys") == true)
    }
}
