import Foundation
public import Logging
import Metrics
public import ServiceLifecycle
public import StarlingCore
public import StarlingModels

/// Fully retrains the engine's embeddings from the log in the background and hot-swaps them in.
///
/// A retrain (on schedule, or on demand through ``requestRetrain()``):
/// 1. marks the live engine so that it records the embedding updates it learns from now on, and takes a copy of
///    it together with the processor's positions;
/// 2. reads every retained event up to those positions with its own consumer (group `starling-retrain`);
/// 3. trains fresh embeddings on a dedicated thread with the trainer the engine is configured for
///    (``RecommendationEngine/factorTrainer(_:)``: shuffled BPR epochs, or a batch iALS refit, over every interaction);
/// 4. installs them under the engine's write lock — a few milliseconds — replaying the recorded updates on top (with
///    iALS, folding in again the users and items they touched), and bumps the model version.
///
/// Ingest and serving continue throughout; only the final install takes the engine's lock. A retrain holds every
/// retained event in memory only in compact form (``RecommendationEngine/TrainingEvent``, 24 bytes each), and an
/// on-demand request within ``Configuration/minimumInterval`` of the previous retrain's end is refused, so clients
/// cannot keep the machine retraining.
public final class ModelRetrainer<Log: EventLog>: Service {
    /// Configuration of a ``ModelRetrainer``.
    public struct Configuration: Sendable {
        /// Time between scheduled retrains; `nil` retrains only on demand. Defaults to 1 hour.
        public var interval: Duration?
        /// The trainer's settings.
        public var trainer: FactorTrainer.Configuration
        /// The least time from the end of one retrain to the start of an on-demand one. Defaults to 1 minute.
        public var minimumInterval: Duration

        public init(
            interval: Duration? = .seconds(3_600),
            trainer: FactorTrainer.Configuration = .init(),
            minimumInterval: Duration = .seconds(60)
        ) {
            self.interval = interval
            self.trainer = trainer
            self.minimumInterval = minimumInterval
        }
    }

    /// What the retrainer is doing and has done.
    public struct Status: Sendable {
        public var running = false
        public var completed = 0
        public var lastDuration: Duration?
        public var lastInteractions = 0
        public var lastError: String?
        /// A request is waiting for the retrain task to pick it up.
        var requested = false
        /// When the latest retrain ended, successfully or not.
        var lastFinished: ContinuousClock.Instant?
    }

    public let configuration: Configuration
    private let log: Log
    private let processor: StreamProcessor<Log>
    private let logger: Logger
    private let state = LockedBox(Status())
    private let requests: AsyncStream<Void>
    private let requestContinuation: AsyncStream<Void>.Continuation
    private let duration = Timer(label: "starling_retrain_duration_seconds")
    private let version = Gauge(label: "starling_model_version")
    private let succeeded = Counter(label: "starling_retrains_total", dimensions: [("result", "success")])
    private let failed = Counter(label: "starling_retrains_total", dimensions: [("result", "failure")])
    private let lastSuccess = Gauge(label: "starling_retrain_last_success_timestamp_seconds")

    public init(log: Log, processor: StreamProcessor<Log>, configuration: Configuration = .init(), logger: Logger) {
        self.log = log
        self.processor = processor
        self.configuration = configuration
        self.logger = logger
        (self.requests, self.requestContinuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// The current status.
    public var status: Status {
        self.state.value
    }

    /// Asks for a retrain as soon as possible; refused while one is running or waiting to run, and within
    /// ``Configuration/minimumInterval`` of the end of the previous one.
    @discardableResult
    public func requestRetrain() -> RetrainRequestOutcome {
        let now = ContinuousClock.now
        let outcome = self.state.withLock { status -> RetrainRequestOutcome in
            if status.running || status.requested { return .alreadyRunning }
            if let last = status.lastFinished, now - last < self.configuration.minimumInterval {
                return .tooSoon(retryAfter: self.configuration.minimumInterval - (now - last))
            }
            status.requested = true
            return .started
        }
        if case .started = outcome { self.requestContinuation.yield() }
        return outcome
    }

    public func run() async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            if let interval = self.configuration.interval {
                group.addTask {
                    while !Task.isCancelled {
                        try await Task.sleep(for: interval)
                        self.requestRetrain()
                    }
                }
            }
            group.addTask {
                for await _ in self.requests.cancelOnGracefulShutdown() {
                    await self.retrain()
                }
            }
            try await gracefulShutdown()
            self.requestContinuation.finish()
            group.cancelAll()
        }
    }

