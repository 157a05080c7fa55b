import ArgumentParser

/// The options of `starling serve` that say where the HTTP server listens.
struct ListenOptions: ParsableArguments {
    @Option(help: "The address to listen on.")
    var host = "127.0.0.1"

    @Option(help: "The port to listen on.")
    var port = 8080

    @Option(
        name: .customLong("idle-timeout-seconds"),
        help: "Close a connection on which nothing was read for this many seconds."
    )
    var idleTimeoutSeconds = 60.0

    @Option(
        name: .customLong("max-connections"),
        help: "The most connections open at once; more wait in the listen backlog."
    )
    var maxConnections = 4_096

    func validate() throws {
        guard (1...65_535).contains(self.port) else { throw ValidationError("--port must be from 1 to 65535") }
        guard self.idleTimeoutSeconds > 0 else { throw ValidationError("--idle-timeout-seconds must be positive") }
        guard self.maxConnections > 0 else { throw ValidationError("--max-connections must be positive") }
    }
}
