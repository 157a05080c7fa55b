import Foundation
import Logging
import StarlingCore
import StarlingEventLog
import Testing

/// The logger handed to every log under test; expected recovery warnings are not printed.
let testLogger: Logger = {
    var logger = Logger(label: "starling.tests.eventlog")
    logger.logLevel = .error
    return logger
}()

/// Runs `body` with a fresh directory under the system's temporary directory, removing it afterwards.
func withTemporaryDirectory<R>(_ body: (String) async throws -> R) async throws -> R {
    let url = FileManager.default.temporaryDirectory
        .appendingPathComponent("starling-eventlog-tests-\(UUID().uuidString)", isDirectory: true)
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: url) }
    return try await body(url.path)
}

/// Opens a log, runs `body` with it and always closes it, even when `body` throws.
@discardableResult
func withLog<R>(
    _ configuration: SegmentedEventLog.Configuration,
    _ body: (SegmentedEventLog) async throws -> R
) async throws -> R {
    let log = try SegmentedEventLog.open(configuration: configuration, logger: testLogger)
    do {
        let result = try await body(log)
        await log.close()
        return result
    } catch {
        await log.close()
        throw error
    }
}

/// Polls until `count` records have been read, or `timeout` has passed (so that a lost wake-up fails the test
/// instead of hanging the suite). Returns what was read.
func readRecords(
    _ consumer: SegmentedEventLogConsumer,
    count: Int,
    maxRecordsPerPoll: Int = 1_000,
    timeout: Duration = .seconds(10)
) async throws -> [LogRecord] {
    let collected = LockedBox<[LogRecord]>([])
    try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask {
            while true {
                let missing = count - collected.value.count
                if missing <= 0 { return }
                let batch = try await consumer.poll(maxRecords: min(missing, maxRecordsPerPoll))
                if batch.isEmpty { return }  // cancelled by the timeout
                collected.withLock { $0.append(contentsOf: batch) }
            }
        }
        group.addTask {
            try? await Task.sleep(for: timeout)
        }
        try await group.next()
        group.cancelAll()
        try await group.waitForAll()
    }
    return collected.value
}

/// Runs `operation`, giving up (and cancelling it) after `timeout`. Returns `nil` on timeout.
func withTimeout<T: Sendable>(
    _ timeout: Duration,
    _ operation: @escaping @Sendable () async throws -> T
) async throws -> T? {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await operation() }
        group.addTask {
            try? await Task.sleep(for: timeout)
            return nil
        }
        let first = try await group.next() ?? nil
        group.cancelAll()
        return first
    }
}

/// A payload of exactly `size` bytes that encodes `index`, e.g. `.......42`.
func payload(_ index: Int, size: Int = 10) -> [UInt8] {
    let digits = Array(String(index).utf8)
    precondition(digits.count <= size)
    return [UInt8](repeating: UInt8(ascii: "."), count: size - digits.count) + digits
}

/// The on-disk size of a record with a payload of `payloadSize` bytes: u32 length, u32 CRC, i64 offset,
/// i64 append time, payload.
func recordSize(payloadSize: Int) -> Int {
    24 + payloadSize
}

/// The path of a segment file: `<directory>/<topic>/<partition>/<20-digit base offset>.log`.
func segmentPath(_ directory: String, topic: String, partition: Int = 0, baseOffset: Int64 = 0) -> String {
    let digits = String(baseOffset)
    return "\(directory)/\(topic)/\(partition)/" + String(repeating: "0", count: 20 - digits.count) + digits + ".log"
}

/// The base offsets of the segment files of a partition, ascending.
func segmentBases(_ directory: String, topic: String, partition: Int = 0) throws -> [Int64] {
    try FileManager.default.contentsOfDirectory(atPath: "\(directory)/\(topic)/\(partition)")
        .filter { $0.hasSuffix(".log") }
        .compactMap { Int64($0.dropLast(4)) }
        .sorted()
}

func fileSize(_ path: String) throws -> Int {
    let attributes = try FileManager.default.attributesOfItem(atPath: path)
    return (attributes[.size] as? NSNumber)?.intValue ?? -1
}

/// Rewrites one byte of a file in place.
func modifyByte(_ path: String, at offset: Int, _ transform: (UInt8) -> UInt8) throws {
    var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    bytes[offset] = transform(bytes[offset])
    try Data(bytes).write(to: URL(fileURLWithPath: path))
}

/// Cuts `count` bytes off the end of a file.
func chop(_ path: String, bytes count: Int) throws {
    let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
    defer { try? handle.close() }
    let size = try handle.seekToEnd()
    try handle.truncate(atOffset: size - UInt64(count))
}

/// Appends `count` records, one `append` call each, so that every record is its own commit.
@discardableResult
func appendSequentially(
    _ log: SegmentedEventLog,
    topic: String,
    key: String = "k",
    range: Range<Int>,
    payloadSize: Int = 10
) async throws -> [LogPosition] {
    var positions: [LogPosition] = []
    for index in range {
        positions += try await log.append([LogAppend(topic: topic, key: key, payload: payload(index, size: payloadSize))])
    }
    return positions
}

/// A wall clock the test moves by hand (``SegmentedEventLog/Configuration/wallClock``).
final class ManualWallClock: Sendable {
    private let nanoseconds: LockedBox<Int64>

    init(nanoseconds: Int64) {
        self.nanoseconds = LockedBox(nanoseconds)
    }

    var now: Int64 { self.nanoseconds.value }

    func advance(by duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self.nanoseconds.withLock { $0 += seconds * 1_000_000_000 + attoseconds / 1_000_000_000 }
    }
}
