#if Kafka
import Foundation

/// A thread of its own that runs blocking librdkafka calls one after another, so that they never hold one of the
/// few threads of Swift's cooperative pool.
///
/// ```swift
/// let worker = BlockingWorker(name: "starling-kafka-admin")
/// let metadata = try await worker.run { try fetchMetadata(client) }
/// worker.stop()
/// ```
final class BlockingWorker: @unchecked Sendable {
    // @unchecked: `jobs` and `stopping` are only touched with `condition` locked.
    private let condition = NSCondition()
    private var jobs: [@Sendable () -> Void] = []
    private var stopping = false

    init(name: String) {
        let thread = Thread { [self] in self.loop() }
        thread.name = name
        thread.start()
    }

    /// Runs `work` on the worker's thread after the work queued before it, and returns its result.
    ///
    /// - Throws: What `work` throws, or `CancellationError` when the worker was stopped before it could run.
    func run<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            let queued = self.submit {
                continuation.resume(with: Result { try work() })
            }
            if !queued { continuation.resume(throwing: CancellationError()) }
        }
    }

    /// Queues `job`; `false` when the worker has been stopped (the job will not run).
    @discardableResult
    func submit(_ job: @escaping @Sendable () -> Void) -> Bool {
        self.condition.lock()
        defer { self.condition.unlock() }
        guard !self.stopping else { return false }
        self.jobs.append(job)
        self.condition.signal()
        return true
    }

    /// Lets the thread end once the jobs queued so far have run; later submissions are refused.
    func stop() {
        self.condition.lock()
        self.stopping = true
        self.condition.signal()
        self.condition.unlock()
    }

    private func loop() {
        while true {
            self.condition.lock()
            while self.jobs.isEmpty && !self.stopping { self.condition.wait() }
            if self.jobs.isEmpty {
                self.condition.unlock()
                return
            }
            let job = self.jobs.removeFirst()
            self.condition.unlock()
            job()
        }
    }
}
#endif
