import Foundation
import CoreMetrics
import Logging
import StarlingCore

/// The log's single writer: a dedicated thread, so that blocking `pwrite` and `fdatasync` never occupy the
/// cooperative thread pool.
final class LogWriter: Sendable {

    /// What one commit writes for one partition.
    private struct Item {
        var partition: Int
        var bytes: [UInt8]
        var firstOffset: Int64
        var endOffset: Int64
        var newestAppend: Int64
        var segment: Segment
        var position: Int
        var rolled = false
        var index: [Segment.IndexEntry] = []
    }

    private struct Batch {
        var items: [Item] = []
        var waiters: [CheckedContinuation<Void, any Error>] = []
        var closing = false
        var retentionRequests: [CheckedContinuation<RetentionPass, Never>] = []
    }

    func start(log: SegmentedEventLog) {
        let thread = Thread {
            self.loop(log: log)
        }
        thread.name = "starling-log-writer"
        thread.start()
    }

    private func loop(log: SegmentedEventLog) {
        let interval = log.configuration.maintenance.retentionInterval.map { Double($0.wholeNanoseconds) / 1e9 }
        var nextRetention = interval.map { Date(timeIntervalSinceNow: $0) }
        while true {
            let batch = log.lock.waitThen(
                until: nextRetention,
                while: { $0.pendingBytes == 0 && !$0.closing && $0.retentionRequests.isEmpty },
                { state in Self.take(&state) }
            )
            if !batch.items.isEmpty {
                self.commit(batch, log: log)
            }
            if batch.closing && batch.items.isEmpty {
                Self.flush(log: log)
                let (closeWaiters, consumers) = log.lock.withLock { state in
                    state.closed = true
                    defer {
                        state.closeWaiters = []
                        state.consumerWaiters = [:]
                    }
                    return (state.closeWaiters, state.consumerWaiters.values)
                }
                consumers.forEach { $0.resume() }
                closeWaiters.forEach { $0.resume() }
                batch.retentionRequests.forEach { $0.resume(returning: RetentionPass()) }
                return
            }
            if !batch.retentionRequests.isEmpty || nextRetention.map({ Date() >= $0 }) == true {
                let pass = Self.applyRetention(log: log)
                batch.retentionRequests.forEach { $0.resume(returning: pass) }
                if let interval { nextRetention = Date(timeIntervalSinceNow: interval) }
            }
        }
    }

    /// Syncs the partition files written since the last flush, then deletes the journal files that only hold
    /// chunks now safe in those files. Runs on the flusher thread about once a second, and once more on close.
    ///
    /// A failed sync is fatal. Linux reports a failed write-back once: the dirty pages are marked clean without
    /// reaching the disk, so a retry would "succeed" and the journal — then the only durable copy of what was
    /// acknowledged — would be deleted. Instead the log stops (``SegmentedEventLog/failure``): it refuses every
    /// later append, and no journal file is deleted again, so the next open replays them into the partitions.
    static func flush(log: SegmentedEventLog) {
        guard log.journal != nil else { return }
        log.flushLock.lock()
        defer { log.flushLock.unlock() }
        let work = log.lock.withLock { state -> (segments: [Segment], directories: Set<String>, sequence: UInt64)? in
            guard state.failure == nil else { return nil }
            defer {
                state.unflushedSegments = [:]
                state.unflushedDirectories = []
            }
            return (Array(state.unflushedSegments.values), state.unflushedDirectories, state.journalSequence)
        }
        guard let (segments, directories, sequence) = work else { return }
        do {
            for segment in segments { try log.sync.data(segment.fd, path: segment.path) }
            for directory in directories { try log.sync.directory(directory) }
        } catch {
            let message = (error as? EventLogError)?.message ?? "\(error)"
            Self.stop(log, .stopped("fsync of partition data failed: \(message)"))
            return
        }
        Journal.deleteFiles(in: log.journalDirectory, before: sequence)
    }

    /// Stops the log after a failed write or sync: every later append is refused with `failure`, and the journal
    /// is kept for the next open to replay.
    static func stop(_ log: SegmentedEventLog, _ failure: EventLogError) {
        let first = log.lock.withLock { state -> Bool in
            guard state.failure == nil else { return false }
            state.failure = failure
            return true
        }
        guard first else { return }
        log.logMetrics.storageFailures.increment()
        log.logger.error(
            "Event log stopped: nothing more is acknowledged; the journal is kept for the next open to replay",
            metadata: ["starling.log.error": "\(failure.message)"]
        )
    }

