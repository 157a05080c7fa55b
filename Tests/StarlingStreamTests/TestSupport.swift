import Foundation
import Logging
import StarlingCore
import StarlingEventLog
import StarlingModels
import StarlingStream

import Testing

/// A temporary directory removed when the test ends.
struct TemporaryDirectory: ~Copyable {
    let path: String

    init() {
        self.path = FileManager.default.temporaryDirectory.appendingPathComponent("starling-\(UUID().uuidString)").path
        try? FileManager.default.createDirectory(atPath: self.path, withIntermediateDirectories: true)
    }

    deinit {
        try? FileManager.default.removeItem(atPath: self.path)
    }
}

let testLogger = Logger(label: "starling.test")

func openLog(_ directory: String, partitions: Int = 2) throws -> SegmentedEventLog {
    let topics = Dictionary(uniqueKeysWithValues: EventSchema().topics.map { ($0, partitions) })
    return try SegmentedEventLog.open(
        configuration: .init(directory: "\(directory)/log", topics: topics),
        logger: testLogger
    )
}

/// Runs `processor` while `body` runs, then stops it by cancellation (which writes its final checkpoint).
func withRunningProcessor<R>(
    _ processor: StreamProcessor<SegmentedEventLog>,
    _ body: () async throws -> R
) async throws -> R {
    try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await processor.run() }
        let result: R
        do {
            result = try await body()
        } catch {
            group.cancelAll()
            throw error
        }
        group.cancelAll()
        try await group.waitForAll()
        return result
    }
}

func event(_ type: EventType, user: String, item: String?, id: String? = nil, at ms: Int64, value: Double? = nil) -> Event {
    Event(type: type, user: user, item: item, id: id, timestamp: EventTime(milliseconds: ms), value: value)
}

/// A checkpoint in format 3 or 4, as written before the engine's state moved to the end: positions, (in format 3,
/// from before the profiles moved into the engine's state) profiles, engine state with its length, applied ids, an
/// empty catalogue and the CRC-32C.
func legacyCheckpoint(
    format: UInt8,
    positions: [TopicPartition: Int64],
    profiles: [UserProfile] = [],
    engineState: [UInt8],
    appliedIDs: [(id: String, time: Int64)] = []
) -> [UInt8] {
    var w = BinaryWriter(capacity: 256)
    w.write(UInt32(0x4B43_5453))
    w.write(format)
    w.writeVarint(UInt64(positions.count))
    for (partition, offset) in positions {
        w.write(partition.topic)
        w.writeVarint(UInt64(partition.partition))
        w.write(offset)
    }
    if format == 3 {
        w.writeVarint(UInt64(profiles.count))
        for profile in profiles { profile.encode(into: &w) }
    }
    w.write(lengthPrefixed: engineState)
    w.writeVarint(UInt64(appliedIDs.count))
    for (id, time) in appliedIDs {
        w.write(id)
        w.write(time)
    }
    w.writeVarint(0)
    let crc = w.bytes.withUnsafeBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[4...])) }
    w.write(crc)
    return w.bytes
}
