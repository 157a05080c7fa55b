import Metrics
import StarlingCore

/// Ingest's metrics: `starling_ingest_events_total` by event type and result, and
/// `starling_ingest_rejected_events_total` by reason.
///
/// Event types are those of the ``EventSchema`` (a validated event has one of them) and reasons a fixed set, so
/// neither can grow with what clients send. A rejected event is counted with `type="unknown"`: the field at fault
/// may be its type.
struct IngestMetrics: Sendable {
    /// What happened to one event of a batch.
    enum Result: String, Sendable {
        case accepted
        case duplicate
        case rejected
    }

    /// The fields a rejection can name; any other (a repeated unknown member) is counted as `other`.
    static let reasons: Set<String> = ["type", "user", "item", "session", "id", "timestamp", "value", "context"]

    private struct Key: Hashable, Sendable {
        var type: String
        var result: Result
    }

    private let events = LockedBox<[Key: Counter]>([:])
    private let rejections = LockedBox<[String: Counter]>([:])

    init() {}

    /// Counts one batch's outcome: per type, the events accepted and the duplicates; the rejections by reason.
    func record(accepted: [EventType: Int], duplicates: [EventType: Int], rejected: [EventValidationError]) {
        for (type, count) in accepted { self.counter(type.name, .accepted).increment(by: count) }
        for (type, count) in duplicates { self.counter(type.name, .duplicate).increment(by: count) }
        guard !rejected.isEmpty else { return }
        self.counter("unknown", .rejected).increment(by: rejected.count)
        var byReason: [String: Int] = [:]
        for error in rejected { byReason[Self.reason(of: error), default: 0] += 1 }
        for (reason, count) in byReason { self.rejection(reason).increment(by: count) }
    }

    /// The `reason` dimension of a rejection: the field at fault, `malformed` when the event as a whole is (not an
    /// object, or an NDJSON line that does not parse), `other` for a field outside the event model.
    static func reason(of error: EventValidationError) -> String {
        guard let field = error.field else { return "malformed" }
        return Self.reasons.contains(field) ? field : "other"
    }

    private func counter(_ type: String, _ result: Result) -> Counter {
        let key = Key(type: type, result: result)
        return self.events.withLock { counters in
            if let counter = counters[key] { return counter }
            let counter = Counter(
                label: "starling_ingest_events_total",
                dimensions: [("type", type), ("result", result.rawValue)]
            )
            counters[key] = counter
            return counter
        }
    }

    private func rejection(_ reason: String) -> Counter {
        self.rejections.withLock { counters in
            if let counter = counters[reason] { return counter }
            let counter = Counter(label: "starling_ingest_rejected_events_total", dimensions: [("reason", reason)])
            counters[reason] = counter
            return counter
        }
    }
}
