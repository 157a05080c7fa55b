public import StarlingCore

/// Read-your-writes within one process: which acknowledged events of each user the processor has not yet made
/// visible, and a way for a request to wait until it has.
///
/// Ingest records, for every user of an acknowledged batch, the log position just past each of the user's records
/// (``acknowledged(_:at:)``), before the HTTP response is sent. The processor reports the positions it has made
/// visible (models learned, profile moved) after every write slice (``advance(to:)``). A request for a user's list
/// first calls ``waitUntilVisible(_:timeout:)``: it returns at once when nothing of the user is outstanding — the
/// common case, a hash look-up — and otherwise parks until the processor passes the user's marks or the timeout
/// expires.
///
/// Marks are kept per user only until the processor passes them: the processor drops the marks of the users of each
/// slice it makes visible (``advance(to:users:)``), so the table holds only the users with events in flight. Ingest
/// records a mark only if the processor has not already passed it, under the same shard lock the processor drops it
/// with, so no passed mark is left behind by the race between the two. A sweep at most once a second drops what
/// remains (the marks of records the processor skipped, such as duplicates).
public final class AcknowledgedEvents: AcknowledgementSink {
    /// Positions (next offset) a user's acknowledged records need the processor to reach.
    public typealias Marks = [TopicPartition: Int64]

    private struct Waiter {
        var marks: Marks
        var continuation: CheckedContinuation<Bool, Never>
        /// Ends the wait at its bound; cancelled when the processor resumes the wait first, so that no timer
        /// outlives its wait.
        var timeout: Task<Void, Never>?
    }

    private struct Visibility {
        var applied: Marks = [:]
        var waiters: [UInt64: Waiter] = [:]
        var nextWaiter: UInt64 = 0
        var lastSweep = ContinuousClock.now
    }

    private let shards: [LockedBox<[String: Marks]>]
    private let visibility = LockedBox(Visibility())
    private let sleep: @Sendable (Duration) async -> Void

    /// - Parameter sleep: How a wait's timeout elapses (tests may inject a clock); defaults to `Task.sleep`.
    public init(shardCount: Int = 16, sleep: (@Sendable (Duration) async -> Void)? = nil) {
        precondition(shardCount > 0, "shardCount must be positive")
        self.shards = (0..<shardCount).map { _ in LockedBox([:]) }
        self.sleep = sleep ?? { try? await Task.sleep(for: $0) }
    }

    private func shard(_ user: String) -> LockedBox<[String: Marks]> {
        self.shards[StableHash.partition(for: user, count: self.shards.count)]
    }

    // MARK: - Ingest side

    public func acknowledged(_ appends: [LogAppend], at positions: [LogPosition]) async {
        self.record(appends, at: positions)
    }

    /// Records the positions of acknowledged records (synchronously), except those the processor has already passed.
    public func record(_ appends: [LogAppend], at positions: [LogPosition]) {
        for (index, marks) in self.byShard(Self.marks(of: appends, at: positions), key: \.key) {
            self.shards[index].withLock { table in
                // Read under the shard lock: a processor that passed a mark before this read is seen here; one that
                // passes it after will find the mark when it drops its slice's users (it takes this lock).
                let applied = self.visibility.withLock { $0.applied }
                for (user, userMarks) in marks where !Self.covers(applied, userMarks) {
                    table[user, default: [:]].merge(userMarks) { max($0, $1) }
                }
            }
        }
    }

    /// `elements` grouped by the shard of their user (`key`), shards without any left out.
    private func byShard<Element>(_ elements: some Sequence<Element>, key: (Element) -> String) -> [(Int, [Element])] {
        var groups: [Int: [Element]] = [:]
        for element in elements {
            groups[StableHash.partition(for: key(element), count: self.shards.count), default: []].append(element)
        }
        return groups.map { ($0.key, $0.value) }
    }

    /// Per user (the records' key), the position just past their last record in each partition of the batch.
    public static func marks(of appends: [LogAppend], at positions: [LogPosition]) -> [String: Marks] {
        var marks: [String: Marks] = [:]
        for (append, position) in zip(appends, positions) {
            marks[append.key, default: [:]][position.topicPartition] = max(
                position.offset + 1,
                marks[append.key]?[position.topicPartition] ?? 0
            )
        }
        return marks
    }

    // MARK: - Processor side

