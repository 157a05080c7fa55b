import StarlingCore

/// Flow control between ingest and the stream processor, so that sustained ingest cannot outrun learning.
///
/// Acknowledging events faster than the processor applies them only moves the backlog into the log: every list
/// served meanwhile is stale (read-your-writes waits time out) and the lag grows without bound. So ingest asks
/// ``admit()`` before appending a batch: while the processor is at most ``Configuration/maxLag`` records behind, the
/// answer is immediate; otherwise the request waits (without a thread, in arrival order) until the processor has caught
/// up enough for its events, for at most ``Configuration/timeout``, and is then refused (HTTP 503 with `Retry-After`). Clients that batch and
/// retry (the SDKs) slow down to what the processor sustains; the lag, and with it freshness, stays bounded.
///
/// A waiting request holds its events in memory, so at most ``Configuration/maxWaiting`` events wait at once: a batch
/// that would go beyond is refused at once (one batch may always wait). Under sustained overload, memory then stays
/// bounded by that, not by the number of clients times the time they wait.
///
/// The processor calls ``advanced()`` after every batch it applies; waiting requests are resumed there.
public final class ProcessingBacklog: Sendable {
    /// Configuration of a ``ProcessingBacklog``.
    public struct Configuration: Sendable {
        /// The most records the processor may be behind the log when a batch is admitted. Defaults to 5,000: below
        /// the processor's `readyMaxLag` (10,000), so that flow control holds the lag where `/ready` stays up, and
        /// above its poll batch (2,048), so that the processor never idles for want of records.
        public var maxLag: Int64
        /// How long a batch waits for the processor to catch up before it is refused. Defaults to 2 seconds.
        public var timeout: Duration
        /// The most events that may wait at once; a batch that would go beyond is refused without waiting (one batch
        /// may always wait). Defaults to four times ``maxLag`` (20,000).
        public var maxWaiting: Int64

        public init(maxLag: Int64 = 5_000, timeout: Duration = .seconds(2), maxWaiting: Int64? = nil) {
            precondition(maxLag > 0, "maxLag must be positive")
            precondition((maxWaiting ?? 1) > 0, "maxWaiting must be positive")
            self.maxLag = maxLag
            self.timeout = timeout
            self.maxWaiting = maxWaiting ?? 4 * maxLag
        }
    }

    private struct Waiter {
        var events: Int64
        var continuation: CheckedContinuation<Bool, Never>
        /// Ends the wait at its bound; cancelled when the processor resumes the wait first.
        var timeout: Task<Void, Never>?
    }

    private struct State {
        /// Keyed by arrival order.
        var waiters: [UInt64: Waiter] = [:]
        var nextWaiter: UInt64 = 0
        /// Events of the batches waiting (counted from the moment a batch is let in to wait).
        var waitingEvents: Int64 = 0
    }

    public let configuration: Configuration
    /// The processor's current lag in records.
    public let lag: @Sendable () -> Int64
    private let state = LockedBox(State())
    private let sleep: @Sendable (Duration) async -> Void

    /// - Parameters:
    ///   - lag: The processor's current lag in records (``StreamProcessor/lag()``).
    ///   - sleep: How a wait's timeout elapses (tests may inject a clock); defaults to `Task.sleep`.
    public init(
        configuration: Configuration = .init(),
        lag: @escaping @Sendable () -> Int64,
        sleep: (@Sendable (Duration) async -> Void)? = nil
    ) {
        self.configuration = configuration
        self.lag = lag
        self.sleep = sleep ?? { try? await Task.sleep(for: $0) }
    }

    /// Requests waiting for the processor (for metrics and tests).
    public var waiting: Int {
        self.state.withLock { $0.waiters.count }
    }

    /// Events of the batches waiting (for metrics and tests).
    public var waitingEvents: Int64 {
        self.state.withLock { $0.waitingEvents }
    }

    /// Waits until the processor is far enough behind the limit for `events` more records (at least until it is
    /// within the limit), for at most ``Configuration/timeout``.
    ///
    /// - Returns: whether the batch may be appended (`false`: the processor did not catch up in time, or
    ///   ``Configuration/maxWaiting`` events were waiting already).
    public func admit(events: Int) async -> Bool {
        guard self.lag() > self.configuration.maxLag else { return true }
        let id = self.state.withLock { state -> UInt64? in
            guard state.waitingEvents == 0 || state.waitingEvents + Int64(events) <= self.configuration.maxWaiting else {
                return nil
            }
            state.waitingEvents += Int64(events)
            state.nextWaiter &+= 1
            return state.nextWaiter
        }
        guard let id else { return false }
        return await withCheckedContinuation { continuation in
            self.state.withLock {
                $0.waiters[id] = Waiter(events: Int64(events), continuation: continuation, timeout: nil)
            }
            // The processor may have caught up between the check and parking: look again now that it would see us.
            self.advanced()
            let timer = Task {
                await self.sleep(self.configuration.timeout)
                guard !Task.isCancelled else { return }
                self.resume(id, admitted: self.lag() <= self.configuration.maxLag)
            }
            let stillWaiting = self.state.withLock { state -> Bool in
                guard state.waiters[id] != nil else { return false }
                state.waiters[id]?.timeout = timer
                return true
            }
            if !stillWaiting { timer.cancel() }
        }
    }

    /// The processor applied a batch: resumes waiting requests, oldest first, as long as their events fit under the
    /// limit (the oldest always, once the lag is within it), so that a crowd of waiting batches does not overshoot it.
    public func advanced() {
        guard self.state.withLock({ !$0.waiters.isEmpty }) else { return }
        var room = self.configuration.maxLag - self.lag()
        guard room >= 0 else { return }
        let ready = self.state.withLock { state -> [Waiter] in
            var ready: [Waiter] = []
            for id in state.waiters.keys.sorted() {
                guard let waiter = state.waiters[id], ready.isEmpty || waiter.events <= room else { break }
                room -= waiter.events
                ready.append(waiter)
                state.waiters[id] = nil
                state.waitingEvents -= waiter.events
            }
            return ready
        }
        for waiter in ready {
            waiter.timeout?.cancel()
            waiter.continuation.resume(returning: true)
        }
    }

    private func resume(_ id: UInt64, admitted: Bool) {
        let removed = self.state.withLock { state -> Waiter? in
            guard let waiter = state.waiters.removeValue(forKey: id) else { return nil }
            state.waitingEvents -= waiter.events
            return waiter
        }
        guard let waiter = removed else { return }
        waiter.timeout?.cancel()
        waiter.continuation.resume(returning: admitted)
    }
}
