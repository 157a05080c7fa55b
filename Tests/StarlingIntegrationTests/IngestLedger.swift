import Foundation
import StarlingCore
import Synchronization

/// Batches of events with ids, sent by concurrent clients, and what the server answered each: the ledger the
/// exactly-once checks of the staged faults compare the server's per-user `event_count` with.
final class IngestLedger: Sendable {
    struct Batch: Sendable {
        var body: String
        /// The user of each event.
        var users: [String]
    }

    enum Outcome: Sendable, Equatable {
        case inFlight
        case acknowledged
        /// Answered with an error (or not at all): nothing of it counts until a retry is acknowledged.
        case refused
    }

    private let entries = Mutex<[(batch: Batch, outcome: Outcome)]>([])

    /// A batch of `size` events of distinct ids (`{prefix}-{client}-{sequence}-{k}`), by users picked from `users`.
    static func batch(prefix: String, client: Int, sequence: Int, size: Int, users: [String]) -> Batch {
        var picked: [String] = []
        var events: [String] = []
        for k in 0..<size {
            let user = users[(client * 7 + sequence * 3 + k) % users.count]
            picked.append(user)
            events.append(
                #"{"type":"view","user":"\#(user)","item":"item-\#((sequence + k) % 50)","id":"\#(prefix)-\#(client)-\#(sequence)-\#(k)"}"#
            )
        }
        return Batch(body: "{\"events\":[\(events.joined(separator: ","))]}", users: picked)
    }

    /// Records a batch about to be sent; returns its index.
    func sent(_ batch: Batch) -> Int {
        self.entries.withLock { entries in
            entries.append((batch, .inFlight))
            return entries.count - 1
        }
    }

    func answered(_ index: Int, acknowledged: Bool) {
        self.entries.withLock { $0[index].outcome = acknowledged ? .acknowledged : .refused }
    }

    func count(_ outcome: Outcome) -> Int {
        self.entries.withLock { $0.count(where: { $0.outcome == outcome }) }
    }

    /// The batches with an outcome, with their indexes.
    func batches(_ outcome: Outcome) -> [(index: Int, batch: Batch)] {
        self.entries.withLock { entries in
            entries.indices.filter { entries[$0].outcome == outcome }.map { ($0, entries[$0].batch) }
        }
    }

    /// Events per user over every batch sent.
    var sentPerUser: [String: Int] {
        self.entries.withLock { entries in
            var counts: [String: Int] = [:]
            for (batch, _) in entries { for user in batch.users { counts[user, default: 0] += 1 } }
            return counts
        }
    }
}

/// Polls `condition` every 20 ms until it holds; throws after `timeout`. Returns how long it took.
@discardableResult
func waitUntil(
    _ what: String,
    timeout: Duration,
    _ condition: () async throws -> Bool
) async throws -> Duration {
    let started = ContinuousClock.now
    while ContinuousClock.now - started < timeout {
        if try await condition() { return ContinuousClock.now - started }
        try await Task.sleep(for: .milliseconds(20))
    }
    throw ServerError("timed out after \(timeout) waiting for \(what)")
}

/// A value a test's concurrent tasks share.
final class Shared<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>

    init(_ value: Value) {
        self.mutex = Mutex(value)
    }

    func withLock<R: Sendable>(_ body: (inout Value) -> R) -> R {
        self.mutex.withLock { body(&$0) }
    }

    var value: Value {
        self.mutex.withLock { $0 }
    }
}
