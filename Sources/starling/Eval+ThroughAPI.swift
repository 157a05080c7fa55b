import ArgumentParser
import Foundation
import StarlingCore
import StarlingEvaluation
import StarlingModels

/// `starling eval --through-api | --url`: the same protocols, driven through a server's public HTTP API.
extension Eval {
    /// Evaluates the blend through the API of a server: one this binary starts per protocol (fresh, empty), or the
    /// running one at `--url` (one protocol). Prints the table and, after it, what the replay saw of freshness:
    /// lists behind the user's acknowledged events (by `profile_version`) and lists the server marked stale.
    func runThroughAPI(events: [Event]) throws {
        let protocols = self.evaluationProtocol == "both" ? ["prequential", "temporal"] : [self.evaluationProtocol]
        let serverArguments = self.modelSettings.flatMap { ["--model", $0] } + self.api.serverArguments
        let clock = ContinuousClock()
        var rows: [EvaluationRow] = []
        var summaries: [String] = []
        for name in protocols {
            let server = try self.api.url == nil ? LocalServer.start(arguments: serverArguments) : nil
            defer { server?.stop() }
            let url = self.api.url ?? server!.url
            Self.note(
                server == nil
                    ? "through the API of \(url)"
                    : "through the API of a server started on \(url): starling serve \(serverArguments.joined(separator: " "))"
            )
            let recommender: APIRecommender
            do {
                recommender = try APIRecommender(url: url)
            } catch {
                throw EvalError("cannot reach the server: \(error)")
            }
            let start = clock.now
            let row: EvaluationRow
            if name == "prequential" {
                let evaluation = PrequentialEvaluation(configuration: .init(positiveThreshold: self.positiveThreshold))
                row = evaluation.run(events: events, source: .blend, makeRecommender: { recommender }) { progress in
                    let report = recommender.report
                    guard report.failure == nil else { return }  // nothing is sent after a failure
                    Self.note(
                        "prequential through the API: \(progress.percent)% (\(progress.processed)/\(progress.total) events, \(Int(progress.eventsPerSecond)) events/s, \(report.listsBehind) of \(report.listsAsked) lists behind)"
                    )
                }
            } else {
                let evaluation = TemporalEvaluation(configuration: .init(positiveThreshold: self.positiveThreshold))
                row = evaluation.run(events: events, source: .blend, makeRecommender: { recommender })
            }
            let elapsed = clock.now - start
            let report = recommender.report
            if let failure = report.failure {
                throw EvalError("\(name) through the API failed after \(report.eventsPosted) events: \(failure)")
            }
            rows.append(row)
            summaries.append(Self.summary(name, report, elapsed: elapsed))
            Self.note("\(name) through the API: done in \(Self.seconds(elapsed))")
        }

        print(EvaluationRow.table(rows), terminator: "")
        for line in summaries { print(line) }
        try self.writeJSON(rows)
    }

    /// Checks the options that do not apply through the API: sources other than the blend, `--retrain-every`, and
    /// both protocols against one `--url` server.
    func validateThroughAPI() throws {
        guard self.api.isEnabled else { return }
        let unsupported = self.sources.filter { $0 != RecommendationSource.blend.name }
        guard unsupported.isEmpty else {
            throw ValidationError(
                "the API serves the blend only; --source \(unsupported.joined(separator: ", ")) cannot be evaluated through it"
            )
        }
        guard self.retrainEvery == nil else {
            throw ValidationError(
                "--retrain-every retrains in process; a server retrains on its own schedule (--server-arg=--retrain-minutes=N)"
            )
        }
        if self.api.url != nil, self.evaluationProtocol == "both" {
            throw ValidationError(
                "--url evaluates one protocol on a server that holds no events yet: add --protocol prequential or --protocol temporal"
            )
        }
    }

    /// One line of what a replay through the API saw.
    static func summary(_ name: String, _ report: APIRecommender.Report, elapsed: Duration) -> String {
        let marked =
            report.listsWithMarker == 0
            ? "no response carried a freshness marker"
            : "\(report.listsMarkedStale) marked stale by the server (\(report.listsWithMarker) carried a marker)"
        return
            "\(name) through the API: \(report.eventsPosted) events posted, \(report.listsAsked) lists asked in \(Self.seconds(elapsed)); \(report.listsBehind) lists behind the user's acknowledged events (profile_version); \(marked)"
    }
}