    /// Runs one retrain now (used by ``run()`` and by tests).
    public func retrain() async {
        guard self.state.withLock({ status -> Bool in
            status.requested = false
            if status.running { return false }
            status.running = true
            return true
        }) else { return }
        let started = ContinuousClock.now
        let snapshot = self.processor.engine.write { engine -> RecommendationEngine in
            engine.beginRetrain()
            return engine
        }
        let positions = self.processor.positions
        do {
            let events = try await self.readEvents(upTo: positions, engine: snapshot)
            let interactions = snapshot.interactions(from: events)
            let trainer = snapshot.factorTrainer(self.configuration.trainer)
            let (userCount, itemCount) = (snapshot.userCount, snapshot.itemCount)
            let trained = await Self.onThread {
                trainer.train(interactions, userCount: userCount, itemCount: itemCount)
            }
            guard let trained else { throw CancellationError() }
            let modelVersion = self.processor.engine.write { engine -> UInt64 in
                engine.install(trained)
                return engine.modelVersion
            }
            let elapsed = ContinuousClock.now - started
            self.duration.recordNanoseconds(elapsed.wholeNanoseconds)
            self.version.record(Double(modelVersion))
            self.succeeded.increment()
            self.lastSuccess.record(Date().timeIntervalSince1970)
            self.state.withLock {
                $0.running = false
                $0.lastFinished = .now
                $0.completed += 1
                $0.lastDuration = elapsed
                $0.lastInteractions = interactions.count
                $0.lastError = nil
            }
            self.logger.info(
                "Installed retrained embeddings",
                metadata: [
                    "starling.model.version": "\(modelVersion)",
                    "starling.model.interactions": "\(interactions.count)",
                    "starling.model.seconds": "\(elapsed)",
                ]
            )
        } catch {
            self.processor.engine.write { $0.cancelRetrain() }
            // A retrain cut short by shutdown did not fail.
            if !(error is CancellationError) { self.failed.increment() }
            self.state.withLock {
                $0.running = false
                $0.lastFinished = .now
                $0.lastError = "\(error)"
            }
            self.logger.error("Retrain failed", metadata: ["starling.model.error": "\(error)"])
        }
    }

    /// Every retained event before `positions` that `engine` can learn from, in compact form, sorted by event time.
    private func readEvents(
        upTo positions: [TopicPartition: Int64],
        engine: RecommendationEngine
    ) async throws -> [RecommendationEngine.TrainingEvent] {
        let consumer = try await self.log.makeConsumer(group: "starling-retrain", topics: self.log.topics)
        var start: [TopicPartition: Int64] = [:]
        for tp in consumer.assignment { start[tp] = 0 }
        try await consumer.seek(to: start)
        var events: [RecommendationEngine.TrainingEvent] = []
        func done() -> Bool {
            let current = consumer.positions()
            return consumer.assignment.allSatisfy { (current[$0] ?? 0) >= (positions[$0] ?? 0) }
        }
        while !done() {
            try Task.checkCancellation()
            for record in try await consumer.poll(maxRecords: 8_192)
            where record.offset < (positions[record.topicPartition] ?? 0) {
                if let event = try? Event(decoding: record.payload), let compact = engine.trainingEvent(event) {
                    events.append(compact)
                }
            }
        }
        events.sort { $0.timestamp < $1.timestamp }
        return events
    }

    /// Runs CPU-heavy work on a dedicated thread, off Swift's cooperative pool.
    private static func onThread<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            let thread = Thread {
                continuation.resume(returning: work())
            }
            thread.name = "starling-retrain"
            thread.start()
        }
    }
}

/// The answer to ``ModelRetrainer/requestRetrain()``.
public enum RetrainRequestOutcome: Sendable, Equatable {
    /// The retrain will start as soon as the retrainer picks it up.
    case started
    /// A retrain is running or about to; this request adds nothing.
    case alreadyRunning
    /// The previous retrain ended less than the minimum interval ago; ask again after `retryAfter`.
    case tooSoon(retryAfter: Duration)
}
