public import Hummingbird
import HTTPTypes
import NIOCore

/// `GET /openapi.yaml`: the OpenAPI 3.1 description of this API, `docs/openapi.yaml` as it was when the binary was
/// built (``OpenAPIDocument``; nothing is read from disk).
public struct OpenAPIController: Sendable {
    /// The media type of the document (RFC 9512).
    static let contentType = "application/yaml"
    private static let body = ByteBuffer(string: OpenAPIDocument.yaml)

    public init() {}

    public func addRoutes(to router: Router<some RequestContext>) {
        router.get("/openapi.yaml") { _, _ in
            Response(
                status: .ok,
                headers: [.contentType: Self.contentType],
                body: ResponseBody(byteBuffer: Self.body)
            )
        }
    }
}
