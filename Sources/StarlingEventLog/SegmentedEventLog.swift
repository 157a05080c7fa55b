import Foundation
public import Logging
import Metrics
public import ServiceLifecycle
public import StarlingCore

/// The embedded event log: append-only, segmented files per topic partition, with group commit.
///
/// Layout on disk: `<directory>/<topic>/partitions` holds the topic's partition count, and
/// `<directory>/<topic>/<partition>/<base offset>.log` its segments (see ``RecordCodec`` for the framing).
/// Consumer groups' committed positions live in `<directory>/_consumers/<group>.offsets`.
///
/// Appends are framed and checksummed by the caller's task, then handed to one writer thread that writes every
/// pending partition buffer and then makes the whole batch durable with a single `fdatasync` of the commit
/// ``Journal``: all appends that arrived while the previous sync was running share the next one (group commit).
/// ``append(_:)`` returns only after its sync. A flusher thread syncs the partition files in the background and
/// retires journal files.
///
/// ```swift
/// let log = try SegmentedEventLog.open(
///     configuration: .init(directory: "data/log", topics: ["views": 4]),
///     logger: logger
/// )
/// let positions = try await log.append([LogAppend(topic: "views", key: "u1", payload: bytes)])
/// ```
public final class SegmentedEventLog: EventLog, Service {
    /// The configuration the log was opened with.
    public let configuration: Configuration
    let logger: Logger
    let topicPartitions: [TopicPartition]
    private let partitionIDs: [String: [Int]]
    let lock: LogLock
    private let writerThread: LogWriter
    /// The commit journal, used only by the writer thread; `nil` with buffered durability.
    let journal: Journal?
    var journalDirectory: String { "\(self.configuration.directory)/_journal" }
    /// Every write of a commit and every `fsync` of the log goes through here (``FileWriteFaults`` and
    /// ``FileSyncFaults`` in tests).
    let sync: LogSync
    /// Held for a whole flush, so that two flushes (the flusher thread's and the writer's, on close or on a full
    /// disk) never overlap: one must not delete journal files while the other is still syncing their records.
    let flushLock = NSLock()
    /// What recovery found on open: damaged bytes quarantined, records lost or restored from the journal.
    let recovery: Recovery.Report
    private let metrics: LogMetrics

    /// Opens (and recovers) or creates the log in `configuration.directory`, and starts its writer thread.
    ///
    /// The writer thread keeps the log alive until ``close()`` (or ``run()`` on shutdown) stops it.
    ///
    /// Recovery checks every record's length, checksum and offset. A torn tail is truncated; other damage is moved to
    /// `<directory>/_quarantine` and cut out, records after it are kept, and damaged or missing records the commit
    /// journal still holds are put back (see `Recovery.swift`).
    public static func open(configuration: Configuration, logger: Logger) throws -> SegmentedEventLog {
        try SegmentedEventLog(configuration: configuration, logger: logger)
    }

    private init(configuration: Configuration, logger: Logger) throws {
        self.configuration = configuration
        self.logger = logger
        let metrics = LogMetrics()
        self.metrics = metrics
        let sync = LogSync(faults: configuration.syncFaults, writeFaults: configuration.writeFaults)
        self.sync = sync
        try FileIO.makeDirectories(configuration.directory)
        var partitions: [PartitionState] = []
        var topicPartitions: [TopicPartition] = []
        var partitionIDs: [String: [Int]] = [:]
        // The journal is read first: recovery puts back damaged records it still holds, replay appends the rest.
        let journalDirectory = "\(configuration.directory)/_journal"
        let journalContents = try Journal.read(directory: journalDirectory, logger: logger)
        var report = Recovery.Report()
        for (topic, requested) in configuration.topics.sorted(by: { $0.key < $1.key }) {
            let count = try Self.partitionCount(
                topic: topic,
                requested: requested,
                directory: configuration.directory,
                sync: configuration.durability == .fsync
            )
            for partition in 0..<count {
                let topicPartition = TopicPartition(topic: topic, partition: partition)
                let directory = "\(configuration.directory)/\(topic)/\(partition)"
                let segments = try Recovery.recoverPartition(
                    directory: directory,
                    topicPartition: topicPartition,
                    quarantineDirectory: "\(configuration.directory)/_quarantine",
                    journal: journalContents.chunks,
                    report: &report,
                    logger: logger
                )
                partitionIDs[topic, default: []].append(partitions.count)
                partitions.append(PartitionState(topicPartition: topicPartition, directory: directory, segments: segments))
                topicPartitions.append(topicPartition)
            }
        }
        // Replay what the journal holds beyond the partition files (after a crash or power loss).
        let nextJournal = try Journal.replay(
            journalContents, directory: journalDirectory, into: &partitions, sync: sync, report: &report, logger: logger)
        metrics.quarantinedBytes.increment(by: report.quarantinedBytes)
        metrics.lostRecords.increment(by: Int(report.lostRecords))
        metrics.repairedRecords.increment(by: Int(report.repairedRecords))
        self.recovery = report
        self.journal =
            configuration.durability == .fsync
            ? try Journal(directory: journalDirectory, sequence: nextJournal, sync: sync) : nil
        self.topicPartitions = topicPartitions
        self.partitionIDs = partitionIDs
        var state = LogState(partitions: partitions)
        state.journalSequence = self.journal?.sequence ?? 0
        // Retention holds from the start: what the groups committed before this open.
        for group in configuration.retentionGroups {
            state.retentionPositions[group] = try SegmentedEventLogConsumer.readCommitted(
                "\(configuration.directory)/_consumers/\(group).offsets")
        }
        self.lock = LogLock(state: state)
        self.writerThread = LogWriter()
        self.writerThread.start(log: self)
        self.writerThread.startFlusher(log: self)
    }