    /// Refuses a commit whose write found the disk full, and every append queued behind it, without stopping the log.
    ///
    /// A write that fails with `ENOSPC` or `EDQUOT` is not like a failed `fsync`: the kernel said no, nothing of the
    /// commit is durable or acknowledged, and nothing acknowledged before is in doubt. So the partition files are cut
    /// back to where the commit started writing (a segment this commit created is removed) — the journal already cut
    /// itself back — and the log goes on: the next append tries again and succeeds once space is freed. Appends
    /// queued while this commit ran already hold the offsets after it; they are refused too (a client retries them
    /// as it retries this one), and every partition's next offset goes back to its last written record, so that
    /// offsets stay dense. Consumers never saw any of it: they read only up to each segment's committed size.
    ///
    /// If a file cannot be cut back the partition's end on disk is unknown, and the log stops as after any other
    /// failed write.
    private static func refuse(_ batch: Batch, items: [Item], log: SegmentedEventLog, error: EventLogError) {
        do {
            for item in items {
                if item.rolled {
                    // Never in the log's state: its descriptor closes with the last reference.
                    FileIO.remove(item.segment.path)
                } else {
                    try FileIO.truncate(item.segment.fd, to: item.position, path: item.segment.path)
                }
            }
        } catch let truncation {
            let message = (truncation as? EventLogError)?.message ?? "\(truncation)"
            let failure = EventLogError.stopped("write failed for a full disk, then \(message)")
            Self.stop(log, failure)
            batch.waiters.forEach { $0.resume(throwing: log.lock.withLock { $0.failure } ?? failure) }
            return
        }
        let (queued, first) = log.lock.withLock { state -> ([CheckedContinuation<Void, any Error>], Bool) in
            for id in state.partitions.indices {
                state.partitions[id].pending = []
                state.partitions[id].nextOffset = state.partitions[id].segments.last!.nextOffset
            }
            state.pendingBytes = 0
            defer { state.appendWaiters = [] }
            let refused = batch.waiters.count + state.appendWaiters.count
            let first = state.diskFull == nil
            if first { state.diskFull = LogState.DiskFull(error: error, since: .now) }
            state.diskFull!.error = error
            state.diskFull!.refusedAppends += refused
            return (state.appendWaiters, first)
        }
        log.logMetrics.diskFullRefusals.increment(by: batch.waiters.count + queued.count)
        if first {
            log.logger.error(
                "Event log refuses appends: the disk is full; nothing of the refused batches was stored, and appends are tried again as they come",
                metadata: ["starling.log.error": "\(error.message)"]
            )
        }
        // Before answering, so that a client's retry finds the space.
        Self.retireJournal(log: log)
        batch.waiters.forEach { $0.resume(throwing: error) }
        queued.forEach { $0.resume(throwing: error) }
    }

    /// Frees the space the journal holds, on a full disk: everything it holds is also in the partition files, so
    /// once those are synced it is redundant. The flusher would delete it only once it reached
    /// ``Journal/rollBytes`` (32 MiB) and rolled — on a small disk, half of what the log stores. So the writer
    /// syncs the partition files, starts a new journal file and deletes the old ones, as the flusher does after a
    /// roll; the clients' retries then find that space. A failed sync stops the log, as in ``flush(log:)``; a new
    /// journal file that cannot be created leaves everything as it was.
    private static func retireJournal(log: SegmentedEventLog) {
        guard let journal = log.journal, journal.position > 0 else { return }
        Self.flush(log: log)
        guard log.lock.withLock({ $0.failure }) == nil else { return }
        do {
            try journal.roll()
        } catch let error as EventLogError where error == .diskFull("") {
            return
        } catch {
            let message = (error as? EventLogError)?.message ?? "\(error)"
            Self.stop(log, .stopped("cannot start a new journal file: \(message)"))
            return
        }
        log.lock.withLock { $0.journalSequence = journal.sequence }
        Self.flush(log: log)
    }

