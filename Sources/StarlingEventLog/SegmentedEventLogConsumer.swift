import Synchronization
public import StarlingCore

/// A consumer of a ``SegmentedEventLog``: reads its partitions in offset order from the segment files.
///
/// Reads only durable records (in ``SegmentedEventLog/Durability/buffered`` mode: written ones). Positions before
/// the oldest retained record move to that record, as Kafka's `auto.offset.reset=earliest` does.
public final class SegmentedEventLogConsumer: EventLogConsumer {
    private struct Cursor {
        var offset: Int64
        /// The segment and byte position that `offset` starts at, once located.
        var segmentBase: Int64?
        var position: Int = 0
    }

    private let log: SegmentedEventLog
    /// The consumer group.
    public let group: String
    private let partitionIDs: [Int]
    public let assignment: [TopicPartition]
    private let cursors: Mutex<[Cursor]>
    private let nextPartition = Atomic<Int>(0)
    /// Bytes read per partition per poll.
    private static let chunkSize = 1 << 20

    init(log: SegmentedEventLog, group: String, partitionIDs: [Int]) {
        self.log = log
        self.group = group
        self.partitionIDs = partitionIDs
        self.assignment = partitionIDs.map { log.topicPartitions[$0] }
        self.cursors = Mutex(partitionIDs.map { _ in Cursor(offset: 0) })
    }

    public func seek(to positions: [TopicPartition: Int64]) async throws {
        self.cursors.withLock { cursors in
            for (k, topicPartition) in self.assignment.enumerated() {
                if let offset = positions[topicPartition] {
                    cursors[k] = Cursor(offset: offset)
                }
            }
        }
    }

    public func positions() -> [TopicPartition: Int64] {
        self.cursors.withLock { cursors in
            var result: [TopicPartition: Int64] = [:]
            for (k, topicPartition) in self.assignment.enumerated() { result[topicPartition] = cursors[k].offset }
            return result
        }
    }

    /// Records between the read positions and the end of the log, summed over the assignment.
    public func lag() -> Int64 {
        let ends = self.log.endOffsets()
        let positions = self.positions()
        return positions.reduce(0) { $0 + max(0, (ends[$1.key] ?? 0) - $1.value) }
    }

    public func poll(maxRecords: Int) async throws -> [LogRecord] {
        precondition(maxRecords > 0, "maxRecords must be positive")
        while !Task.isCancelled {
            let generation = self.log.lock.withLock { $0.generation }
            let records = try self.readAvailable(maxRecords: maxRecords)
            if !records.isEmpty { return records }
            try await self.waitForCommit(after: generation)
        }
        return []
    }

