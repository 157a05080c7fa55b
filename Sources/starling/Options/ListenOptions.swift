import ArgumentParser

/// The options of `starling serve` that say where the HTTP server listens.
struct ListenOptions: ParsableArguments {
    @Option(help: "The address to listen on.")
    var host = "127.0.0.1"

    @Option(help: "The port to listen on.")
    var port = 8080

    func validate() throws {
        guard (1...65_535).contains(self.port) else { throw ValidationError("--port must be from 1 to 65535") }
    }
}