    /// Starts the flusher thread, which ends once the log is closed; none with manual maintenance.
    func startFlusher(log: SegmentedEventLog) {
        guard log.journal != nil, let flushInterval = log.configuration.maintenance.flushInterval else { return }
        let interval = Double(flushInterval.wholeNanoseconds) / 1e9
        let thread = Thread {
            while true {
                let deadline = Date(timeIntervalSinceNow: interval)
                while Date() < deadline {
                    if log.lock.withLock({ $0.closed }) { return }
                    Thread.sleep(forTimeInterval: 0.05)
                }
                Self.flush(log: log)
            }
        }
        thread.name = "starling-log-flusher"
        thread.start()
    }

    private static func take(_ state: inout LogState) -> Batch {
        var batch = Batch(closing: state.closing)
        swap(&batch.retentionRequests, &state.retentionRequests)
        guard state.pendingBytes > 0 else { return batch }
        for id in state.partitions.indices where !state.partitions[id].pending.isEmpty {
            var bytes: [UInt8] = []
            swap(&bytes, &state.partitions[id].pending)
            let partition = state.partitions[id]
            let segment = partition.segments.last!
            batch.items.append(
                Item(
                    partition: id,
                    bytes: bytes,
                    firstOffset: partition.pendingFirstOffset,
                    endOffset: partition.nextOffset,
                    newestAppend: partition.pendingNewestAppend,
                    segment: segment,
                    position: segment.size
                )
            )
        }
        batch.waiters = state.appendWaiters
        state.appendWaiters = []
        state.pendingBytes = 0
        return batch
    }

    private func commit(_ batch: Batch, log: SegmentedEventLog) {
        // Appends taken after the log stopped are refused like those that arrive later.
        if let failure = log.lock.withLock({ $0.failure }) {
            batch.waiters.forEach { $0.resume(throwing: failure) }
            return
        }
        var items = batch.items
        let sync = log.configuration.durability == .fsync
        let syncStart = ContinuousClock.now
        var rolledDirectories: [String] = []
        do {
            for k in items.indices {
                if items[k].position >= log.configuration.segmentBytes {
                    let directory = log.lock.withLock { $0.partitions[items[k].partition].directory }
                    let path = "\(directory)/\(Segment.fileName(baseOffset: items[k].firstOffset))"
                    let fd = try FileIO.openForAppend(path)
                    items[k].segment = Segment(baseOffset: items[k].firstOffset, path: path, fd: fd)
                    items[k].position = 0
                    items[k].rolled = true
                    rolledDirectories.append(directory)
                }
                let item = items[k]
                try item.bytes.withUnsafeBytes { raw in
                    try log.sync.write(item.segment.fd, raw, at: item.position, path: item.segment.path)
                }
                items[k].index = Self.indexEntries(
                    item.bytes,
                    firstOffset: item.firstOffset,
                    startPosition: item.position,
                    lastIndexed: item.rolled ? nil : item.segment.index.last?.position
                )
            }
            if sync, let journal = log.journal {
                try journal.append(
                    items.map { item in
                        Journal.Chunk(
                            topicPartition: log.topicPartitions[item.partition],
                            firstOffset: item.firstOffset,
                            records: item.bytes
                        )
                    }
                )
            }
        } catch let error as EventLogError where error == .diskFull("") {
            Self.refuse(batch, items: items, log: log, error: error)
            return
        } catch {
            let message = (error as? EventLogError)?.message ?? "\(error)"
            let failure = EventLogError.stopped(sync ? "write or fsync failed: \(message)" : "write failed: \(message)")
            Self.stop(log, failure)
            batch.waiters.forEach { $0.resume(throwing: log.lock.withLock { $0.failure } ?? failure) }
            return
        }
        if let episode = log.lock.withLock({ state in defer { state.diskFull = nil }; return state.diskFull }) {
            log.logger.info(
                "Event log accepts appends again: space was freed",
                metadata: [
                    "starling.log.refused_appends": "\(episode.refusedAppends)",
                    "starling.log.disk_full_seconds": "\((ContinuousClock.now - episode.since).fractionalSeconds)",
                ]
            )
        }
        log.logMetrics.syncDuration.recordNanoseconds((ContinuousClock.now - syncStart).wholeNanoseconds)
        log.logMetrics.commitBatchBytes.record(items.reduce(0) { $0 + $1.bytes.count })
        log.logMetrics.commitBatchRecords.record(items.reduce(0) { $0 + ($1.endOffset - $1.firstOffset) })
        let journalSequence = log.journal?.sequence ?? 0
        let consumers = log.lock.withLock { state in
            state.journalSequence = journalSequence
            if sync {
                for item in items { state.unflushedSegments[ObjectIdentifier(item.segment)] = item.segment }
                state.unflushedDirectories.formUnion(rolledDirectories)
            }
            for item in items {
                if item.rolled {
                    state.partitions[item.partition].segments.append(item.segment)
                }
                let segment = item.segment
                segment.size = item.position + item.bytes.count
                segment.nextOffset = item.endOffset
                segment.index.append(contentsOf: item.index)
                segment.newestAppendNanoseconds = item.newestAppend
            }
            state.generation &+= 1
            defer { state.consumerWaiters = [:] }
            return state.consumerWaiters.values
        }
        batch.waiters.forEach { $0.resume() }
        consumers.forEach { $0.resume() }
    }

