import Crypto
import HTTPTypes
public import Hummingbird
import NIOCore

/// Static assets compiled into the binary: `GET /sdk/starling.js` (the browser SDK, `sdk/js/starling.js`) always, and
/// with a ``Demo`` the demo site, `GET /demo` and `GET /demo/catalog.json`.
///
/// Each answer carries a strong `ETag` (a SHA-256 of the bytes) and `Cache-Control`, so browsers and CDNs keep them
/// and revalidate with `If-None-Match` (answered 304 without a body): the SDK for an hour, the demo page not at all
/// (`no-cache`: revalidated on every load, so a new binary's page is seen at once).
public struct AssetsController: Sendable {
    /// The demo site's catalogue, as the page lists it.
    public struct Demo: Sendable {
        /// `[{"id": …, "title": …, "category": …}, …]`.
        public var catalogJSON: [UInt8]

        public init(catalogJSON: [UInt8]) {
            self.catalogJSON = catalogJSON
        }
    }

    struct Asset: Sendable {
        var body: ByteBuffer
        var contentType: String
        var cacheControl: String
        var etag: String

        init(_ bytes: [UInt8], contentType: String, cacheControl: String) {
            self.body = ByteBuffer(bytes: bytes)
            self.contentType = contentType
            self.cacheControl = cacheControl
            self.etag = "\"\(SHA256.hash(data: bytes).prefix(16).hexadecimal)\""
        }
    }

    static let sdk = Asset(
        PackageResources.starling_js,
        contentType: "text/javascript; charset=utf-8",
        cacheControl: "public, max-age=3600"
    )
    static let demoPage = Asset(
        PackageResources.demo_html,
        contentType: "text/html; charset=utf-8",
        cacheControl: "no-cache"
    )

    let demo: Demo?

    public init(demo: Demo? = nil) {
        self.demo = demo
    }

    public func addRoutes(to router: Router<some RequestContext>) {
        router.get("/sdk/starling.js") { request, _ in Self.serve(Self.sdk, request) }
        guard let demo = self.demo else { return }
        router.get("/demo") { request, _ in Self.serve(Self.demoPage, request) }
        let catalog = Asset(demo.catalogJSON, contentType: "application/json", cacheControl: "no-cache")
        router.get("/demo/catalog.json") { request, _ in Self.serve(catalog, request) }
    }

    static func serve(_ asset: Asset, _ request: Request) -> Response {
        var headers: HTTPFields = [.contentType: asset.contentType, .cacheControl: asset.cacheControl, .eTag: asset.etag]
        if let match = request.headers[.ifNoneMatch],
            match == "*" || match.split(separator: ",").contains(where: { $0.filter { $0 != " " } == asset.etag })
        {
            headers[.contentType] = nil
            return Response(status: .notModified, headers: headers)
        }
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: asset.body))
    }
}
