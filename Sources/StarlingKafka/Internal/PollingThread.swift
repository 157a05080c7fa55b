#if Kafka
import CRdKafka
import Foundation
import Synchronization

/// The producer's delivery thread: serves the client's queue with `rd_kafka_poll`, which runs the delivery-report
/// and error callbacks, until stopped.
///
/// `rd_kafka_poll` returns as soon as an event is served, so a delivery report reaches its waiting append at once;
/// the 100 ms time-out only bounds how long ``stop()`` waits.
final class PollingThread: Sendable {
    private struct State: Sendable {
        var stopping = false
        var finished = false
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    private let state = Mutex(State())

    init(name: String, client: KafkaClient) {
        let thread = Thread { [self] in
            while !self.state.withLock({ $0.stopping }) {
                rd_kafka_poll(client.handle, 100)
            }
            let waiters = self.state.withLock { state in
                state.finished = true
                return state.waiters
            }
            for waiter in waiters { waiter.resume() }
        }
        thread.name = name
        thread.start()
    }

    /// Stops the thread and waits until it has served its last event.
    func stop() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let finished = self.state.withLock { state in
                state.stopping = true
                if !state.finished { state.waiters.append(continuation) }
                return state.finished
            }
            if finished { continuation.resume() }
        }
    }
}
#endif
