import ArgumentParser
import Foundation
import StarlingCore

/// Writes synthetic events as request bodies, for loading a running server with curl or wrk.
struct GenerateBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Print synthetic events as {\"events\": [...]} bodies, one per line (NDJSON of batches)."
    )

    @Option(help: "Number of batches.")
    var batches = 100
    @Option(help: "Events per batch.")
    var batch = 100
    @Option(help: "Distinct users.")
    var users = 10_000
    @Option(help: "Distinct items.")
    var items = 5_000
    @Option(help: "Random seed.")
    var seed: UInt64 = 7
    @Option(help: "Zipf exponent of item popularity (lower spreads events over more items).")
    var zipf = 1.0

    func run() throws {
        var traffic = SyntheticTraffic(seed: self.seed, users: self.users, items: self.items, exponent: self.zipf)
        let base = EventTime.now().milliseconds - Int64(self.batches * self.batch)
        for b in 0..<self.batches {
            var events: [String] = []
            for j in 0..<self.batch {
                let event = traffic.event(at: EventTime(milliseconds: base + Int64(b * self.batch + j)))
                var fields = [
                    "\"type\":\"\(event.type.name)\"", "\"user\":\"\(event.user)\"", "\"item\":\"\(event.item!)\"",
                    "\"session\":\"\(event.session!)\"", "\"timestamp\":\(event.timestamp.milliseconds)",
                ]
                if let value = event.value { fields.append("\"value\":\(value)") }
                events.append("{" + fields.joined(separator: ",") + "}")
            }
            print("{\"events\":[" + events.joined(separator: ",") + "]}")
        }
    }
}
