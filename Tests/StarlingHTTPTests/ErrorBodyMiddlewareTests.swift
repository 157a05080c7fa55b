import HTTPTypes
import Hummingbird
import HummingbirdTesting
import StarlingCore
import StarlingHTTP
import Testing

struct ErrorBodyMiddlewareTests {
    private struct Unexpected: Error {}

    /// A router with the middleware and routes that fail in each way a handler can.
    private func application() -> some ApplicationProtocol {
        let router = Router(context: BasicRequestContext.self)
        router.add(middleware: ErrorBodyMiddleware())
        router.get("/unexpected") { _, _ -> Response in throw Unexpected() }
        router.get("/teapot") { _, _ -> Response in throw HTTPError(.init(code: 418), message: "short and stout") }
        return Application(router: router)
    }

    @Test func anErrorNoHandlerExpectedIsAJSON500NamingTheRequest() async throws {
        try await self.application().test(.router) { client in
            let response = try await client.execute(uri: "/unexpected", method: .get)
            #expect(response.status == .internalServerError)
            #expect(response.headers[.contentType] == "application/json")
            let body = try JSONScanner.parse(String(buffer: response.body))
            #expect(body["error"]?.string == "internal error while answering GET /unexpected")
        }
    }

    @Test func anHTTPErrorKeepsItsStatusAndMessageInTheJSONShape() async throws {
        try await self.application().test(.router) { client in
            let response = try await client.execute(uri: "/teapot", method: .get)
            #expect(response.status.code == 418)
            #expect(response.headers[.contentType] == "application/json")
            let body = try JSONScanner.parse(String(buffer: response.body))
            #expect(body["error"]?.string == "short and stout")
        }
    }
}
