import ArgumentParser
import Foundation
import StarlingHTTP

/// The options of `starling serve` that say who may call the API: API keys, CORS origins, `/metrics` protection.
struct SecurityOptions: ParsableArguments {
    /// The environment variable that may hold the key document instead of a file.
    static let environmentVariable = "STARLING_API_KEYS"

    @Option(
        name: .customLong("api-keys"),
        help: ArgumentHelp(
            "A JSON file of API keys (their SHA-256 only; `starling keys create` makes them). Or set \(Self.environmentVariable) to the document. Without keys every route is open.",
            valueName: "file"
        )
    )
    var apiKeysFile: String?

    @Option(
        name: .customLong("cors-origin"),
        help: ArgumentHelp(
            "An origin (scheme://host[:port]) whose pages may call the API from a browser, besides the publishable keys' origins. Repeatable.",
            valueName: "origin"
        )
    )
    var corsOrigins: [String] = []

    @Flag(name: .customLong("protect-metrics"), help: "GET /metrics needs a secret key.")
    var protectMetrics = false

    @Flag(
        name: .customLong("insecure-no-auth"),
        help: "Listen on an address other than loopback without API keys (anyone who can reach it can read and administer everything)."
    )
    var insecureNoAuth = false

    func validate() throws {
        for origin in self.corsOrigins where origin != "*" && !(origin.hasPrefix("http://") || origin.hasPrefix("https://")) {
            throw ValidationError("--cors-origin must be scheme://host[:port] or *, found '\(origin)'")
        }
    }

    /// The security settings: keys from the file or the environment.
    func security(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> HTTPSecurity {
        let fromEnvironment = environment[Self.environmentVariable].flatMap { $0.isEmpty ? nil : $0 }
        let keys: APIKeys
        switch (self.apiKeysFile, fromEnvironment) {
        case (.some, .some):
            throw ValidationError("give API keys by --api-keys or \(Self.environmentVariable), not both")
        case (.some(let path), .none):
            guard let data = FileManager.default.contents(atPath: path) else {
                throw ValidationError("--api-keys: cannot read \(path)")
            }
            do { keys = try APIKeys(json: data) } catch { throw ValidationError("--api-keys \(path): \(error)") }
        case (.none, .some(let document)):
            do { keys = try APIKeys(json: Data(document.utf8)) } catch {
                throw ValidationError("\(Self.environmentVariable): \(error)")
            }
        case (.none, .none):
            keys = .none
        }
        return HTTPSecurity(keys: keys, corsOrigins: self.corsOrigins, protectMetrics: self.protectMetrics)
    }
}
