public import Logging
import Metrics
public import ServiceLifecycle
public import StarlingCore
public import StarlingModels

/// Consumes every event topic and keeps profiles and models current, one event at a time.
///
/// On start it restores its latest ``Checkpoint`` and replays the log from the positions that checkpoint covers,
/// so a restart neither loses nor double-applies an event. It then follows the log, publishing a trending
/// snapshot after every polled batch, and checkpoints in the background at ``Configuration/checkpointInterval``
/// and on shutdown.
///
/// Freshness — the time from a record's append to its effect being visible to serving — is exported as the
/// histogram `starling_freshness_seconds`. It is measured from the moment the log accepted the append, so it
/// includes the durable write, and it is recorded after the profile update and the trending publish.
public final class StreamProcessor<Log: EventLog>: Service {
    /// Configuration of a ``StreamProcessor``.
    public struct Configuration: Sendable {
        /// The consumer group name. Defaults to `starling-processor`.
        public var group: String
        /// The most records applied between two publishes. Defaults to 2,048.
        public var pollBatch: Int
        /// How often state is checkpointed. Defaults to 30 seconds.
        public var checkpointInterval: Duration
        /// The recommendation engine's models and signals.
        public var engine: RecommendationEngine.Configuration
        /// The most events applied under one hold of the engine's write lock, so readers never wait long.
        /// Defaults to 256.
        public var writeSlice: Int
        /// `/ready` fails while the processor is more than this many records behind the log. Defaults to 10,000.
        public var readyMaxLag: Int64
        /// Flow control of ingest (see ``ProcessingBacklog``); `nil` turns it off. On by default.
        public var backlog: ProcessingBacklog.Configuration?

        public init(
            group: String = "starling-processor",
            pollBatch: Int = 2_048,
            checkpointInterval: Duration = .seconds(30),
            engine: RecommendationEngine.Configuration = .init(),
            writeSlice: Int = 256,
            readyMaxLag: Int64 = 10_000,
            backlog: ProcessingBacklog.Configuration? = .init()
        ) {
            self.group = group
            self.pollBatch = pollBatch
            self.checkpointInterval = checkpointInterval
            self.engine = engine
            self.writeSlice = writeSlice
            self.readyMaxLag = readyMaxLag
            self.backlog = backlog
        }
    }

    private struct Status: Sendable {
        var recovered = false
        var positions: [TopicPartition: Int64] = [:]
        var recoveryTarget: [TopicPartition: Int64] = [:]
        var applied: UInt64 = 0
        var checkpointAheadOfLog: [TopicPartition: Int64] = [:]
    }

    private struct CheckpointInput: Sendable {
        var positions: [TopicPartition: Int64]
        var engine: RecommendationEngine
        var ids: DeduplicationIndex.Snapshot
        var catalog: [CatalogItem]
    }

    public let configuration: Configuration
    private let log: Log
    /// The users' versioned profiles, kept in the engine's record of each user.
    public let profiles: EngineProfileStore
    /// The ids already applied.
    public let deduplication: DeduplicationIndex
    private let checkpoints: any CheckpointStore
    /// The latest trending snapshot.
    public let trending: SnapshotPublisher<TrendingSnapshot>
    /// The live recommendation engine, shared with serving.
    public let engine: EngineStore
    /// The item catalogue, rebuilt from the log's `catalog` topic.
    public let catalog: ItemCatalog
    private let status = LockedBox(Status())
    private let logger: Logger
    private let freshnessObserver: (@Sendable (Int64) -> Void)?
    private let onApplied: (@Sendable (Event) -> Void)?
    private let publisher: (any ServingStatePublisher)?
    /// Read-your-writes: told after every write slice which log positions serving can now see.
    public let acknowledgements: AcknowledgedEvents?
    /// Flow control: ingest asks it before appending, the processor resumes it after each batch.
    public let backlog: ProcessingBacklog?
    private let metrics = ProcessorMetrics()

