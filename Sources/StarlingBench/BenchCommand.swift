import ArgumentParser

@main
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "starling-bench",
        abstract: "Benchmarks of Starling's components. Build with -c release; see docs/benchmarks.md.",
        subcommands: [LogBench.self, FreshnessBench.self, GenerateBench.self, EngineBench.self]
    )
}
