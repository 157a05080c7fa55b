import ArgumentParser
import Foundation
import StarlingCore
import StarlingEvaluation
import StarlingModels

/// `starling eval`: offline evaluation of the recommenders on a MovieLens ratings file.
struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Evaluate the recommenders offline on a MovieLens ratings file.",
        discussion: """
            prequential: replay the ratings in time order; before learning each positive rating, ask for the \
            user's top 10 and score the rated item (HR@10, NDCG@10, means over the second half of the stream), \
            and time the whole replay (events/s). temporal: learn the first 80% of the ratings by time, then score \
            each test user's top 20 against their positive ratings in the last 20% (HR@10, NDCG@10, Recall@20, \
            Coverage@10), over all test users, the warm ones (at least one training event) and the cold ones (none) \
            (column users). The column n is how many queries the means are over: positive ratings (prequential) or \
            test users (temporal). Each source is evaluated on a fresh recommender per protocol; for meaningful \
            events/s, build with -c release. With --through-api or --url the same protocols drive a server through \
            its public HTTP API (see those options).
            """
    )

    @Argument(help: "The ratings: a RecBole atomic .inter file or GroupLens's u.data.")
    var path: String

    @Option(
        name: .customLong("protocol"),
        help: ArgumentHelp("The evaluation protocol.", valueName: "prequential|temporal|both")
    )
    var evaluationProtocol = "both"

    @Option(
        name: .customLong("source"),
        help: ArgumentHelp(
            "A recommendation source to evaluate; repeat for several (default: all registered: \(Self.registeredNames.joined(separator: ", "))).",
            valueName: "name"
        )
    )
    var sources: [String] = []

    @Option(name: .customLong("json"), help: ArgumentHelp("Also write the results as JSON to this file.", valueName: "path"))
    var jsonPath: String?

    @Option(name: .customLong("positive-threshold"), help: "The smallest rating that counts as positive.")
    var positiveThreshold = 4.0

    @Option(
        name: .customLong("model"),
        help: ArgumentHelp("Change a model setting of the engine's sources (repeatable).", valueName: "key=value")
    )
    var modelSettings: [String] = []

    @Option(
        name: .customLong("retrain-every"),
        help: ArgumentHelp(
            "Fully retrain the engine's embeddings every N events (inline), as the background retrain does live: BPR epochs, or an iALS refit with --model trainer=ials.",
            valueName: "N"
        )
    )
    var retrainEvery: Int?

    @Option(name: .customLong("limit"), help: ArgumentHelp("Use only the first N events by time.", valueName: "N"))
    var limit: Int?

    @OptionGroup(title: "Through the API")
    var api: ThroughAPIOptions

    func validate() throws {
        guard ["prequential", "temporal", "both"].contains(self.evaluationProtocol) else {
            throw ValidationError(
                "--protocol must be prequential, temporal or both, found '\(self.evaluationProtocol)'"
            )
        }
        for name in self.sources where Self.factories[name] == nil {
            throw ValidationError(
                "unknown source '\(name)'; the registered sources are \(Self.registeredNames.joined(separator: ", "))"
            )
        }
        guard self.positiveThreshold.isFinite else { throw ValidationError("--positive-threshold must be a number") }
        if let limit = self.limit, limit < 1 { throw ValidationError("--limit must be at least 1") }
        _ = try self.engineConfiguration()
        try self.validateThroughAPI()
    }

    func run() throws {
        if let jsonPath = self.jsonPath {
            let directory = URL(fileURLWithPath: jsonPath).deletingLastPathComponent().path
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue
            else {
                throw EvalError("cannot write --json \(jsonPath): the directory \(directory) does not exist")
            }
        }
        let clock = ContinuousClock()
        let started = clock.now
        var events = try MovieLensReader.read(path: self.path)
        if let limit = self.limit, limit < events.count { events = Array(events.prefix(limit)) }
        let users = Set(events.map(\.user)).count
        let items = Set(events.compactMap(\.item)).count
        Self.note(
            "read \(events.count) events (\(users) users, \(items) items) from \(self.path) in \(Self.seconds(clock.now - started))"
        )
        if self.api.isEnabled { return try self.runThroughAPI(events: events) }

        var names: [String] = []
        for name in self.sources.isEmpty ? Self.registeredNames : self.sources where !names.contains(name) {
            names.append(name)
        }
        var selected: [(source: RecommendationSource, make: @Sendable () -> any Recommender)] = []
        for name in names {
            let source = RecommendationSource(name)
            let configuration = try self.engineConfiguration()
            let make: @Sendable () -> any Recommender
            if Self.engineSources.contains(name), let interval = self.retrainEvery {
                make = { RetrainingEngine(engine: RecommendationEngine(configuration: configuration), interval: interval) }
            } else if Self.engineSources.contains(name) {
                make = { RecommendationEngine(configuration: configuration) }
            } else {
                make = Self.factories[name]!
            }
            guard make().sources.contains(source) else {
                throw EvalError("the recommender registered for '\(name)' does not answer from source '\(name)'")
            }
            selected.append((source, make))
        }

        var rows: [EvaluationRow] = []
        if self.evaluationProtocol != "temporal" {
            let evaluation = PrequentialEvaluation(configuration: .init(positiveThreshold: self.positiveThreshold))
            for (source, make) in selected {
                rows.append(
                    evaluation.run(events: events, source: source, makeRecommender: make) { progress in
                        Self.note(
                            "prequential \(source): \(progress.percent)% (\(progress.processed)/\(progress.total) events, \(Int(progress.eventsPerSecond)) events/s)"
                        )
                    }
                )
            }
        }
        if self.evaluationProtocol != "prequential" {
            let evaluation = TemporalEvaluation(configuration: .init(positiveThreshold: self.positiveThreshold))
            for (source, make) in selected {
                let start = clock.now
                rows += evaluation.runByUsers(events: events, source: source, makeRecommender: make)
                Self.note("temporal \(source): done in \(Self.seconds(clock.now - start))")
            }
        }

        print(EvaluationRow.table(rows), terminator: "")
        try self.writeJSON(rows)
    }

    /// Writes `rows` to `--json`, when given.
    func writeJSON(_ rows: [EvaluationRow]) throws {
        guard let jsonPath = self.jsonPath else { return }
        do {
            try EvaluationRow.writeJSON(rows, toFile: jsonPath)
        } catch {
            throw EvalError("cannot write --json \(jsonPath): \(error.localizedDescription)")
        }
        Self.note("wrote \(jsonPath)")
    }

    /// `duration` as seconds with two decimals, for example `1.25 s`.
    static func seconds(_ duration: Duration) -> String {
        String(format: "%.2f s", duration.fractionalSeconds)
    }

    /// Writes a line to standard error (progress and notes; the results go to standard output).
    static func note(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }
}