    private func waitForCommit(after generation: UInt64) async throws {
        let id = self.log.lock.withLock { state -> Int in
            state.nextWaiterID += 1
            return state.nextWaiterID
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let immediate: EventLogError?? = self.log.lock.withLock { state in
                    if state.closed { return .some(.closed) }
                    if state.generation != generation || Task.isCancelled { return .some(nil) }
                    state.consumerWaiters[id] = continuation
                    return nil
                }
                switch immediate {
                case .some(.some(let error)): continuation.resume(throwing: error)
                case .some(.none): continuation.resume()
                case .none: break
                }
            }
        } onCancel: {
            let waiter = self.log.lock.withLock { $0.consumerWaiters.removeValue(forKey: id) }
            waiter?.resume()
        }
    }

    private func readAvailable(maxRecords: Int) throws -> [LogRecord] {
        var records: [LogRecord] = []
        let count = self.partitionIDs.count
        let start = self.nextPartition.add(1, ordering: .relaxed).oldValue
        for step in 0..<count where records.count < maxRecords {
            let k = (start + step) % count
            try self.read(partitionAt: k, maxRecords: maxRecords - records.count, into: &records)
        }
        return records
    }

    /// Reads what is available from one partition, following it across segment boundaries.
    private func read(partitionAt k: Int, maxRecords: Int, into records: inout [LogRecord]) throws {
        let topicPartition = self.assignment[k]
        let id = self.partitionIDs[k]
        var cursor = self.cursors.withLock { $0[k] }
        var remaining = maxRecords
        var minimumRead = 0
        defer { self.cursors.withLock { $0[k] = cursor } }
        while remaining > 0 {
            // Locate the segment and the readable limit under the log's lock.
            let located: (segment: Segment, limit: Int, sealed: Bool, next: Int64?)? = self.log.lock.withLock { state in
                let segments = state.partitions[id].segments
                if let base = cursor.segmentBase, let k = segments.firstIndex(where: { $0.baseOffset == base }) {
                    let segment = segments[k]
                    let sealed = k < segments.count - 1
                    return (segment, segment.size, sealed, sealed ? segments[k + 1].baseOffset : nil)
                }
                // Locate by offset: the last segment whose base is at or before the cursor.
                if cursor.offset < segments[0].baseOffset { cursor.offset = segments[0].baseOffset }
                guard let k = segments.lastIndex(where: { $0.baseOffset <= cursor.offset }) else { return nil }
                let segment = segments[k]
                cursor.segmentBase = segment.baseOffset
                cursor.position = segment.startPosition(for: cursor.offset)
                let sealed = k < segments.count - 1
                return (segment, segment.size, sealed, sealed ? segments[k + 1].baseOffset : nil)
            }
            guard let located else { return }
            if cursor.position >= located.limit {
                guard located.sealed, let next = located.next else { return }
                cursor.segmentBase = next
                cursor.position = 0
                continue
            }
            let length = min(located.limit - cursor.position, max(Self.chunkSize, minimumRead))
            minimumRead = 0
            var buffer = [UInt8](repeating: 0, count: length)
            let read = try buffer.withUnsafeMutableBytes { raw in
                try FileIO.read(located.segment.fd, into: raw, at: cursor.position, path: located.segment.path)
            }
            var consumed = 0
            var progressed = false
            buffer.withUnsafeBytes { raw in
                let raw = UnsafeRawBufferPointer(rebasing: raw[0..<read])
                while remaining > 0, consumed < raw.count {
                    guard case .frame(let frame) = RecordCodec.decode(raw, at: consumed, verify: false) else { break }
                    consumed += frame.size
                    progressed = true
                    guard frame.offset >= cursor.offset else { continue }  // scanning forward after a seek
                    records.append(
                        LogRecord(
                            topicPartition: topicPartition,
                            offset: frame.offset,
                            appendedAtNanoseconds: frame.appendedAt,
                            payload: Array(raw[frame.payload])
                        )
                    )
                    cursor.offset = frame.offset + 1
                    remaining -= 1
                }
            }
            cursor.position += consumed
            if !progressed {
                // A record larger than the chunk: read again, exactly its size.
                guard read >= RecordCodec.headerSize else { return }
                let needed = RecordCodec.headerSize
                    + buffer.withUnsafeBytes { Int(UInt32(littleEndian: $0.loadUnaligned(as: UInt32.self))) }
                guard needed > read, needed <= located.limit - cursor.position else {
                    throw EventLogError.corrupt("unreadable record in \(located.segment.path) at \(cursor.position)")
                }
                minimumRead = needed
            }
        }
    }

    public func commit(_ positions: [TopicPartition: Int64]) async throws {
        var merged = try await self.committed()
        for (key, value) in positions { merged[key] = value }
        var text = ""
        for (topicPartition, offset) in merged.sorted(by: { $0.key < $1.key }) {
            text += "\(topicPartition.topic) \(topicPartition.partition) \(offset)\n"
        }
        try FileIO.makeDirectories(self.log.consumerDirectory)
        try FileIO.writeFileAtomically(
            "\(self.log.consumerDirectory)/\(self.group).offsets",
            Array(text.utf8),
            sync: self.log.configuration.durability == .fsync
        )
        // A retention group's commit moves what retention may delete (once it is durable, not before).
        if self.log.configuration.retentionGroups.contains(self.group) {
            self.log.lock.withLock { $0.retentionPositions[self.group] = merged }
        }
    }

    public func committed() async throws -> [TopicPartition: Int64] {
        try Self.readCommitted("\(self.log.consumerDirectory)/\(self.group).offsets")
    }

    /// Reads a group's offsets file (`topic partition offset` per line); empty when there is none.
    static func readCommitted(_ path: String) throws -> [TopicPartition: Int64] {
        guard FileIO.exists(path) else { return [:] }
        var result: [TopicPartition: Int64] = [:]
        for line in String(decoding: try FileIO.readFile(path), as: UTF8.self).split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count == 3, let partition = Int(fields[1]), let offset = Int64(fields[2]) else {
                throw EventLogError.corrupt("\(path) has a malformed line: \(line)")
            }
            result[TopicPartition(topic: String(fields[0]), partition: partition)] = offset
        }
        return result
    }
}
