import Testing

@testable import StarlingRedis

struct RedisClientStateMachineTests {
    typealias Machine = RedisClient.StateMachine<String, Int>

    let start = ContinuousClock.now

    func machine() -> Machine {
        Machine(endpoint: "127.0.0.1:6379", minimumBackoff: .milliseconds(50), maximumBackoff: .milliseconds(300))
    }

    @Test func firstCommandConnectsAndOthersWaitForTheSameAttempt() {
        var machine = self.machine()
        guard case .connect(let attempt, let pending) = machine.acquire(now: self.start, makePending: { 7 }) else {
            Issue.record("expected a connection attempt")
            return
        }
        #expect(pending == 7)
        guard case .waitForConnection(7) = machine.acquire(now: self.start, makePending: { 8 }) else {
            Issue.record("expected to wait for attempt \(attempt)")
            return
        }
        guard case .resumeWaiters = machine.connectSucceeded(attempt: attempt, connection: "c1") else {
            Issue.record("expected the waiters to be resumed")
            return
        }
        guard case .execute("c1") = machine.acquire(now: self.start, makePending: { 9 }) else {
            Issue.record("expected the open connection")
            return
        }
    }

    @Test func failedAttemptsFailFastDuringABackoffThatDoublesUpToTheMaximum() {
        var machine = self.machine()
        var now = self.start
        var waits: [Duration] = []
        for _ in 0..<5 {
            guard case .connect(let attempt, _) = machine.acquire(now: now, makePending: { 0 }) else {
                Issue.record("expected a connection attempt")
                return
            }
            machine.connectFailed(attempt: attempt, error: .unavailable("connection refused"), now: now)
            guard case .disconnected(_, let retryAt?, _) = machine.state else {
                Issue.record("expected a retry time")
                return
            }
            waits.append(retryAt - now)
            // Until then, commands fail at once with a message giving the cause.
            guard case .fail(let error) = machine.acquire(now: retryAt - .milliseconds(1), makePending: { 0 }) else {
                Issue.record("expected to fail fast while backing off")
                return
            }
            #expect(error == .unavailable)
            #expect(error.message.contains("connection refused"))
            #expect(error.message.contains("127.0.0.1:6379"))
            now = retryAt
        }
        #expect(
            waits == [
                .milliseconds(50), .milliseconds(100), .milliseconds(200), .milliseconds(300), .milliseconds(300),
            ]
        )
    }

    @Test func aDroppedConnectionIsReopenedAtOnceAndResetsTheBackoff() {
        var machine = self.machine()
        guard case .connect(let first, _) = machine.acquire(now: self.start, makePending: { 0 }) else { return }
        machine.connectFailed(attempt: first, error: .unavailable("refused"), now: self.start)
        let later = self.start + .seconds(1)
        guard case .connect(let second, _) = machine.acquire(now: later, makePending: { 0 }) else {
            Issue.record("expected a new attempt after the backoff")
            return
        }
        _ = machine.connectSucceeded(attempt: second, connection: "c2")
        machine.connectionClosed(attempt: second)
        guard case .connect(let third, _) = machine.acquire(now: later, makePending: { 0 }) else {
            Issue.record("expected an immediate reconnect")
            return
        }
        machine.connectFailed(attempt: third, error: .unavailable("refused"), now: later)
        guard case .disconnected(1, let retryAt?, _) = machine.state else {
            Issue.record("expected the failure count to restart at 1")
            return
        }
        #expect(retryAt - later == .milliseconds(50))
    }

    @Test func eventsOfAnOldAttemptAreIgnored() {
        var machine = self.machine()
        guard case .connect(let first, _) = machine.acquire(now: self.start, makePending: { 0 }) else { return }
        _ = machine.connectSucceeded(attempt: first, connection: "c1")
        machine.connectionClosed(attempt: first)
        guard case .connect(let second, _) = machine.acquire(now: self.start, makePending: { 0 }) else { return }
        _ = machine.connectSucceeded(attempt: second, connection: "c2")
        // A late close notification of the first connection must not drop the second.
        machine.connectionClosed(attempt: first)
        machine.connectFailed(attempt: first, error: .unavailable("late"), now: self.start)
        guard case .execute("c2") = machine.acquire(now: self.start, makePending: { 0 }) else {
            Issue.record("expected the second connection to stay in use")
            return
        }
    }

    @Test func closingFailsWaitersAndClosesALateConnection() {
        var machine = self.machine()
        guard case .connect(let attempt, _) = machine.acquire(now: self.start, makePending: { 3 }) else { return }
        guard case .failPendingConnection(3) = machine.close() else {
            Issue.record("expected the waiters to be failed")
            return
        }
        guard case .closeConnection = machine.connectSucceeded(attempt: attempt, connection: "late") else {
            Issue.record("expected the late connection to be closed")
            return
        }
        guard case .fail(let error) = machine.acquire(now: self.start, makePending: { 0 }) else {
            Issue.record("expected commands to fail after close")
            return
        }
        #expect(error == .closed)
        guard case .none = machine.close() else {
            Issue.record("expected a second close to do nothing")
            return
        }
    }

    @Test func closingClosesTheOpenConnection() {
        var machine = self.machine()
        guard case .connect(let attempt, _) = machine.acquire(now: self.start, makePending: { 0 }) else { return }
        _ = machine.connectSucceeded(attempt: attempt, connection: "c1")
        guard case .closeConnection("c1") = machine.close() else {
            Issue.record("expected the connection to be closed")
            return
        }
    }
}
