import ArgumentParser

/// The options of `starling eval` that evaluate a server through its public HTTP API instead of in process.
struct ThroughAPIOptions: ParsableArguments {
    @Flag(
        name: .customLong("through-api"),
        help: """
            Evaluate through the public HTTP API: start `starling serve` (this binary) on a free loopback port with \
            a temporary --data-dir and default settings (plus --model and --server-arg), post every event with its \
            id and timestamp, ask lists as a client would, and stop the server at the end; a fresh server per \
            protocol. Only the blend is served.
            """
    )
    var throughAPI = false

    @Option(
        name: .customLong("url"),
        help: ArgumentHelp(
            "Evaluate through the API of this already running server instead (it must hold no events yet; one protocol per server).",
            valueName: "http://host:port"
        )
    )
    var url: String?

    @Option(
        name: .customLong("server-arg"),
        parsing: .unconditionalSingleValue,
        help: ArgumentHelp(
            "An extra argument for the server --through-api starts (repeatable), for example --server-arg=--cache-ttl-seconds=0.",
            valueName: "argument"
        )
    )
    var serverArguments: [String] = []

    /// Whether evaluation goes through the API.
    var isEnabled: Bool { self.throughAPI || self.url != nil }

    func validate() throws {
        if self.url != nil, self.throughAPI {
            throw ValidationError("--url evaluates a running server and --through-api starts one: give only one of them")
        }
        if self.url != nil, !self.serverArguments.isEmpty {
            throw ValidationError("--server-arg configures the server --through-api starts; with --url the server is already running")
        }
        if !self.isEnabled, !self.serverArguments.isEmpty {
            throw ValidationError("--server-arg needs --through-api")
        }
        if let url = self.url {
            guard url.hasPrefix("http://") else {
                throw ValidationError("--url must be http://host:port, found '\(url)'")
            }
        }
    }
}