    /// Sparse index entries for records written at `startPosition`, one every ``Segment/indexInterval`` bytes.
    static func indexEntries(
        _ bytes: [UInt8],
        firstOffset: Int64,
        startPosition: Int,
        lastIndexed: Int?
    ) -> [Segment.IndexEntry] {
        var entries: [Segment.IndexEntry] = []
        var last = lastIndexed
        bytes.withUnsafeBytes { raw in
            var position = 0
            var offset = firstOffset
            while position + RecordCodec.headerSize <= raw.count {
                let filePosition = startPosition + position
                if last == nil || filePosition - last! >= Segment.indexInterval {
                    entries.append(Segment.IndexEntry(offset: offset, position: filePosition))
                    last = filePosition
                }
                let bodyLength = Int(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: position, as: UInt32.self)))
                position += RecordCodec.headerSize + bodyLength
                offset += 1
            }
        }
        return entries
    }

    /// Deletes the oldest sealed segments of every partition larger than ``SegmentedEventLog/Configuration/retentionBytes``
    /// or older than ``SegmentedEventLog/Configuration/retentionAge`` — but never one holding a record a retention
    /// group has not consumed (committed a position past): the processor replays from its checkpoint, so deleting
    /// what it has not checkpointed would lose acknowledged events without a trace. Held-back segments are counted
    /// in the pass, set `starling_log_retention_held_segments`, and a warning says when holding starts and stops.
    private static func applyRetention(log: SegmentedEventLog) -> RetentionPass {
        let configuration = log.configuration
        let cutoff = configuration.wallClock() - configuration.retentionAge.wholeNanoseconds
        var pass = RetentionPass()
        let (started, stopped) = log.lock.withLock { state -> (Bool, Bool) in
            for id in state.partitions.indices {
                let topicPartition = state.partitions[id].topicPartition
                // The lowest position any retention group committed; a group that committed none holds everything.
                let hold = configuration.retentionGroups.map { state.retentionPositions[$0]?[topicPartition] ?? 0 }.min()
                let segments = state.partitions[id].segments
                var total = segments.reduce(0) { $0 + $1.size }
                var deletable = 0
                var held = 0
                for oldest in segments.dropLast() {
                    guard total > configuration.retentionBytes || oldest.newestAppendNanoseconds < cutoff else { break }
                    if held == 0, hold.map({ oldest.nextOffset <= $0 }) ?? true {
                        deletable += 1
                    } else {
                        held += 1
                    }
                    total -= oldest.size
                }
                pass.deleted += segments.prefix(deletable).map(\.path)
                state.partitions[id].segments.removeFirst(deletable)
                if held > 0 { pass.held[topicPartition] = held }
            }
            let wasHeld = state.retentionHeld
            state.retentionHeld = !pass.held.isEmpty
            return (!wasHeld && state.retentionHeld, wasHeld && !state.retentionHeld)
        }
        for path in pass.deleted {
            FileIO.remove(path)
            log.logger.info("Deleted segment by retention", metadata: ["starling.log.segment": "\(path)"])
        }
        log.logMetrics.retentionHeldSegments.record(pass.held.values.reduce(0, +))
        if started {
            log.logger.warning(
                "Retention held back: consumer groups have not consumed segments that size or age would delete; the log grows past its retention until they catch up",
                metadata: [
                    "starling.log.retention_groups": "\(configuration.retentionGroups.sorted())",
                    "starling.log.held_segments": "\(pass.held.values.reduce(0, +))",
                    "starling.log.held_partitions": "\(pass.held.keys.sorted().map(\.description))",
                ]
            )
        } else if stopped {
            log.logger.info("Retention no longer held back")
        }
        return pass
    }
}
