import Foundation
import CoreMetrics
import Logging
import StarlingCore

/// The log's single writer: a dedicated thread, so that blocking `pwrite` and `fdatasync` never occupy the
/// cooperative thread pool.
final class LogWriter: Sendable {
    private static let retentionInterval: TimeInterval = 5

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
    }

    func start(log: SegmentedEventLog) {
        let thread = Thread {
            self.loop(log: log)
        }
        thread.name = "starling-log-writer"
        thread.start()
    }

    private func loop(log: SegmentedEventLog) {
        var nextRetention = Date(timeIntervalSinceNow: Self.retentionInterval)
        while true {
            let batch = log.lock.waitThen(
                until: nextRetention,
                while: { $0.pendingBytes == 0 && !$0.closing },
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
                return
            }
            if Date() >= nextRetention {
                Self.applyRetention(log: log)
                nextRetention = Date(timeIntervalSinceNow: Self.retentionInterval)
            }
        }
    }

    /// Syncs the partition files written since the last flush, then deletes the journal files that only hold
    /// chunks now safe in those files. Runs on the flusher thread about once a second, and once more on close.
    static func flush(log: SegmentedEventLog) {
        guard log.journal != nil else { return }
        let (segments, directories, sequence) = log.lock.withLock { state in
            defer {
                state.unflushedSegments = [:]
                state.unflushedDirectories = []
            }
            return (Array(state.unflushedSegments.values), state.unflushedDirectories, state.journalSequence)
        }
        do {
            for segment in segments { try FileIO.syncData(segment.fd, path: segment.path) }
            for directory in directories { try FileIO.syncDirectory(directory) }
        } catch {
            // Keep the journal: the next open replays it. Put the segments back for the next attempt.
            log.logger.warning("Partition flush failed; keeping the journal", metadata: ["starling.log.error": "\(error)"])
            log.lock.withLock { state in
                for segment in segments { state.unflushedSegments[ObjectIdentifier(segment)] = segment }
                state.unflushedDirectories.formUnion(directories)
            }
            return
        }
        Journal.deleteFiles(in: log.journalDirectory, before: sequence)
    }

    /// Starts the flusher thread, which ends once the log is closed.
    func startFlusher(log: SegmentedEventLog, interval: TimeInterval = 1) {
        guard log.journal != nil else { return }
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
                    try FileIO.write(item.segment.fd, raw, at: item.position, path: item.segment.path)
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
        } catch {
            let failure = error as? EventLogError ?? .io("\(error)")
            log.logger.error(
                "Event log write failed; refusing further appends",
                metadata: ["starling.log.error": "\(failure.message)"]
            )
            log.lock.withLock { $0.failure = failure }
            batch.waiters.forEach { $0.resume(throwing: failure) }
            return
        }
        log.logMetrics.syncDuration.recordNanoseconds((ContinuousClock.now - syncStart).wholeNanoseconds)
        log.logMetrics.commitBatchBytes.record(items.reduce(0) { $0 + $1.bytes.count })
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

    private static func applyRetention(log: SegmentedEventLog) {
        let configuration = log.configuration
        let cutoff = WallClock.nanoseconds() - configuration.retentionAge.wholeNanoseconds
        let removed: [String] = log.lock.withLock { state in
            var removed: [String] = []
            for id in state.partitions.indices {
                var total = state.partitions[id].segments.reduce(0) { $0 + $1.size }
                while state.partitions[id].segments.count > 1 {
                    let oldest = state.partitions[id].segments[0]
                    guard total > configuration.retentionBytes || oldest.newestAppendNanoseconds < cutoff else {
                        break
                    }
                    total -= oldest.size
                    removed.append(oldest.path)
                    state.partitions[id].segments.removeFirst()
                }
            }
            return removed
        }
        for path in removed {
            FileIO.remove(path)
            log.logger.info("Deleted segment by retention", metadata: ["starling.log.segment": "\(path)"])
        }
    }
}
