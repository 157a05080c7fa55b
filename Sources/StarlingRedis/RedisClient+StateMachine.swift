extension RedisClient {
    /// The client's connection state: which connection commands use, whether one is being opened, and when the
    /// next attempt may start after a failure.
    ///
    /// A plain value kept behind the client's lock. Each event returns an action that the client carries out after
    /// releasing the lock. Generic over the connection and the pending-connection handle so that it is tested
    /// without I/O.
    struct StateMachine<Connection: Sendable, PendingConnection: Sendable>: Sendable {
        enum State: Sendable {
            /// No connection. After `failures` consecutive failed attempts, none starts before `retryAt`.
            case disconnected(failures: Int, retryAt: ContinuousClock.Instant?, lastError: RedisError?)
            /// Attempt `attempt` is opening a connection; commands wait on `pending`.
            case connecting(attempt: Int, failures: Int, pending: PendingConnection)
            /// Commands use `connection`, opened by attempt `attempt`.
            case connected(attempt: Int, connection: Connection)
            /// ``RedisClient/close()`` was called.
            case closed
        }

        enum AcquireAction: Sendable {
            /// Send the command on this connection.
            case execute(Connection)
            /// Open a connection for attempt `attempt`, complete `pending` with it, and send the command on it.
            case connect(attempt: Int, pending: PendingConnection)
            /// Wait (up to the command's deadline) for another caller's attempt to complete `pending`.
            case waitForConnection(PendingConnection)
            /// Fail the command at once.
            case fail(RedisError)
        }

        enum ConnectSucceededAction: Sendable {
            /// Hand the connection to the commands waiting on the pending connection.
            case resumeWaiters
            /// The client was closed meanwhile: close the new connection and fail the waiters.
            case closeConnection
        }

        enum CloseAction: Sendable {
            case none
            /// Close the open connection, failing its in-flight commands.
            case closeConnection(Connection)
            /// Fail the commands waiting for the attempt in progress (its connection is closed when it completes).
            case failPendingConnection(PendingConnection)
        }

        private(set) var state: State = .disconnected(failures: 0, retryAt: nil, lastError: nil)
        private var attempts = 0
        /// `host:port`, for messages.
        let endpoint: String
        let minimumBackoff: Duration
        let maximumBackoff: Duration

        init(endpoint: String, minimumBackoff: Duration = .milliseconds(50), maximumBackoff: Duration) {
            self.endpoint = endpoint
            self.maximumBackoff = maximumBackoff
            self.minimumBackoff = min(minimumBackoff, maximumBackoff)
        }

        /// A command wants a connection.
        ///
        /// - Parameters:
        ///   - now: The current time.
        ///   - makePending: Makes the handle waiters wait on; called only when a new attempt starts.
        mutating func acquire(now: ContinuousClock.Instant, makePending: () -> PendingConnection) -> AcquireAction {
            switch self.state {
            case .connected(_, let connection):
                return .execute(connection)
            case .connecting(_, _, let pending):
                return .waitForConnection(pending)
            case .closed:
                return .fail(.closed("the Redis client for \(self.endpoint) is closed"))
            case .disconnected(let failures, let retryAt, let lastError):
                if let retryAt, now < retryAt {
                    let wait = Self.milliseconds(retryAt - now)
                    let reason = lastError.map { ": \($0.message)" } ?? ""
                    return .fail(
                        .unavailable("Redis at \(self.endpoint) is unavailable\(reason); next attempt in \(wait)")
                    )
                }
                self.attempts += 1
                let pending = makePending()
                self.state = .connecting(attempt: self.attempts, failures: failures, pending: pending)
                return .connect(attempt: self.attempts, pending: pending)
            }
        }

        /// Attempt `attempt` opened `connection`.
        mutating func connectSucceeded(attempt: Int, connection: Connection) -> ConnectSucceededAction {
            switch self.state {
            case .connecting(attempt, _, _):
                self.state = .connected(attempt: attempt, connection: connection)
                return .resumeWaiters
            case .closed:
                return .closeConnection
            case .disconnected, .connecting, .connected:
                // Not reachable: only the current attempt completes, once. Keep the state and drop the stray one.
                return .closeConnection
            }
        }

        /// Attempt `attempt` failed with `error` (already phrased as ``RedisError/unavailable``).
        mutating func connectFailed(attempt: Int, error: RedisError, now: ContinuousClock.Instant) {
            guard case .connecting(attempt, let previousFailures, _) = self.state else { return }
            let failures = previousFailures + 1
            self.state = .disconnected(
                failures: failures,
                retryAt: now + self.backoff(failures: failures),
                lastError: error
            )
        }

        /// The connection opened by attempt `attempt` closed. The next command reconnects at once.
        mutating func connectionClosed(attempt: Int) {
            guard case .connected(attempt, _) = self.state else { return }
            self.state = .disconnected(failures: 0, retryAt: nil, lastError: nil)
        }

        /// ``RedisClient/close()`` was called.
        mutating func close() -> CloseAction {
            let previous = self.state
            self.state = .closed
            switch previous {
            case .connected(_, let connection): return .closeConnection(connection)
            case .connecting(_, _, let pending): return .failPendingConnection(pending)
            case .disconnected, .closed: return .none
            }
        }

        /// How long to wait before the next attempt after `failures` consecutive failures (1 or more).
        func backoff(failures: Int) -> Duration {
            var wait = self.minimumBackoff
            for _ in 1..<min(max(failures, 1), 64) {
                wait *= 2
                if wait >= self.maximumBackoff { return self.maximumBackoff }
            }
            return min(wait, self.maximumBackoff)
        }

        private static func milliseconds(_ duration: Duration) -> String {
            let (seconds, attoseconds) = duration.components
            return "\(seconds * 1000 + attoseconds / 1_000_000_000_000_000) ms"
        }
    }
}