    /// The processor has made every record before `positions` visible to serving: resumes the requests waiting
    /// for them, and drops the marks of `users` (those whose events it just applied) that it has passed.
    ///
    /// Dropping them here, a few per slice, keeps the table as small as the events in flight; a periodic sweep over
    /// a table holding a second of users instead stalled the processor for tens of milliseconds once a second.
    public func advance(to positions: Marks, users: some Sequence<String> = EmptyCollection()) {
        let (ready, sweep) = self.visibility.withLock { state -> ([Waiter], Marks?) in
            for (partition, next) in positions where next > state.applied[partition] ?? 0 {
                state.applied[partition] = next
            }
            var ready: [Waiter] = []
            for (id, waiter) in state.waiters where Self.covers(state.applied, waiter.marks) {
                ready.append(waiter)
                state.waiters[id] = nil
            }
            let now = ContinuousClock.now
            guard now - state.lastSweep >= .seconds(1) else { return (ready, nil) }
            state.lastSweep = now
            return (ready, state.applied)
        }
        for waiter in ready {
            waiter.timeout?.cancel()
            waiter.continuation.resume(returning: true)
        }
        self.drop(users)
        if let applied = sweep {
            for shard in self.shards {
                shard.withLock { marks in marks = marks.filter { !Self.covers(applied, $0.value) } }
            }
        }
    }

    /// Drops the marks of `users` that the applied positions cover.
    private func drop(_ users: some Sequence<String>) {
        let groups = self.byShard(users, key: { $0 })
        guard !groups.isEmpty else { return }
        let applied = self.visibility.withLock { $0.applied }
        for (index, users) in groups {
            self.shards[index].withLock { table in
                for user in users {
                    if let marks = table[user], Self.covers(applied, marks) { table[user] = nil }
                }
            }
        }
    }

    // MARK: - Serving side

    /// The marks of `user` the processor has not reached yet, or `nil` when everything acknowledged is visible.
    public func outstanding(_ user: String) -> Marks? {
        let shard = self.shard(user)
        guard let marks = shard.withLock({ $0[user] }) else { return nil }
        let applied = self.visibility.withLock { $0.applied }
        guard Self.covers(applied, marks) else { return marks }
        // Drop the user's marks unless newer ones arrived meanwhile.
        shard.withLock { table in
            if let current = table[user], Self.covers(applied, current) { table[user] = nil }
        }
        return nil
    }

    /// Waits until every event of `user` acknowledged before the call is visible to serving, for at most `timeout`.
    ///
    /// - Returns: whether it is (`false`: the timeout passed first).
    public func waitUntilVisible(_ user: String, timeout: Duration) async -> Bool {
        guard let marks = self.outstanding(user) else { return true }
        guard timeout > .zero else { return false }
        let id = self.visibility.withLock { state -> UInt64 in
            state.nextWaiter &+= 1
            return state.nextWaiter
        }
        return await withCheckedContinuation { continuation in
            let parked = self.visibility.withLock { state -> Bool in
                guard !Self.covers(state.applied, marks) else { return false }
                state.waiters[id] = Waiter(marks: marks, continuation: continuation, timeout: nil)
                return true
            }
            guard parked else {
                continuation.resume(returning: true)
                return
            }
            let timer = Task {
                await self.sleep(timeout)
                guard !Task.isCancelled else { return }
                let expired = self.visibility.withLock { $0.waiters.removeValue(forKey: id) }
                expired?.continuation.resume(returning: false)
            }
            // The processor may have resumed the wait meanwhile: then the timer has nothing left to end.
            let stillWaiting = self.visibility.withLock { state -> Bool in
                guard state.waiters[id] != nil else { return false }
                state.waiters[id]?.timeout = timer
                return true
            }
            if !stillWaiting { timer.cancel() }
        }
    }

    /// Users with outstanding marks (for tests and metrics).
    public var trackedUsers: Int {
        self.shards.reduce(0) { $0 + $1.withLock { $0.count } }
    }

    /// Whether `applied` reaches every mark.
    public static func covers(_ applied: Marks, _ marks: Marks) -> Bool {
        marks.allSatisfy { applied[$0.key] ?? 0 >= $0.value }
    }
}

/// Told about every batch ingest acknowledges, after it is durable and before the client hears of it.
public protocol AcknowledgementSink: Sendable {
    /// `appends` landed at `positions` (same order).
    func acknowledged(_ appends: [LogAppend], at positions: [LogPosition]) async
}
