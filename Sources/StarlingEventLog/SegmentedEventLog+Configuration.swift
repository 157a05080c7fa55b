import StarlingCore

extension SegmentedEventLog {
    /// When an append counts as done.
    public struct Durability: Hashable, Sendable, CustomStringConvertible {
        enum Mode: Hashable { case fsync, buffered }
        let mode: Mode

        /// Acknowledge only after the data is on stable storage (`fdatasync`); concurrent appends share one sync
        /// (group commit). Survives power loss. The default.
        public static let fsync = Durability(mode: .fsync)
        /// Acknowledge once the data is in the operating system's buffers. Survives a crash of the process
        /// (including `kill -9`) but may lose the last moments of appends on power loss or a kernel crash.
        public static let buffered = Durability(mode: .buffered)

        public var description: String { self.mode == .fsync ? "fsync" : "buffered" }
    }

    /// Configuration of a ``SegmentedEventLog``.
    public struct Configuration: Sendable {
        /// The directory holding the log; created when missing.
        public var directory: String
        /// Topics and their partition counts. A topic's partition count is fixed when it is first created.
        public var topics: [String: Int]
        /// When appends are acknowledged. Defaults to ``Durability/fsync``.
        public var durability: Durability
        /// A segment is sealed and a new one started once it reaches this size. Defaults to 64 MiB.
        public var segmentBytes: Int
        /// Oldest sealed segments are deleted while a partition is larger than this. Defaults to 1 GiB.
        public var retentionBytes: Int
        /// Sealed segments whose newest record is older than this are deleted. Defaults to 7 days.
        public var retentionAge: Duration
        /// Appends are refused with ``EventLogError/overloaded`` while more than this many bytes wait to be
        /// written. Defaults to 64 MiB.
        public var maxPendingBytes: Int
        /// Consumer groups whose committed positions retention never passes: a sealed segment is deleted only once
        /// every one of these groups has committed a position past its last record (a group with no committed
        /// position holds the whole partition). When a group holds back a segment that size or age would delete,
        /// the log says so (a warning and `starling_log_retention_held_segments`). Defaults to none.
        public var retentionGroups: Set<String>
        /// When the flusher and retention run. Tests choose ``Maintenance/manual`` and drive them with
        /// ``SegmentedEventLog/flushNow()`` and ``SegmentedEventLog/enforceRetention()``.
        package var maintenance: Maintenance = .periodic
        /// Scripted `fsync` failures, for tests; `nil` in production.
        package var syncFaults: FileSyncFaults?
        /// Scripted full-disk write failures, for tests; `nil` in production.
        package var writeFaults: FileWriteFaults?
        /// The wall clock, in nanoseconds since the epoch: stamps appends and decides age-based retention.
        package var wallClock: @Sendable () -> Int64 = { WallClock.nanoseconds() }

        /// Creates a configuration.
        public init(
            directory: String,
            topics: [String: Int],
            durability: Durability = .fsync,
            segmentBytes: Int = 64 * 1_024 * 1_024,
            retentionBytes: Int = 1_024 * 1_024 * 1_024,
            retentionAge: Duration = .seconds(7 * 24 * 3_600),
            maxPendingBytes: Int = 64 * 1_024 * 1_024,
            retentionGroups: Set<String> = []
        ) {
            precondition(!topics.isEmpty, "a log needs at least one topic")
            precondition(topics.values.allSatisfy { $0 > 0 }, "partition counts must be positive")
            precondition(segmentBytes > 0 && retentionBytes > 0 && maxPendingBytes > 0, "sizes must be positive")
            self.directory = directory
            self.topics = topics
            self.durability = durability
            self.segmentBytes = segmentBytes
            self.retentionBytes = retentionBytes
            self.retentionAge = retentionAge
            self.maxPendingBytes = maxPendingBytes
            self.retentionGroups = retentionGroups
        }
    }

    /// When the log's background work runs.
    package struct Maintenance: Sendable {
        /// How often the flusher syncs partition files and retires journal files; `nil`: only on
        /// ``SegmentedEventLog/flushNow()`` and on close.
        package var flushInterval: Duration?
        /// How often the writer thread applies retention; `nil`: only on ``SegmentedEventLog/enforceRetention()``.
        package var retentionInterval: Duration?

        package init(flushInterval: Duration?, retentionInterval: Duration?) {
            self.flushInterval = flushInterval
            self.retentionInterval = retentionInterval
        }

        /// Flush about once a second, retention every 5 seconds: what a server runs.
        package static let periodic = Maintenance(flushInterval: .seconds(1), retentionInterval: .seconds(5))
        /// Nothing runs by itself: a test triggers each pass and waits for its outcome.
        package static let manual = Maintenance(flushInterval: nil, retentionInterval: nil)
    }
}
