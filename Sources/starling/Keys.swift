public import ArgumentParser
import Foundation
import StarlingHTTP

/// `starling keys`: making API keys.
struct Keys: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Make API keys for `starling serve --api-keys`.",
        subcommands: [Create.self]
    )

    /// `starling keys create`: a new random key, added (as its SHA-256) to a key file.
    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create an API key: adds its SHA-256 to the key file and prints the key, once.",
            discussion: """
                A publishable key may only send events, from the origins given with --origin (browsers) or from apps; \
                a secret key reads users' data and recommendations and administers. The file is created (mode 600) \
                when missing; the key itself is stored nowhere, so keep what this prints.
                """
        )

        @Option(help: "publishable or secret.")
        var kind: APIKeyKind

        @Option(help: "A name for the key, shown in logs and errors.")
        var name: String

        @Option(name: .customLong("origin"), help: "An origin whose pages may send a publishable key. Repeatable.")
        var origins: [String] = []

        @Option(name: .customLong("rate-limit"), help: "A publishable key's requests per second.")
        var rateLimit: Double = APIKey.RateLimit.publishableDefault.perSecond

        @Option(help: "A publishable key's burst (requests at once after a quiet period).")
        var burst: Int = APIKey.RateLimit.publishableDefault.burst

        @Option(help: "The key file to add the key to.")
        var file: String

        func validate() throws {
            if self.kind == .secret, !self.origins.isEmpty {
                throw ValidationError("--origin is for publishable keys: a secret key is not sent from browsers")
            }
            guard self.rateLimit > 0, self.burst >= 1 else {
                throw ValidationError("--rate-limit must be positive and --burst at least 1")
            }
        }

        func run() throws {
            var keys: [APIKey] = []
            if FileManager.default.fileExists(atPath: self.file) {
                guard let data = FileManager.default.contents(atPath: self.file) else {
                    throw ValidationError("cannot read \(self.file)")
                }
                keys = try APIKeys(json: data).all
            }
            let secret = APIKeys.generate(kind: self.kind)
            keys.append(
                APIKey(
                    name: self.name,
                    kind: self.kind,
                    sha256: APIKeys.sha256(of: secret),
                    origins: self.origins,
                    rateLimit: .init(perSecond: self.rateLimit, burst: self.burst)
                )
            )
            let document = try APIKeys(keys).json()
            guard FileManager.default.createFile(
                atPath: self.file,
                contents: document,
                attributes: [.posixPermissions: 0o600]
            ) else {
                throw ValidationError("cannot write \(self.file)")
            }
            print(secret)
        }
    }
}

extension APIKeyKind: ExpressibleByArgument {}
