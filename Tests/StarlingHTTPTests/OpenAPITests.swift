import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import StarlingCore
import StarlingEventLog
import StarlingHTTP
import StarlingRedis
import StarlingServer
import Testing

/// `docs/openapi.yaml` describes the router exactly, and `GET /openapi.yaml` serves that file.
struct OpenAPITests {
    /// The repository's `docs/openapi.yaml`.
    static var documentPath: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("docs/openapi.yaml").path
    }

    @Test func theServedDocumentIsDocsOpenAPIYAML() async throws {
        let document = try String(contentsOfFile: Self.documentPath, encoding: .utf8)
        try await APIFixture().run { client, _ in
            let response = try await client.execute(uri: "/openapi.yaml", method: .get)
            #expect(response.status == .ok)
            #expect(response.headers[.contentType] == "application/yaml")
            let served = String(buffer: response.body)
            #expect(
                served == document,
                """
                the binary serves another document than docs/openapi.yaml (\(Self.firstDifference(served, document))): \
                run scripts/embed-openapi
                """
            )
        }
    }

    @Test func theRouterOfRoleAllHasExactlyTheDocumentedOperations() async throws {
        let documented = try Self.documentedOperations()
        #expect(documented.count >= 15, "docs/openapi.yaml: found only \(documented.sorted())")

        let routed = try await Self.routes(of: .all)

        #expect(routed.subtracting(documented).sorted() == [], "routes docs/openapi.yaml does not describe")
        #expect(documented.subtracting(routed).sorted() == [], "operations docs/openapi.yaml describes but no route has")
    }

    @Test(arguments: [ServerConfiguration.Role.processor, .api])
    func otherRolesRouteOnlyDocumentedOperations(role: ServerConfiguration.Role) async throws {
        let documented = try Self.documentedOperations()

        let routed = try await Self.routes(of: role)

        #expect(!routed.isEmpty)
        #expect(routed.subtracting(documented).sorted() == [], "routes docs/openapi.yaml does not describe")
    }

    /// Where two texts first differ, by line.
    static func firstDifference(_ served: String, _ document: String) -> String {
        let served = served.split(separator: "\n", omittingEmptySubsequences: false)
        let document = document.split(separator: "\n", omittingEmptySubsequences: false)
        func line(_ lines: [Substring], _ index: Int) -> String {
            index < lines.count ? "\"\(lines[index])\"" : "nothing"
        }
        for index in 0..<max(served.count, document.count) where line(served, index) != line(document, index) {
            return "line \(index + 1): served \(line(served, index)), file \(line(document, index))"
        }
        return "the same lines"
    }

    /// `METHOD /path` of every operation under `paths:` in `docs/openapi.yaml`.
    ///
    /// Reads the block layout the document keeps: a path is a key indented by two spaces, its operations keys
    /// indented by four.
    static func documentedOperations() throws -> Set<String> {
        let document = try String(contentsOfFile: Self.documentPath, encoding: .utf8)
        let methods: Set<Substring> = ["get", "put", "post", "delete", "patch", "head", "options", "trace"]
        var operations = Set<String>()
        var inPaths = false
        var path: Substring?
        for line in document.split(separator: "\n", omittingEmptySubsequences: false) {
            if !line.isEmpty, !line.hasPrefix(" "), !line.hasPrefix("#") {
                inPaths = line == "paths:"
                path = nil
                continue
            }
            guard inPaths, line.hasSuffix(":") else { continue }
            let key = line.dropLast()
            if key.hasPrefix("  /") {
                path = key.dropFirst(2)
            } else if key.hasPrefix("    "), !key.hasPrefix("     "), let path, methods.contains(key.dropFirst(4)) {
                operations.insert("\(key.dropFirst(4).uppercased()) \(path)")
            }
        }
        return operations
    }

    /// `METHOD /path` of every route the router of `role` registers, paths in OpenAPI's `{parameter}` form.
    static func routes(of role: ServerConfiguration.Role) async throws -> Set<String> {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("starling-openapi-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var configuration = APIFixture().configuration(directory: directory)
        configuration.role = role
        let logger = Logger(label: "starling.test")
        switch role {
        case .api:
            // Nothing connects to Redis before the role's services run.
            configuration.cluster.redis = RedisClient.Configuration()
            return Self.describe(
                buildRouter(try APIRole(configuration: configuration, metricsText: { "" }, logger: logger).components)
            )
        default:
            let built = try ProcessorRole(configuration: configuration, metricsText: { "" }, logger: logger)
            let routes = Self.describe(buildRouter(built.components))
            await built.log.close()
            return routes
        }
    }

    static func describe(_ router: Router<BasicRequestContext>) -> Set<String> {
        Set(router.routes.map { "\($0.method.rawValue) \($0.path.description)" })
    }
}
