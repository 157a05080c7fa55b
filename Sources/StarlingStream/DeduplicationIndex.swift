public import StarlingCore

/// The event ids already accepted, so that a retried event is acknowledged again but never applied twice.
///
/// Ingest *reserves* an id before appending (atomically: two concurrent requests with one id cannot both win) and
/// *releases* it if the append fails. The stream processor marks ids *applied*; only applied ids go into
/// checkpoints, so an id whose append never became durable can never block its client's retry after a crash.
/// Ids older than the retention window (server time) are forgotten.
public final class DeduplicationIndex: Sendable {
    fileprivate enum State: UInt8, Sendable {
        case reserved
        case applied
    }

    fileprivate struct Entry: Sendable {
        var state: State
        var time: Int64
    }

    private let shards: [LockedBox<[String: Entry]>]
    /// How long ids are remembered, in milliseconds.
    public let retentionMilliseconds: Int64

    /// Creates an empty index.
    ///
    /// - Parameter retention: How long an id is remembered after it was accepted. Defaults to 24 hours.
    public init(retention: Duration = .seconds(24 * 3_600)) {
        self.shards = (0..<32).map { _ in LockedBox([:]) }
        self.retentionMilliseconds = retention.wholeMilliseconds
    }

    private func shard(_ id: String) -> LockedBox<[String: Entry]> {
        self.shards[StableHash.partition(for: id, count: self.shards.count)]
    }

    /// Reserves `id` for an event about to be appended.
    ///
    /// - Returns: `false` when the id was already reserved or applied: the event is a duplicate.
    public func reserve(_ id: String, at time: EventTime) -> Bool {
        self.shard(id).withLock { entries in
            if entries[id] != nil { return false }
            entries[id] = Entry(state: .reserved, time: time.milliseconds)
            return true
        }
    }

    /// Forgets a reservation whose append failed.
    public func release(_ id: String) {
        self.shard(id).withLock { entries in
            if entries[id]?.state == .reserved { entries[id] = nil }
        }
    }

    /// Marks `id` applied by the processor.
    ///
    /// - Returns: `false` when it was already applied: the event must be skipped.
    public func markApplied(_ id: String, at time: EventTime) -> Bool {
        self.shard(id).withLock { entries in
            if entries[id]?.state == .applied { return false }
            entries[id] = Entry(state: .applied, time: time.milliseconds)
            return true
        }
    }

    /// Whether `id` is known.
    public func contains(_ id: String) -> Bool {
        self.shard(id).withLock { $0[id] != nil }
    }

    /// A point-in-time copy of the index, cheap to take (the shards are copied on write).
    public struct Snapshot: Sendable {
        fileprivate let shards: [[String: Entry]]

        /// The applied ids and their times, for a checkpoint.
        public func appliedIDs() -> [(id: String, time: Int64)] {
            var result: [(id: String, time: Int64)] = []
            for entries in self.shards {
                for (id, entry) in entries where entry.state == .applied { result.append((id, entry.time)) }
            }
            return result
        }
    }

    /// Takes a ``Snapshot``. The stream processor takes it between events so that it matches its positions.
    public func snapshot() -> Snapshot {
        Snapshot(shards: self.shards.map(\.value))
    }

    /// Restores applied ids from a checkpoint.
    public func restore(_ ids: [(id: String, time: Int64)]) {
        for (id, time) in ids {
            self.shard(id).withLock { $0[id] = Entry(state: .applied, time: time) }
        }
    }

    /// Forgets ids accepted before `now` minus the retention window.
    public func prune(now: EventTime) {
        let cutoff = now.milliseconds - self.retentionMilliseconds
        for shard in self.shards {
            shard.withLock { entries in
                if entries.values.contains(where: { $0.time < cutoff }) {
                    entries = entries.filter { $0.value.time >= cutoff }
                }
            }
        }
    }

    /// The number of remembered ids.
    public var count: Int {
        self.shards.reduce(0) { $0 + $1.withLock { $0.count } }
    }
}