    private static func partitionCount(topic: String, requested: Int, directory: String, sync: Bool) throws -> Int {
        let topicDirectory = "\(directory)/\(topic)"
        try FileIO.makeDirectories(topicDirectory)
        let path = "\(topicDirectory)/partitions"
        if FileIO.exists(path) {
            let text = String(decoding: try FileIO.readFile(path), as: UTF8.self)
                .trimmingCharacters(in: .whitespacesAndNewlines)
            guard let stored = Int(text), stored > 0 else {
                throw EventLogError.corrupt("\(path) does not hold a partition count")
            }
            return stored
        }
        try FileIO.writeFileAtomically(path, Array("\(requested)\n".utf8), sync: sync)
        return requested
    }

    // MARK: - EventLog

    public var topics: [String] {
        self.partitionIDs.keys.sorted()
    }

    public func partitionCount(of topic: String) -> Int {
        self.partitionIDs[topic]?.count ?? 0
    }

    public func append(_ records: [LogAppend]) async throws -> [LogPosition] {
        guard !records.isEmpty else { return [] }
        // Frame and checksum outside the lock; only offsets are assigned under it.
        let now = self.configuration.wallClock()
        var framed: [UInt8] = []
        framed.reserveCapacity(records.reduce(0) { $0 + RecordCodec.encodedSize(payloadCount: $1.payload.count) })
        var routes: [(partition: Int, start: Int, end: Int)] = []
        routes.reserveCapacity(records.count)
        for record in records {
            guard let ids = self.partitionIDs[record.topic] else { throw EventLogError.unknownTopic(record.topic) }
            // Never acknowledge a record the reader would refuse as corrupt.
            guard record.payload.count <= RecordCodec.maxPayloadSize else {
                throw EventLogError.recordTooLarge(record.payload.count, limit: RecordCodec.maxPayloadSize)
            }
            let partition = ids[StableHash.partition(for: record.key, count: ids.count)]
            let start = framed.count
            RecordCodec.append(appendedAt: now, payload: record.payload, to: &framed)
            routes.append((partition, start, framed.count))
        }
        var positions: [LogPosition] = []
        positions.reserveCapacity(records.count)
        let started = ContinuousClock.now
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let rejection: EventLogError? = self.lock.withLock { state in
                if let failure = state.failure { return failure }
                if state.closing { return .closed }
                if state.pendingBytes + framed.count > self.configuration.maxPendingBytes { return .overloaded }
                framed.withUnsafeMutableBytes { raw in
                    for route in routes {
                        let offset = state.partitions[route.partition].nextOffset
                        RecordCodec.setOffset(offset, at: route.start, in: raw)
                        state.partitions[route.partition].enqueue(UnsafeRawBufferPointer(rebasing: raw[route.start..<route.end]), appendedAt: now)
                        positions.append(
                            LogPosition(topicPartition: state.partitions[route.partition].topicPartition, offset: offset)
                        )
                    }
                }
                state.pendingBytes += framed.count
                state.appendWaiters.append(continuation)
                return nil
            }
            if let rejection {
                continuation.resume(throwing: rejection)
            } else {
                self.lock.signal()
            }
        }
        self.metrics.appendDuration.recordNanoseconds((ContinuousClock.now - started).wholeNanoseconds)
        self.metrics.appendedRecords.increment(by: records.count)
        return positions
    }

    public func endOffsets() -> [TopicPartition: Int64] {
        self.lock.withLock { state in
            var offsets: [TopicPartition: Int64] = [:]
            for partition in state.partitions {
                offsets[partition.topicPartition] = partition.segments.last!.nextOffset
            }
            return offsets
        }
    }

    /// Why the log stopped accepting appends (a failed write or `fsync`), or `nil` while it is healthy.
    ///
    /// Once set it stays set: records acknowledged before are safe (the journal that holds them is kept for the next
    /// open to replay), and every later append is refused with this error.
    public var failure: EventLogError? {
        self.lock.withLock { $0.failure }
    }

    /// Why the latest commit was refused, while the disk is full (``EventLogError/diskFull(_:)``); `nil` once a
    /// commit succeeds again, and while the disk has room.
    ///
    /// Unlike ``failure`` this passes by itself: every append tries the disk again.
    public var diskFull: EventLogError? {
        self.lock.withLock { $0.diskFull?.error }
    }

    /// The oldest offset still retained in every partition.
    public func startOffsets() -> [TopicPartition: Int64] {
        self.lock.withLock { state in
            var offsets: [TopicPartition: Int64] = [:]
            for partition in state.partitions {
                offsets[partition.topicPartition] = partition.segments.first!.baseOffset
            }
            return offsets
        }
    }

    public func makeConsumer(group: String, topics: [String]) async throws -> SegmentedEventLogConsumer {
        var ids: [Int] = []
        for topic in topics {
            guard let topicIDs = self.partitionIDs[topic] else { throw EventLogError.unknownTopic(topic) }
            ids.append(contentsOf: topicIDs)
        }
        let consumer = SegmentedEventLogConsumer(log: self, group: group, partitionIDs: ids)
        let committed = try await consumer.committed()
        try await consumer.seek(to: committed)
        return consumer
    }

    // MARK: - Lifecycle

    /// Waits for graceful shutdown, then flushes and closes the log.
    public func run() async throws {
        try? await gracefulShutdown()
        await self.close()
    }

    /// Writes what is pending, stops the writer thread and refuses further appends.
    public func close() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let alreadyClosed = self.lock.withLock { state -> Bool in
                if state.closed { return true }
                state.closing = true
                state.closeWaiters.append(continuation)
                return false
            }
            if alreadyClosed {
                continuation.resume()
            } else {
                self.lock.signal()
            }
        }
    }

    // MARK: - Maintenance

    /// Syncs the partition files written since the last flush and retires the journal files they make redundant:
    /// what the flusher thread does about once a second. Blocks while it syncs; for tests with
    /// ``Configuration/Maintenance/manual`` maintenance.
    package func flushNow() {
        LogWriter.flush(log: self)
    }

    /// Asks the writer thread for a retention pass now and returns what it did; for tests with
    /// ``Configuration/Maintenance/manual`` maintenance. A closed log deletes nothing.
    @discardableResult
    package func enforceRetention() async -> RetentionPass {
        await withCheckedContinuation { (continuation: CheckedContinuation<RetentionPass, Never>) in
            let closed = self.lock.withLock { state -> Bool in
                if state.closed || state.closing { return true }
                state.retentionRequests.append(continuation)
                return false
            }
            if closed {
                continuation.resume(returning: RetentionPass())
            } else {
                self.lock.signal()
            }
        }
    }

    // MARK: - Internals used by the writer and consumers

    func partitionID(_ topicPartition: TopicPartition) -> Int? {
        guard let ids = self.partitionIDs[topicPartition.topic], topicPartition.partition < ids.count else {
            return nil
        }
        return ids[topicPartition.partition]
    }

    var consumerDirectory: String { "\(self.configuration.directory)/_consumers" }

    var logMetrics: LogMetrics { self.metrics }
}

