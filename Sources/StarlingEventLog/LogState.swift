import Foundation
package import StarlingCore

/// The per-partition state guarded by the log's lock.
struct PartitionState {
    let topicPartition: TopicPartition
    let directory: String
    /// Sealed segments, then the active one (always at least one).
    var segments: [Segment]
    /// The next offset to assign.
    var nextOffset: Int64
    /// Framed records waiting for the writer.
    var pending: [UInt8] = []
    /// Offset of the first pending record.
    var pendingFirstOffset: Int64 = 0
    /// Append time of the newest pending record.
    var pendingNewestAppend: Int64 = 0

    init(topicPartition: TopicPartition, directory: String, segments: [Segment]) {
        self.topicPartition = topicPartition
        self.directory = directory
        self.segments = segments
        self.nextOffset = segments.last!.nextOffset
    }

    mutating func enqueue(_ record: UnsafeRawBufferPointer, appendedAt: Int64) {
        if self.pending.isEmpty { self.pendingFirstOffset = self.nextOffset }
        self.pending.append(contentsOf: record)
        self.pendingNewestAppend = appendedAt
        self.nextOffset += 1
    }
}

/// Everything the log's lock guards.
struct LogState {
    var partitions: [PartitionState]
    var pendingBytes = 0
    var appendWaiters: [CheckedContinuation<Void, any Error>] = []
    var consumerWaiters: [Int: CheckedContinuation<Void, any Error>] = [:]
    var nextWaiterID = 0
    /// Increments after every commit, so consumers can wait for "anything newer than what I saw".
    var generation: UInt64 = 0
    var closing = false
    var closed = false
    var closeWaiters: [CheckedContinuation<Void, Never>] = []
    /// Set when a write or sync failed: the log refuses appends from then on.
    var failure: EventLogError?
    /// A run of commits refused because the disk was full, since the last commit that succeeded.
    struct DiskFull {
        /// The latest refusal.
        var error: EventLogError
        var since: ContinuousClock.Instant
        var refusedAppends = 0
    }
    /// Set while the latest commit was refused for a full disk; cleared by the next commit that succeeds.
    var diskFull: DiskFull?
    /// Segments written since the flusher last synced them (journaled durability only).
    var unflushedSegments: [ObjectIdentifier: Segment] = [:]
    /// Partition directories that gained a segment file since the flusher last synced them.
    var unflushedDirectories: Set<String> = []
    /// The journal file the latest commit went to.
    var journalSequence: UInt64 = 0
    /// Callers of ``SegmentedEventLog/enforceRetention()`` waiting for the writer thread's next retention pass.
    var retentionRequests: [CheckedContinuation<RetentionPass, Never>] = []
    /// The committed positions of each retention group (``SegmentedEventLog/Configuration/retentionGroups``):
    /// read from its offsets file on open, replaced on every commit.
    var retentionPositions: [String: [TopicPartition: Int64]] = [:]
    /// Whether the last retention pass was held back, so that the log says so when it starts and stops.
    var retentionHeld = false
}

/// What one retention pass did.
package struct RetentionPass: Sendable {
    /// The segment files deleted.
    package var deleted: [String] = []
    /// Per partition, the sealed segments that size or age would have deleted but that a retention group
    /// (``SegmentedEventLog/Configuration/retentionGroups``) has not consumed yet.
    package var held: [TopicPartition: Int] = [:]
}

/// A mutex with a condition variable, for the writer thread to sleep on.
final class LogLock: @unchecked Sendable {
    // @unchecked: `state` is only accessed inside `withLock`, which holds `condition`.
    private let condition = NSCondition()
    private var state: LogState

    init(state: LogState) {
        self.state = state
    }

    func withLock<R>(_ body: (inout LogState) throws -> R) rethrows -> R {
        self.condition.lock()
        defer { self.condition.unlock() }
        return try body(&self.state)
    }

    /// Waits, with the lock held by `body`'s caller protocol: locks, waits while `shouldWait` is true or until
    /// `deadline` (without one: until signalled), then runs `body` under the lock.
    func waitThen<R>(until deadline: Date?, while shouldWait: (LogState) -> Bool, _ body: (inout LogState) -> R) -> R {
        self.condition.lock()
        defer { self.condition.unlock() }
        while shouldWait(self.state) {
            if let deadline {
                if !self.condition.wait(until: deadline) { break }
            } else {
                // `wait(until: .distantFuture)` traps on Linux (the deadline overflows a timespec).
                self.condition.wait()
            }
        }
        return body(&self.state)
    }

    func signal() {
        self.condition.lock()
        self.condition.signal()
        self.condition.unlock()
    }
}
