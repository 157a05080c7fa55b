import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import StarlingHTTP
import Testing

/// The static assets compiled into the binary: the browser SDK and the demo site.
struct AssetsAPITests {
    @Test func theSDKIsServedAsBuiltWithAnETagCachesCanRevalidate() async throws {
        let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("sdk/js/starling.js")
        let expected = try String(contentsOf: source, encoding: .utf8)
        try await APIFixture().run { client, _ in
            let response = try await client.execute(uri: "/sdk/starling.js", method: .get)
            #expect(response.status == .ok)
            #expect(String(buffer: response.body) == expected, "the binary serves sdk/js/starling.js as it is")
            #expect(response.headers[.contentType] == "text/javascript; charset=utf-8")
            #expect(response.headers[.cacheControl] == "public, max-age=3600")
            let etag = try #require(response.headers[.eTag])
            #expect(etag.hasPrefix("\"") && etag.count == 34)
            let revalidated = try await client.execute(
                uri: "/sdk/starling.js",
                method: .get,
                headers: [.ifNoneMatch: "\"other\", \(etag)"]
            )
            #expect(revalidated.status == .notModified)
            #expect(revalidated.body.readableBytes == 0)
            #expect(revalidated.headers[.eTag] == etag)
            let stale = try await client.execute(uri: "/sdk/starling.js", method: .get, headers: [.ifNoneMatch: "\"other\""])
            #expect(stale.status == .ok)
        }
    }

    @Test func theDemoSiteExistsOnlyInDemoMode() async throws {
        let router = Router(context: BasicRequestContext.self)
        AssetsController(demo: .init(catalogJSON: Array(#"[{"id":"a","title":"A","category":"c"}]"#.utf8)))
            .addRoutes(to: router)
        try await Application(router: router).test(.router) { client in
            let page = try await client.execute(uri: "/demo", method: .get)
            #expect(page.status == .ok)
            #expect(String(buffer: page.body).contains(#"import { Starling } from "/sdk/starling.js""#))
            #expect(page.headers[.cacheControl] == "no-cache")
            let catalog = try await client.execute(uri: "/demo/catalog.json", method: .get)
            #expect(String(buffer: catalog.body) == #"[{"id":"a","title":"A","category":"c"}]"#)
        }
        try await APIFixture().run { client, _ async throws in
            #expect(try await client.execute(uri: "/demo", method: .get).status == .notFound)
        }
    }
}
