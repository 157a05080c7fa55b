import StarlingCore

/// Runs a target over mutants of its seed corpus: the fuzzing `swift test` does on every run, without libFuzzer.
///
/// A trap ends the process, so a long run can name the input it was on: with `currentInputPath`, each input is
/// written there before it runs (the file then holds the input of the crash).
package struct MutationRun {
    /// What one run did.
    package struct Report: Sendable {
        package var executions = 0
        package var accepted = 0
        package var rejected = 0
        /// Inputs whose decoded value broke a property the target checks.
        package var findings: [(input: [UInt8], finding: FuzzFinding)] = []
    }

    package let target: FuzzTarget
    package let seeds: [[UInt8]]

    package init(target: FuzzTarget, seeds: [[UInt8]]) {
        precondition(!seeds.isEmpty, "a mutation run needs at least one seed")
        self.target = target
        self.seeds = seeds
    }

    /// Runs `iterations` mutants derived with `seed`.
    package func run(iterations: Int, seed: UInt64, currentInputPath: String? = nil) async -> Report {
        var mutator = Mutator(seed: seed)
        var report = Report()
        for iteration in 0..<iterations {
            let base = self.seeds[iteration % self.seeds.count]
            let input = mutator.mutate(base, others: self.seeds)
            if let currentInputPath { try? FileIO.writeFileAtomically(currentInputPath, input, sync: false) }
            do {
                switch try await self.target.run(input) {
                case .accepted: report.accepted += 1
                case .rejected: report.rejected += 1
                }
            } catch {
                report.findings.append((input, error))
            }
            report.executions += 1
            // The targets do not suspend: yield now and then, so that a long run does not hold a thread of the
            // cooperative pool (two on a two-core machine) away from the tests running beside it.
            if iteration % 64 == 63 { await Task.yield() }
        }
        return report
    }
}

/// The checked-in seed corpus, `Tests/FuzzCorpus/<target>/<sample>`.
package enum CheckedInCorpus {
    /// The corpus folder of this checkout.
    package static let directory: String = {
        let file = "\(#filePath)"
        let tests = file.split(separator: "/", omittingEmptySubsequences: false).dropLast(2).joined(separator: "/")
        return "\(tests)/FuzzCorpus"
    }()

    /// Inputs that once crashed a target, `Tests/FuzzRegressions/<target>/<bug>` (see `DecoderRegressionTests`).
    package static let regressionsDirectory: String = {
        let corpus = Self.directory
        return String(corpus.dropLast("FuzzCorpus".count)) + "FuzzRegressions"
    }()

    /// The samples of `target`, by file name.
    package static func samples(of target: String) throws -> [(name: String, bytes: [UInt8])] {
        let folder = "\(self.directory)/\(target)"
        return try FileIO.listDirectory(folder).sorted().map { ($0, try FileIO.readFile("\(folder)/\($0)")) }
    }

    /// Replaces the samples of `target`.
    package static func write(_ samples: [(name: String, bytes: [UInt8])], of target: String) throws {
        let folder = "\(self.directory)/\(target)"
        try FileIO.makeDirectories(folder)
        for name in FileIO.listDirectory(folder) { FileIO.remove("\(folder)/\(name)") }
        for sample in samples { try FileIO.writeFileAtomically("\(folder)/\(sample.name)", sample.bytes, sync: false) }
    }
}
