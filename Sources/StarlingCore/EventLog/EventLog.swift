/// A topic and one of its partitions: the unit of ordering in an ``EventLog``.
public struct TopicPartition: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var topic: String
    public var partition: Int

    public init(topic: String, partition: Int) {
        self.topic = topic
        self.partition = partition
    }

    public static func < (lhs: TopicPartition, rhs: TopicPartition) -> Bool {
        (lhs.topic, lhs.partition) < (rhs.topic, rhs.partition)
    }

    public var description: String { "\(self.topic)-\(self.partition)" }
}

/// A record to append: the log picks the partition from the hash of `key`.
public struct LogAppend: Sendable {
    /// The topic to write to.
    public var topic: String
    /// The partitioning key (the user id for events), so that one key's records stay in order.
    public var key: String
    /// The opaque record body.
    public var payload: [UInt8]

    public init(topic: String, key: String, payload: [UInt8]) {
        self.topic = topic
        self.key = key
        self.payload = payload
    }
}

/// Where an appended record landed.
public struct LogPosition: Hashable, Sendable {
    public var topicPartition: TopicPartition
    public var offset: Int64

    public init(topicPartition: TopicPartition, offset: Int64) {
        self.topicPartition = topicPartition
        self.offset = offset
    }
}

/// A record read back from the log.
public struct LogRecord: Sendable {
    public var topicPartition: TopicPartition
    /// The record's offset: increasing within its partition, and dense except where records were lost (an embedded
    /// log's recovery leaves a gap where it quarantined damage nothing else held).
    public var offset: Int64
    /// Wall-clock nanoseconds at which the log accepted the append (before it was made durable).
    public var appendedAtNanoseconds: Int64
    /// The record body.
    public var payload: [UInt8]

    public init(topicPartition: TopicPartition, offset: Int64, appendedAtNanoseconds: Int64, payload: [UInt8]) {
        self.topicPartition = topicPartition
        self.offset = offset
        self.appendedAtNanoseconds = appendedAtNanoseconds
        self.payload = payload
    }
}

/// The durable, partitioned, append-only source of truth for events.
///
/// The shape follows Kafka's so that a Kafka adapter implements it without changing the processor: topics with
/// partitions, dense offsets per partition, records routed by key, and consumers in named groups whose committed
/// positions the log keeps. Positions are always *the next offset to read*, as in Kafka.
public protocol EventLog: AnyObject, Sendable {
    /// The consumer type this log hands out.
    associatedtype Consumer: EventLogConsumer

    /// The topics this log holds.
    var topics: [String] { get }

    /// The number of partitions of `topic`.
    func partitionCount(of topic: String) -> Int

    /// Appends records and returns once every one of them is durable (per the log's durability setting).
    ///
    /// Records with the same topic and key keep their relative order.
    /// - Returns: The position of each record, in the order given.
    /// - Throws: ``EventLogError/overloaded`` when the log cannot keep up; nothing was written then.
    func append(_ records: [LogAppend]) async throws -> [LogPosition]

    /// The next offset to be written in every partition (the high watermark of durable records).
    func endOffsets() -> [TopicPartition: Int64]

    /// Creates a consumer of `topics` in consumer group `group`, positioned at the group's committed positions
    /// (the beginning of the log where it has none).
    func makeConsumer(group: String, topics: [String]) async throws -> Consumer
}

/// A reader of some topics' partitions, in a consumer group.
public protocol EventLogConsumer: AnyObject, Sendable {
    /// The partitions this consumer reads.
    var assignment: [TopicPartition] { get }

    /// Moves the read positions of the given partitions; others are unchanged.
    func seek(to positions: [TopicPartition: Int64]) async throws

    /// Returns the next records, waiting until at least one is available.
    ///
    /// Records of one partition come in offset order. Returns an empty array only when the task is cancelled.
    func poll(maxRecords: Int) async throws -> [LogRecord]

    /// The current read positions (next offset to read) of every assigned partition.
    func positions() -> [TopicPartition: Int64]

    /// Records the group's positions in the log.
    func commit(_ positions: [TopicPartition: Int64]) async throws

    /// The group's committed positions.
    func committed() async throws -> [TopicPartition: Int64]
}

/// An error from an ``EventLog``.
public struct EventLogError: Error, Hashable, Sendable, CustomStringConvertible {
    private enum Code: Hashable, Sendable {
        case overloaded
        case closed
        case unknownTopic
        case io
        case corrupt
        case configuration
        case recordTooLarge
        case stopped
        case diskFull
        case unavailable
    }

    private let code: Code
    /// Details of what went wrong.
    public let message: String

    private init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// The log cannot keep up with appends; retry later.
    public static let overloaded = Self(.overloaded, "the event log is not keeping up")
    /// The log cannot keep up with appends because its reader is this far behind; retry later.
    public static func overloaded(backlog records: Int64) -> Self {
        Self(.overloaded, "the stream processor is \(records) events behind")
    }
    /// The log was closed.
    public static let closed = Self(.closed, "the event log is closed")

    /// The topic does not exist.
    public static func unknownTopic(_ topic: String) -> Self { Self(.unknownTopic, "unknown topic '\(topic)'") }
    /// A system call failed.
    public static func io(_ message: String) -> Self { Self(.io, message) }
    /// Stored data does not decode.
    public static func corrupt(_ message: String) -> Self { Self(.corrupt, message) }
    /// A record is larger than the log stores; nothing of its batch was written.
    public static func recordTooLarge(_ bytes: Int, limit: Int) -> Self {
        Self(.recordTooLarge, "a record of \(bytes) bytes is larger than the log's limit of \(limit) bytes")
    }
    /// The log stopped accepting appends after a failure that leaves durability in doubt (a failed `fsync`): what it
    /// acknowledged before is kept, nothing more is acknowledged until it is reopened (restart the process).
    public static func stopped(_ reason: String) -> Self {
        Self(
            .stopped,
            "the event log has stopped accepting events after a storage failure (\(reason)); "
                + "nothing more is acknowledged until the server is restarted"
        )
    }
    /// A write was refused because the disk is full (`ENOSPC`) or the quota is used up (`EDQUOT`): nothing of the
    /// batch was stored or acknowledged, and what the failed write left behind was cut off. Unlike
    /// ``stopped(_:)`` this passes: the next append tries again, and succeeds once space is freed.
    public static func diskFull(_ message: String) -> Self {
        Self(
            .diskFull,
            "the disk holding the data directory is full (\(message)); nothing of this batch was stored: "
                + "retry once space is freed"
        )
    }
    /// The log's storage did not acknowledge an append, or did not answer: a remote log's brokers are down or refused
    /// the records. Records of the batch may have been written (a retry of an event with an `id` is de-duplicated);
    /// retry later.
    public static func unavailable(_ message: String) -> Self { Self(.unavailable, message) }
    /// The log's files do not match its configuration.
    public static func configuration(_ message: String) -> Self { Self(.configuration, message) }

    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(self.code) }

    public var description: String { "EventLogError: \(self.message)" }
}
