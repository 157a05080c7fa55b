public import StarlingCore

/// The event ids already accepted, so that a retried event is acknowledged again but never applied twice.
///
/// Ingest *reserves* an id before appending (atomically: two concurrent requests with one id cannot both win),
/// *commits* it once the append is durable and *releases* it if the append fails. A request that meets an id
/// another request has reserved but not yet committed (a client's retry racing its own original) waits for that
/// outcome (``waitForOutcome(_:)``) instead of answering "duplicate" early: if the original fails, the retry appends
/// the event itself. The stream processor marks ids *applied*; only applied ids go into checkpoints, so an id whose
/// append never became durable can never block its client's retry after a crash. Ids older than the retention
/// window (server time) are forgotten, and so are the oldest applied ids beyond ``maxIDs``: memory is bounded however
/// fast ids arrive (about 90 bytes each), at the price that a retry arriving after its id was evicted is applied
/// again. Reserved and committed ids are never evicted.
public final class DeduplicationIndex: Sendable {
    fileprivate enum State: UInt8, Sendable {
        case reserved
        case committed
        case applied
    }

    fileprivate struct Entry: Sendable {
        var state: State
        var time: Int64
    }

    /// What ``reserve(_:at:)`` found.
    public enum Reservation: Sendable, Equatable {
        /// The caller holds the id now: append the event, then ``commit(_:)`` or ``release(_:)`` it.
        case reserved
        /// The id's event is durable already: acknowledge it as a duplicate.
        case duplicate
        /// Another request holds the id and its append has not finished: wait for the outcome, then reserve again.
        case inFlight
    }

    fileprivate struct Shard: Sendable {
        var entries: [String: Entry] = [:]
        /// Requests waiting for a reserved id's outcome.
        var waiters: [String: [CheckedContinuation<Void, Never>]] = [:]

        mutating func resumeWaiters(of id: String) -> [CheckedContinuation<Void, Never>] {
            self.waiters.removeValue(forKey: id) ?? []
        }
    }

    private let shards: [LockedBox<Shard>]
    /// How long ids are remembered, in milliseconds.
    public let retentionMilliseconds: Int64
    /// How many applied ids ``prune(now:)`` keeps at most (the newest).
    public let maxIDs: Int

    /// Creates an empty index.
    ///
    /// - Parameters:
    ///   - retention: How long an id is remembered after it was accepted. Defaults to 24 hours.
    ///   - maxIDs: How many ids are kept at most after each ``prune(now:)``; the oldest applied ids go first.
    ///     Defaults to 5,000,000 (about 450 MiB).
    public init(retention: Duration = .seconds(24 * 3_600), maxIDs: Int = 5_000_000) {
        precondition(maxIDs > 0, "maxIDs must be positive")
        self.shards = (0..<32).map { _ in LockedBox(Shard()) }
        self.retentionMilliseconds = retention.wholeMilliseconds
        self.maxIDs = maxIDs
    }

    private func shard(_ id: String) -> LockedBox<Shard> {
        self.shards[StableHash.partition(for: id, count: self.shards.count)]
    }

    /// Reserves `id` for an event about to be appended.
    public func reserve(_ id: String, at time: EventTime) -> Reservation {
        self.shard(id).withLock { shard in
            switch shard.entries[id]?.state {
            case nil:
                shard.entries[id] = Entry(state: .reserved, time: time.milliseconds)
                return .reserved
            case .reserved:
                return .inFlight
            case .committed, .applied:
                return .duplicate
            }
        }
    }

    /// Waits until `id` is no longer reserved: its append was committed, or released after failing.
    public func waitForOutcome(_ id: String) async {
        await withCheckedContinuation { continuation in
            let settled = self.shard(id).withLock { shard -> Bool in
                guard shard.entries[id]?.state == .reserved else { return true }
                shard.waiters[id, default: []].append(continuation)
                return false
            }
            if settled { continuation.resume() }
        }
    }

    /// Records that the event reserved under `id` is durable; requests waiting for it then see a duplicate.
    public func commit(_ id: String) {
        let waiters = self.shard(id).withLock { shard in
            if shard.entries[id]?.state == .reserved { shard.entries[id]?.state = .committed }
            return shard.resumeWaiters(of: id)
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Forgets a reservation whose append failed; requests waiting for it then reserve it themselves.
    public func release(_ id: String) {
        let waiters = self.shard(id).withLock { shard in
            if shard.entries[id]?.state == .reserved { shard.entries[id] = nil }
            return shard.resumeWaiters(of: id)
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Marks `id` applied by the processor.
    ///
    /// - Returns: `false` when it was already applied: the event must be skipped.
    public func markApplied(_ id: String, at time: EventTime) -> Bool {
        let (first, waiters) = self.shard(id).withLock { shard in
            if shard.entries[id]?.state == .applied { return (false, [CheckedContinuation<Void, Never>]()) }
            shard.entries[id] = Entry(state: .applied, time: time.milliseconds)
            return (true, shard.resumeWaiters(of: id))
        }
        for waiter in waiters { waiter.resume() }
        return first
    }

    /// Whether `id` is known.
    public func contains(_ id: String) -> Bool {
        self.shard(id).withLock { $0.entries[id] != nil }
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
        Snapshot(shards: self.shards.map { $0.withLock { $0.entries } })
    }

    /// Restores applied ids from a checkpoint.
    public func restore(_ ids: [(id: String, time: Int64)]) {
        for (id, time) in ids {
            self.shard(id).withLock { $0.entries[id] = Entry(state: .applied, time: time) }
        }
    }

    /// Forgets ids accepted before `now` minus the retention window.
    /// Forgets ids older than the retention window, then the oldest applied ids beyond ``maxIDs``; returns how many
    /// were evicted for the second reason (retries of those would be applied again).
    @discardableResult
    public func prune(now: EventTime) -> Int {
        let cutoff = now.milliseconds - self.retentionMilliseconds
        let perShard = max(1, self.maxIDs / self.shards.count)
        var evicted = 0
        for shard in self.shards {
            shard.withLock { shard in
                // Reserved ids stay: a request is still deciding them.
                if shard.entries.values.contains(where: { $0.time < cutoff && $0.state != .reserved }) {
                    shard.entries = shard.entries.filter { $0.value.time >= cutoff || $0.value.state == .reserved }
                }
                guard shard.entries.count > perShard else { return }
                // Only applied ids may go: a committed id's event is in the log but not applied yet.
                var applied = shard.entries.compactMap { $0.value.state == .applied ? ($0.key, $0.value.time) : nil }
                let excess = min(shard.entries.count - perShard, applied.count)
                guard excess > 0 else { return }
                applied.sort { $0.1 < $1.1 }
                for (id, _) in applied.prefix(excess) { shard.entries[id] = nil }
                evicted += excess
            }
        }
        return evicted
    }

    /// The number of remembered ids.
    public var count: Int {
        self.shards.reduce(0) { $0 + $1.withLock { $0.entries.count } }
    }
}