    /// Creates a processor.
    ///
    /// - Parameters:
    ///   - log: The log to consume.
    ///   - deduplication: The id index shared with ingest.
    ///   - checkpoints: Where checkpoints are kept.
    ///   - configuration: Settings.
    ///   - logger: The logger for background messages.
    ///   - freshnessObserver: Called with each record's freshness in nanoseconds (for benchmarks).
    ///   - onApplied: Called with each event after the models learned it and the user's profile version moved
    ///     (used to queue the user's list for precomputing).
    ///   - publisher: Receives the changed users after each write slice and every catalogue change, for serving
    ///     processes elsewhere.
    ///   - acknowledgements: Advanced after each write slice to the log positions whose events serving now sees.
    public init(
        log: Log,
        deduplication: DeduplicationIndex,
        checkpoints: any CheckpointStore,
        catalog: ItemCatalog = ItemCatalog(),
        configuration: Configuration = .init(),
        logger: Logger,
        freshnessObserver: (@Sendable (Int64) -> Void)? = nil,
        onApplied: (@Sendable (Event) -> Void)? = nil,
        publisher: (any ServingStatePublisher)? = nil,
        acknowledgements: AcknowledgedEvents? = nil
    ) {
        self.acknowledgements = acknowledgements
        self.onApplied = onApplied
        self.publisher = publisher
        self.catalog = catalog
        self.log = log
        self.deduplication = deduplication
        self.checkpoints = checkpoints
        self.configuration = configuration
        self.trending = SnapshotPublisher(.empty)
        self.engine = EngineStore(RecommendationEngine(configuration: configuration.engine))
        self.profiles = EngineProfileStore(engine: self.engine)
        self.logger = logger
        self.freshnessObserver = freshnessObserver
        self.backlog = configuration.backlog.map { [log, status] configuration in
            ProcessingBacklog(configuration: configuration, lag: { Self.lag(of: log, at: status) })
        }
    }

    /// Whether the checkpoint was restored and the log replayed up to where it ended at start-up.
    public var isRecovered: Bool {
        self.status.withLock { $0.recovered }
    }

    /// The log positions (next offset to read) the processor has applied, per partition.
    public var positions: [TopicPartition: Int64] {
        self.status.withLock { $0.positions }
    }

    /// Records in the log not yet applied.
    public func lag() -> Int64 {
        Self.lag(of: self.log, at: self.status)
    }

    private static func lag(of log: Log, at status: LockedBox<Status>) -> Int64 {
        let ends = log.endOffsets()
        return status.withLock { status in
            ends.reduce(0) { $0 + max(0, $1.value - (status.positions[$1.key] ?? 0)) }
        }
    }

    /// Whether serving may rely on the processor: recovered and at most ``Configuration/readyMaxLag`` behind.
    public var isReady: Bool {
        self.isRecovered && self.lag() <= self.configuration.readyMaxLag
    }

    /// Per partition, how far the restored checkpoint's position lay beyond the end of the log at start-up (records
    /// the checkpoint had applied that the log no longer holds); empty when the checkpoint was within the log.
    /// The processor read those partitions from the log's end instead (see ``run()``).
    public var checkpointAheadOfLog: [TopicPartition: Int64] {
        self.status.withLock { $0.checkpointAheadOfLog }
    }

    /// Events applied since start.
    public var appliedCount: UInt64 {
        self.status.withLock { $0.applied }
    }