// MARK: - The recommenders `starling eval` knows

extension Eval {
    /// Source name → a factory for a fresh recommender that answers from that source.
    ///
    /// Each evaluation run (one protocol, one source) gets its own fresh instance, so timings are per source.
    /// The recommender a factory makes must list the source in its `sources`.
    /// The engine configuration with every `--model` setting applied.
    func engineConfiguration() throws -> RecommendationEngine.Configuration {
        do {
            return try RecommendationEngine.Configuration(settings: self.modelSettings)
        } catch {
            throw ValidationError("--model: \(error.description)")
        }
    }

    /// Sources answered by the production engine (configured by `--model`).
    static let engineSources: Set<String> = ["blend", "embedding", "cooccurrence", "trending", "segment"]

    static let factories: [String: @Sendable () -> any Recommender] = [
        RecommendationSource.popularity.name: { PopularityRecommender() },

        // The production engine, once per source it answers from (each run gets a fresh engine). Its own
        // `.popularity` source is not registered: the name belongs to the baseline above.
        RecommendationSource.blend.name: { RecommendationEngine() },
        RecommendationSource.embedding.name: { RecommendationEngine() },
        RecommendationSource.cooccurrence.name: { RecommendationEngine() },
        RecommendationSource.trending.name: { RecommendationEngine() },
        RecommendationSource.segment.name: { RecommendationEngine() },
    ]

    /// The registered source names, in the order results are reported (the engine's sources first, then the rest
    /// by name).
    static var registeredNames: [String] {
        let preferred = [
            RecommendationSource.blend, .embedding, .cooccurrence, .trending, .segment, .popularity,
        ].map(\.name)
        return Self.factories.keys.sorted { lhs, rhs in
            let left = preferred.firstIndex(of: lhs) ?? preferred.count
            let right = preferred.firstIndex(of: rhs) ?? preferred.count
            return left != right ? left < right : lhs < rhs
        }
    }
}

/// A failure of `starling eval` that is not about its arguments.
struct EvalError: Error, CustomStringConvertible {
    var description: String

    init(_ description: String) {
        self.description = description
    }
}
