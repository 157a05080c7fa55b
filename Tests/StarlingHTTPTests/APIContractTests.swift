import Foundation
import HTTPTypes
import HummingbirdTesting
import StarlingCore
import Testing

/// What `docs/openapi.yaml` promises for every request, including those no route takes.
struct APIContractTests {
    @Test(arguments: [
        (HTTPRequest.Method.get, "/v1/nowhere"),
        (.patch, "/v1/items/dune"),
        (.get, "/v1/users/"),
        (.post, "/health"),
    ])
    func aPathOrMethodWithoutARouteIsAJSON404NamingIt(method: HTTPRequest.Method, path: String) async throws {
        try await APIFixture().run { client, _ in
            let response = try await client.execute(uri: path, method: method)
            #expect(response.status == .notFound)
            #expect(response.headers[.contentType] == "application/json")
            let message = try #require(try response.json["error"]?.string)
            #expect(message.hasPrefix("no route for \(method) \(path):"))
        }
    }
}