/// Metrics of the embedded log, created once.
struct LogMetrics: Sendable {
    let appendedRecords = Counter(label: "starling_log_appended_records_total")
    let appendDuration = Timer(label: "starling_log_append_duration_seconds")
    let syncDuration = Timer(label: "starling_log_sync_duration_seconds")
    let commitBatchBytes = Recorder(label: "starling_log_commit_batch_bytes")
    /// Records made durable by one group commit (the batch size).
    let commitBatchRecords = Recorder(label: "starling_log_commit_batch_records")
    /// Writes or syncs that failed and stopped the log (at most one per process lifetime).
    let storageFailures = Counter(label: "starling_log_storage_failures_total")
    /// Appends refused because a write found the disk full; nothing of them was stored.
    let diskFullRefusals = Counter(label: "starling_log_disk_full_refused_appends_total")
    /// Set once per pass: sealed segments retention would delete but a retention group has not consumed.
    let retentionHeldSegments = Gauge(label: "starling_log_retention_held_segments")
    /// Damaged bytes recovery moved to the quarantine directory.
    let quarantinedBytes = Counter(label: "starling_log_quarantined_bytes_total")
    /// Records recovery found damaged or missing and could not restore from the journal.
    let lostRecords = Counter(label: "starling_log_lost_records_total")
    /// Damaged or missing records recovery restored from the journal.
    let repairedRecords = Counter(label: "starling_log_repaired_records_total")
}
