import ArgumentParser

@main
struct StarlingCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "starling",
        abstract: "Starling: real-time personalized recommendations.",
        subcommands: [Serve.self, Demo.self, Eval.self, Keys.self, KafkaMock.self],
        defaultSubcommand: nil
    )
}