    public func run() async throws {
        try await self.restore()
        let consumer = try await self.log.makeConsumer(group: self.configuration.group, topics: self.log.topics)
        var positions = self.status.withLock { $0.positions }
        for tp in consumer.assignment where positions[tp] == nil { positions[tp] = 0 }
        // Read before anything can append (ingest stays closed until the processor has recovered).
        let target = self.log.endOffsets()
        let ahead = self.rewindCheckpointAheadOfLog(&positions, ends: target, assignment: consumer.assignment)
        try await consumer.seek(to: positions)
        positions = consumer.positions()
        self.status.withLock {
            $0.positions = positions
            $0.recoveryTarget = target
            $0.checkpointAheadOfLog = ahead
        }
        self.checkRecovered(positions)
        self.acknowledgements?.advance(to: positions)
        self.backlog?.advanced()
        self.logger.info(
            "Stream processor started",
            metadata: ["starling.processor.lag": "\(self.lag())", "starling.processor.profiles": "\(self.profiles.count)"]
        )

        let (checkpointStream, checkpointContinuation) = AsyncStream.makeStream(
            of: CheckpointInput.self,
            bufferingPolicy: .bufferingNewest(1)
        )
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for await input in checkpointStream {
                    let positions = input.positions
                    let saved = await self.writeCheckpoint(input)
                    // The snapshot held the state as it was when the checkpoint began; every part the processor
                    // has written since was copied, and the snapshot's versions are freed with it. Give their
                    // pages back rather than let the allocator keep them resident (tens of MiB per million
                    // events otherwise).
                    _ = consume input
                    ProcessMemory.releaseFreedMemory()
                    // The group's committed positions follow the checkpoints, for lag monitoring and tools.
                    if saved { try? await consumer.commit(positions) }
                }
            }
            let startPositions = positions
            positions = try await cancelWhenGracefulShutdown {
                try await self.follow(consumer, positions: startPositions, checkpoints: checkpointContinuation)
            }
            checkpointContinuation.finish()
            try await group.waitForAll()
        }
        if await self.writeCheckpoint(self.checkpointInput(positions)) {
            try? await consumer.commit(positions)
        }
        self.logger.info("Stream processor stopped", metadata: ["starling.processor.applied": "\(self.appliedCount)"])
    }

    /// Moves positions that lie beyond the end of the log back to that end, and says so.
    ///
    /// A checkpoint ahead of the log means recovery truncated a partition after the checkpoint was written: a power
    /// loss with buffered durability, or damage at a partition's tail that no journal covered. The records between
    /// the log's end and the checkpoint's position are gone from the log, but the checkpoint's state has learned
    /// them. New appends reuse those offsets, so reading from the checkpoint's position would skip them without a
    /// trace (and report lag 0). Reading from the log's end applies every one of them, exactly once: everything at
    /// or past the end at start-up is new, since ingest is closed until the processor has recovered. The lost
    /// records stay learned (they were acknowledged, so reflecting them is right) and their ids stay in the applied
    /// set, so a client retrying one is answered "duplicate", as before the loss. Models cannot unlearn; rebuilding
    /// from the log instead would lose more (whatever retention has deleted).
    ///
    /// - Returns: Per rewound partition, how many offsets the checkpoint was ahead.
    private func rewindCheckpointAheadOfLog(
        _ positions: inout [TopicPartition: Int64],
        ends: [TopicPartition: Int64],
        assignment: [TopicPartition]
    ) -> [TopicPartition: Int64] {
        var ahead: [TopicPartition: Int64] = [:]
        for partition in assignment {
            guard let position = positions[partition], let end = ends[partition], position > end else { continue }
            ahead[partition] = position - end
            positions[partition] = end
            self.metrics.checkpointAheadOfLog.increment(by: Int(position - end))
            self.logger.error(
                "The checkpoint is ahead of the log (recovery truncated the partition after it was written): reading from the log's end so that new events at the reused offsets are applied",
                metadata: [
                    "starling.log.partition": "\(partition)",
                    "starling.processor.checkpoint_position": "\(position)",
                    "starling.log.end_offset": "\(end)",
                ]
            )
        }
        return ahead
    }

    /// Applies batches until cancelled (graceful shutdown), requesting checkpoints on schedule.
    private func follow(
        _ consumer: Log.Consumer,
        positions: [TopicPartition: Int64],
        checkpoints: AsyncStream<CheckpointInput>.Continuation
    ) async throws -> [TopicPartition: Int64] {
        var positions = positions
        var lastCheckpoint = ContinuousClock.now
        while !Task.isCancelled {
            let records = try await consumer.poll(maxRecords: self.configuration.pollBatch)
            if records.isEmpty { break }
            self.apply(records, positions: &positions)
            if ContinuousClock.now - lastCheckpoint >= self.configuration.checkpointInterval {
                checkpoints.yield(self.checkpointInput(positions))
                lastCheckpoint = ContinuousClock.now
            }
        }
        return positions
    }

    private func restore() async throws {
        guard let checkpoint = try await self.checkpoints.load() else {
            self.trending.publish(self.engine.read { $0.trendingSnapshot() })
            return
        }
        var engine: RecommendationEngine
        do {
            engine = try checkpoint.engineState.withUnsafeBytes { raw in
                var reader = BinaryReader(raw)
                return try RecommendationEngine(configuration: self.configuration.engine, decoding: &reader)
            }
        } catch {
            throw EventLogError.configuration(
                "the checkpoint's model state does not match this configuration (\(error)); start with the model "
                    + "settings it was written with, or delete the checkpoint to rebuild everything from the log"
            )
        }
        // A checkpoint written before format 4 keeps the profiles apart: they move into the engine's records.
        for profile in checkpoint.legacyProfiles { engine.replaceProfile(with: profile) }
        self.engine.write { $0 = engine }
        self.catalog.replaceAll(with: checkpoint.catalog)
        self.deduplication.restore(checkpoint.appliedIDs)
        self.trending.publish(engine.trendingSnapshot())
        self.status.withLock { $0.positions = checkpoint.positions }
        self.logger.info(
            "Restored checkpoint",
            metadata: [
                "starling.processor.profiles": "\(engine.userCount)",
                "starling.processor.ids": "\(checkpoint.appliedIDs.count)",
            ]
        )
    }

    private func apply(_ records: [LogRecord], positions: inout [TopicPartition: Int64]) {
        self.noteMissingRecords(records, after: positions)
        var applied: UInt64 = 0
        var skipped = 0
        var events: [Event] = []
        events.reserveCapacity(records.count)
        // The index of the record each event came from, so that positions can advance slice by slice.
        var sources: [Int] = []
        sources.reserveCapacity(records.count)
        for (index, record) in records.enumerated() {
            if record.topicPartition.topic == CatalogService<Log>.topic {
                if let change = try? CatalogChange(decoding: record.payload) {
                    self.catalog.apply(change)
                    self.publisher?.publish(catalogChange: change)
                } else {
                    self.metrics.undecodable.increment()
                }
                continue
            }
            let event: Event
            do {
                event = try Event(decoding: record.payload)
            } catch {
                self.metrics.undecodable.increment()
                self.logger.error(
                    "Skipping undecodable record",
                    metadata: ["starling.log.partition": "\(record.topicPartition)", "starling.log.offset": "\(record.offset)"]
                )
                continue
            }
            if let id = event.id, !self.deduplication.markApplied(id, at: event.receivedAt) {
                skipped += 1
                continue
            }
            events.append(event)
            sources.append(index)
            applied += 1
        }
        // The engine learns each event and then moves the user's profile version in the same record, under the same
        // write lock, so a reader that sees version V also sees every model update of the events up to V. Positions
        // advance after each slice, so a request waiting for its user's acknowledged events (read-your-writes)
        // resumes as soon as their slice is visible.
        var visible = positions
        var nextRecord = 0
        var start = 0
        while start < events.count {
            let end = min(events.count, start + self.configuration.writeSlice)
            let learning = ContinuousClock.now
            let firstSequence = self.engine.write { engine in
                let first = engine.eventCount + 1
                for event in events[start..<end] { engine.learn(event) }
                return first
            }
            self.metrics.modelUpdate.recordNanoseconds((ContinuousClock.now - learning).wholeNanoseconds)
            self.publisher?.publish(applied: AppliedSlice(firstSequence: firstSequence, events: Array(events[start..<end])))
            if let onApplied = self.onApplied {
                for event in events[start..<end] { onApplied(event) }
            }
            while nextRecord <= sources[end - 1] {
                visible[records[nextRecord].topicPartition] = records[nextRecord].offset + 1
                nextRecord += 1
            }
            if let publisher = self.publisher { self.publish(events[start..<end], positions: visible, to: publisher) }
            self.acknowledgements?.advance(to: visible, users: events[start..<end].lazy.map(\.user))
            start = end
        }
        for record in records { positions[record.topicPartition] = record.offset + 1 }
        self.acknowledgements?.advance(to: positions)
        self.trending.publish(self.engine.read { $0.trendingSnapshot() })
        let now = WallClock.nanoseconds()
        for record in records {
            let freshness = max(0, now - record.appendedAtNanoseconds)
            self.metrics.freshness.recordNanoseconds(freshness)
            self.freshnessObserver?(freshness)
        }
        self.metrics.applied.increment(by: Int(applied))
        if skipped > 0 { self.metrics.duplicates.increment(by: skipped) }
        self.status.withLock {
            $0.positions = positions
            $0.applied += applied
        }
        self.checkRecovered(positions)
        self.metrics.lag.record(self.lag())
        self.backlog?.advanced()
    }

    /// Says so when the log skips offsets the processor has not applied: records deleted by retention before they
    /// were consumed, or lost to damage that recovery quarantined. Neither should happen silently.
    private func noteMissingRecords(_ records: [LogRecord], after positions: [TopicPartition: Int64]) {
        var next = positions
        for record in records {
            if let expected = next[record.topicPartition], record.offset > expected {
                self.metrics.missingRecords.increment(by: Int(record.offset - expected))
                self.logger.error(
                    "Records missing from the log were never applied",
                    metadata: [
                        "starling.log.partition": "\(record.topicPartition)",
                        "starling.log.offsets": "\(expected)..<\(record.offset)",
                    ]
                )
            }
            next[record.topicPartition] = record.offset + 1
        }
    }

    /// Hands the users and sessions of one slice, as they are now, to the publisher; each user with the positions
    /// of the partitions their events live in, as far as serving sees them (`positions`).
    private func publish(
        _ events: ArraySlice<Event>,
        positions: [TopicPartition: Int64],
        to publisher: any ServingStatePublisher
    ) {
        var users: [String] = []
        var seen = Set<String>()
        for event in events where seen.insert(event.user).inserted { users.append(event.user) }
        var sessions: [String] = []
        var seenSessions = Set<String>()
        for event in events {
            if let session = event.session, seenSessions.insert(session).inserted { sessions.append(session) }
        }
        let (states, sessionItems) = self.engine.read { engine in
            (
                users.map { (profile: engine.profile(of: $0), model: engine.portableUser($0)) },
                sessions.map { session in engine.sessionItems(session).map { engine.itemKey($0) } }
            )
        }
        var partitionCounts: [String: Int] = [:]
        for partition in positions.keys {
            partitionCounts[partition.topic] = max(partitionCounts[partition.topic] ?? 0, partition.partition + 1)
        }
        var published: [PublishedUser] = []
        published.reserveCapacity(users.count)
        for (user, state) in zip(users, states) {
            guard let profile = state.profile else { continue }
            published.append(
                PublishedUser(
                    profile: profile,
                    model: state.model ?? .init(),
                    applied: Self.partitions(of: user, in: positions, counts: partitionCounts)
                )
            )
        }
        publisher.publish(users: published)
        if !sessions.isEmpty {
            publisher.publish(sessions: zip(sessions, sessionItems).map { PublishedSession(id: $0, items: $1) })
        }
    }

    /// The entries of `positions` for the partitions that hold `user`'s records (the log partitions by a stable
    /// hash of the user id), given each topic's partition count.
    static func partitions(
        of user: String,
        in positions: [TopicPartition: Int64],
        counts: [String: Int]
    ) -> [TopicPartition: Int64] {
        var result: [TopicPartition: Int64] = [:]
        for (topic, count) in counts {
            let partition = TopicPartition(topic: topic, partition: StableHash.partition(for: user, count: count))
            if let next = positions[partition] { result[partition] = next }
        }
        return result
    }

    private func checkRecovered(_ positions: [TopicPartition: Int64]) {
        let done = self.status.withLock { status -> Bool in
            guard !status.recovered else { return false }
            let caughtUp = status.recoveryTarget.allSatisfy { (positions[$0.key] ?? 0) >= $0.value }
            if caughtUp { status.recovered = true }
            return caughtUp
        }
        if done {
            self.logger.info("Stream processor recovered", metadata: ["starling.processor.applied": "\(self.appliedCount)"])
        }
    }

    private func checkpointInput(_ positions: [TopicPartition: Int64]) -> CheckpointInput {
        CheckpointInput(
            positions: positions,
            engine: self.engine.snapshot(),
            ids: self.deduplication.snapshot(),
            catalog: self.catalog.all()
        )
    }

    /// Writes a checkpoint; returns whether it was saved.
    @discardableResult
    private func writeCheckpoint(_ input: CheckpointInput) async -> Bool {
        let started = ContinuousClock.now
        let evicted = self.deduplication.prune(now: .now())
        if evicted > 0 {
            self.metrics.evictedIDs.increment(by: evicted)
            self.logger.warning(
                "Event ids evicted beyond the de-duplication limit: a retry of one of them would be applied again",
                metadata: ["starling.dedup.evicted": "\(evicted)", "starling.dedup.max_ids": "\(self.deduplication.maxIDs)"]
            )
        }
        let checkpoint = Checkpoint(
            positions: input.positions,
            engine: .snapshot(input.engine),
            appliedIDs: input.ids.appliedIDs(),
            catalog: input.catalog
        )
        do {
            try await self.checkpoints.save(checkpoint)
            self.metrics.checkpointDuration.recordNanoseconds((ContinuousClock.now - started).wholeNanoseconds)
            return true
        } catch {
            self.metrics.checkpointFailures.increment()
            self.logger.error("Checkpoint failed", metadata: ["starling.processor.error": "\(error)"])
            return false
        }
    }
}

/// The processor's metrics, created once.
struct ProcessorMetrics: Sendable {
    let applied = Counter(label: "starling_processor_events_applied_total")
    let duplicates = Counter(label: "starling_processor_duplicates_skipped_total")
    let undecodable = Counter(label: "starling_processor_undecodable_records_total")
    let freshness = Timer(label: "starling_freshness_seconds")
    let lag = Gauge(label: "starling_processor_lag_records")
    /// Time the engine took to learn one slice of events (at most ``Configuration/writeSlice``) under its write lock.
    let modelUpdate = Timer(label: "starling_model_update_duration_seconds")
    let checkpointDuration = Timer(label: "starling_checkpoint_duration_seconds")
    let checkpointFailures = Counter(label: "starling_checkpoint_failures_total")
    /// Applied event ids forgotten before their retention window ended, because the index was full.
    let evictedIDs = Counter(label: "starling_dedup_evicted_ids_total")
    /// Offsets a restored checkpoint had applied beyond the end of the recovered log.
    let checkpointAheadOfLog = Counter(label: "starling_processor_checkpoint_ahead_of_log_records_total")
    /// Offsets the log skipped before the processor applied them (retention, quarantined damage).
    let missingRecords = Counter(label: "starling_processor_missing_records_total")
}
