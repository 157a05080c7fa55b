#if Kafka
import CRdKafka
import StarlingCore
import Synchronization

/// The records of one ``KafkaEventLog/append(_:)``, waiting for librdkafka's delivery report of each.
///
/// Each record is produced with a pointer to its ``Slot`` as the message's opaque; the delivery-report callback
/// (``kafkaDeliveryCallback``, on the producer's delivery thread) finds the batch and the record's index there. The
/// batch keeps itself alive (one retain) until the last report has come, then resumes its waiter.
final class DeliveryBatch: Sendable {
    /// What a message's opaque points at.
    struct Slot {
        let batch: Unmanaged<DeliveryBatch>
        let index: Int
    }

    /// A record that was not acknowledged.
    struct Failure: Sendable {
        var index: Int
        var code: rd_kafka_resp_err_t
        var message: String
        /// Whether the broker may have written it anyway (a time-out after the request was sent).
        var possiblyPersisted: Bool
    }

    /// Every record's position, or the records that failed.
    enum Outcome: Sendable {
        case delivered([LogPosition])
        case failed([Failure], delivered: Int)
    }

    private struct State: Sendable {
        var positions: [LogPosition?]
        var failures: [Failure] = []
        var remaining: Int
        var continuation: CheckedContinuation<Outcome, Never>?
    }

    let topics: [String]
    private let state: Mutex<State>
    // Written once in `init`, read by the callback of each slot's record, freed in `deinit`.
    private nonisolated(unsafe) let slots: UnsafeMutablePointer<Slot>

    init(topics: [String]) {
        self.topics = topics
        self.state = Mutex(State(positions: Array(repeating: nil, count: topics.count), remaining: topics.count))
        self.slots = .allocate(capacity: topics.count)
    }

    deinit {
        self.slots.deinitialize(count: self.topics.count)
        self.slots.deallocate()
    }

    /// Retains the batch until its last record is reported, stores the waiter and hands out the records' opaques.
    ///
    /// Call once, before the first record is produced.
    func start(_ continuation: CheckedContinuation<Outcome, Never>) -> UnsafeMutablePointer<Slot> {
        self.state.withLock { $0.continuation = continuation }
        let retained = Unmanaged.passRetained(self)
        for index in self.topics.indices {
            (self.slots + index).initialize(to: Slot(batch: retained, index: index))
        }
        return self.slots
    }

    /// Records the outcome of record `index`; the last one resumes the waiter and releases the batch's retain.
    ///
    /// Called once per record: by the delivery report, or by the producing task for a record librdkafka refused.
    func report(index: Int, partition: Int32, offset: Int64, error: rd_kafka_resp_err_t, possiblyPersisted: Bool) {
        let resume = self.state.withLock { state -> (CheckedContinuation<Outcome, Never>, Outcome)? in
            if error == RD_KAFKA_RESP_ERR_NO_ERROR {
                state.positions[index] = LogPosition(
                    topicPartition: TopicPartition(topic: self.topics[index], partition: Int(partition)),
                    offset: offset
                )
            } else {
                state.failures.append(
                    Failure(
                        index: index,
                        code: error,
                        message: KafkaClient.describe(error),
                        possiblyPersisted: possiblyPersisted
                    )
                )
            }
            state.remaining -= 1
            guard state.remaining == 0, let continuation = state.continuation else { return nil }
            state.continuation = nil
            if state.failures.isEmpty {
                return (continuation, .delivered(state.positions.map { $0! }))
            }
            let failures = state.failures.sorted { $0.index < $1.index }
            return (continuation, .failed(failures, delivered: self.topics.count - failures.count))
        }
        if let (continuation, outcome) = resume {
            continuation.resume(returning: outcome)
            // Balances `start`: no callback touches the batch any more.
            self.slots.pointee.batch.release()
        }
    }
}

/// librdkafka's delivery report of one message (served by `rd_kafka_poll` on the producer's delivery thread).
let kafkaDeliveryCallback: @convention(c) (OpaquePointer?, UnsafePointer<rd_kafka_message_t>?, UnsafeMutableRawPointer?) -> Void = {
    _, message, _ in
    guard let message, let opaque = message.pointee._private else { return }
    let slot = opaque.assumingMemoryBound(to: DeliveryBatch.Slot.self).pointee
    // A strong reference for the duration of the call: the report of the last record releases the batch's own.
    let batch = slot.batch.takeUnretainedValue()
    batch.report(
        index: slot.index,
        partition: message.pointee.partition,
        offset: message.pointee.offset,
        error: message.pointee.err,
        possiblyPersisted: rd_kafka_message_status(message) != RD_KAFKA_MSG_STATUS_NOT_PERSISTED
    )
}
#endif
