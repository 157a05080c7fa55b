#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import StarlingCore
import StarlingFuzzing
import Testing

/// The bounded fuzzing every `swift test` runs: each decoder gets its checked-in seed corpus and a fixed number of
/// mutants of it (the same ones on every run). Longer runs: `STARLING_FUZZ_ITERATIONS=100000 swift test --filter
/// DecoderFuzzTests` (and `STARLING_FUZZ_SEED` for other mutants), or libFuzzer with `scripts/fuzz TARGET SECONDS`.
struct DecoderFuzzTests {
    static let targets = FuzzTargets.all.map(\.name)

    /// Mutants per target and run; the CI figure keeps the whole suite of them to a few seconds.
    static let ciIterations = 1_000
    static let iterations = environment("STARLING_FUZZ_ITERATIONS").flatMap { Int($0) } ?? ciIterations
    /// A run longer than CI's names its inputs as it goes (a trap leaves no report) and prints what it did.
    static var isLongRun: Bool { iterations > ciIterations }
    static let seed = environment("STARLING_FUZZ_SEED").flatMap { UInt64($0) } ?? 0x5EED

    @Test(arguments: targets)
    func checkedInSeedsAreValidSamples(target name: String) async throws {
        let target = try #require(FuzzTargets.named(name))
        let samples = try CheckedInCorpus.samples(of: name)

        #expect(samples.count >= 2, "Tests/FuzzCorpus/\(name) holds the seeds")
        for sample in samples {
            #expect(try await target.run(sample.bytes) == .accepted, "\(name)/\(sample.name) no longer decodes")
        }
    }

    /// The encoders still write what the decoders read (`scripts/fuzz --write-corpus` checks their samples in).
    @Test func generatedSeedsAreValidSamples() async throws {
        let corpus = try await SeedCorpus.generate()

        #expect(Set(corpus.keys) == Set(Self.targets))
        for (name, samples) in corpus {
            let target = try #require(FuzzTargets.named(name))
            for sample in samples {
                #expect(try await target.run(sample.bytes) == .accepted, "\(name)/\(sample.name) does not decode")
            }
        }
    }

    @Test(arguments: targets)
    func mutantsAreRejectedOrUsableNeverATrap(target name: String) async throws {
        let target = try #require(FuzzTargets.named(name))
        let seeds = try CheckedInCorpus.samples(of: name).map(\.bytes)
        // A trap ends the process: the file then holds the input that caused it.
        let current = "/tmp/starling-fuzz-\(name).current"
        if Self.isLongRun { print("Fuzzing \(name): each input is written to \(current) before it runs") }

        let report = await MutationRun(target: target, seeds: seeds).run(
            iterations: Self.iterations,
            seed: Self.seed,
            currentInputPath: Self.isLongRun ? current : nil
        )

        for (input, finding) in report.findings {
            Issue.record("\(name): \(finding) for input (base64) \(Self.base64(input))")
        }
        #expect(report.executions == Self.iterations)
        // Mutants that all fail at the first byte would test nothing: some must get through.
        #expect(report.accepted > 0 && report.rejected > 0, "\(name): \(report.accepted) accepted, \(report.rejected) rejected")
        if Self.isLongRun {
            print("Fuzzed \(name): \(report.executions) inputs, \(report.accepted) accepted, \(report.rejected) rejected")
        }
    }

    static func environment(_ name: String) -> String? {
        getenv(name).map { String(cString: $0) }
    }

    static func base64(_ bytes: [UInt8]) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
        var out: [UInt8] = []
        for chunk in stride(from: 0, to: bytes.count, by: 3) {
            let b = bytes[chunk..<min(bytes.count, chunk + 3)]
            let n = b.enumerated().reduce(0) { $0 | Int($1.element) << (16 - 8 * $1.offset) }
            for k in 0..<4 {
                out.append(k <= b.count ? alphabet[(n >> (18 - 6 * k)) & 63] : UInt8(ascii: "="))
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
