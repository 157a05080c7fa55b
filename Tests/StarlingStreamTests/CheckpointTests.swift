import Foundation
import StarlingCore
import StarlingModels
import StarlingStream
import Synchronization
import Testing

struct CheckpointTests {
    /// A checkpoint written to a full disk fails with ``EventLogError/diskFull(_:)``, leaves the previous checkpoint
    /// as it was and no temporary file behind (which would keep holding the space), and the next attempt succeeds
    /// once there is room. The full disk is real: the temporary file is a link to `/dev/full`, whose writes fail
    /// with `ENOSPC`.
    @Test func aCheckpointThatFindsTheDiskFullKeepsThePreviousOne() async throws {
        let directory = TemporaryDirectory()
        let store = try FileCheckpointStore(directory: directory.path)
        let first = Checkpoint(positions: [TopicPartition(topic: "views", partition: 0): 10], engineState: [1], appliedIDs: [])
        try await store.save(first)
        let temporary = store.path + ".tmp"
        try FileManager.default.createSymbolicLink(atPath: temporary, withDestinationPath: "/dev/full")

        let second = Checkpoint(positions: [TopicPartition(topic: "views", partition: 0): 20], engineState: [2], appliedIDs: [])
        await #expect(throws: EventLogError.diskFull("")) { try await store.save(second) }
        #expect(try await store.load()?.positions == first.positions)
        #expect(!FileManager.default.fileExists(atPath: temporary))

        try await store.save(second)
        #expect(try await store.load()?.positions == second.positions)
    }

    @Test func roundTripsEveryField() throws {
        let checkpoint = Checkpoint(
            positions: [TopicPartition(topic: "views", partition: 1): 42, TopicPartition(topic: "feedback", partition: 0): 7],
            engineState: [1, 2, 3, 250],
            appliedIDs: [("id-1", 10), ("id-2", 20)]
        )
        let decoded = try Checkpoint(decoding: checkpoint.encoded())
        #expect(decoded.positions == checkpoint.positions)
        #expect(decoded.legacyProfiles.isEmpty)
        #expect(decoded.engineState == [1, 2, 3, 250])
        #expect(decoded.appliedIDs.map(\.id) == ["id-1", "id-2"])
    }

    @Test func readsTheProfilesOfAFormat3Checkpoint() throws {
        var profile = UserProfile(user: "ü-1")
        profile.apply(Event(type: .like, user: "ü-1", item: "x", timestamp: .seconds(5)))
        profile.apply(Event(type: .view, user: "ü-1", item: "y", timestamp: .seconds(7)))
        let bytes = legacyCheckpoint(
            format: 3,
            positions: [TopicPartition(topic: "views", partition: 1): 42],
            profiles: [profile, UserProfile(user: "empty")],
            engineState: [9, 8],
            appliedIDs: [("id-1", 10)]
        )

        let decoded = try Checkpoint(decoding: bytes)

        #expect(decoded.positions == [TopicPartition(topic: "views", partition: 1): 42])
        #expect(Set(decoded.legacyProfiles.map(\.user)) == ["ü-1", "empty"])
        #expect(decoded.legacyProfiles.first { $0.user == "ü-1" } == profile)
        #expect(decoded.engineState == [9, 8])
        #expect(decoded.appliedIDs.map(\.id) == ["id-1"])
    }

    @Test func readsAFormat4Checkpoint() throws {
        let bytes = legacyCheckpoint(
            format: 4,
            positions: [TopicPartition(topic: "views", partition: 0): 3],
            engineState: [5, 4, 3],
            appliedIDs: [("id-9", 90)]
        )

        let decoded = try Checkpoint(decoding: bytes)

        #expect(decoded.positions == [TopicPartition(topic: "views", partition: 0): 3])
        #expect(decoded.legacyProfiles.isEmpty)
        #expect(decoded.engineState == [5, 4, 3])
        #expect(decoded.appliedIDs.map(\.id) == ["id-9"])
    }

    /// An engine that learned from a few users, so that its state spans many small chunks.
    private static func learnedEngine() -> RecommendationEngine {
        var engine = RecommendationEngine()
        for n in 0..<300 {
            engine.learn(Event(type: .view, user: "user-\(n % 40)", item: "item-\(n % 23)", timestamp: .seconds(Int64(n))))
        }
        return engine
    }

    /// What a streaming writer hands over, in order.
    private final class CollectingSink: BinaryWriterSink {
        let bytes = Mutex<[UInt8]>([])
        let handOvers = Mutex(0)

        func consume(_ bytes: UnsafeRawBufferPointer) {
            self.bytes.withLock { $0.append(contentsOf: bytes) }
            self.handOvers.withLock { $0 += 1 }
        }
    }

    @Test func aCheckpointWrittenAsAStreamIsTheEncodedOne() throws {
        let engine = Self.learnedEngine()
        let checkpoint = Checkpoint(
            positions: [TopicPartition(topic: "views", partition: 0): 300],
            engine: .snapshot(engine),
            appliedIDs: [("id-1", 1)]
        )
        let sink = CollectingSink()
        var writer = BinaryWriter(streamingTo: sink, chunkSize: 64)
        checkpoint.write(into: &writer)
        #expect(writer.bytes.count < 64 + 64, "a streaming writer keeps about one chunk")
        writer.flush()
        let streamed = sink.bytes.withLock { $0 }

        let encoded = checkpoint.encoded()
        #expect(streamed == Array(encoded.dropLast(4)))
        #expect(sink.handOvers.withLock { $0 } > encoded.count / 64 / 4, "the state was handed over in pieces")
        var whole = BinaryWriter()
        engine.encode(into: &whole)
        #expect(try Checkpoint(decoding: encoded).engineState == whole.bytes)
    }

    @Test func theFileStoreWritesASnapshotAndReadsItBack() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("starling-checkpoint-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try FileCheckpointStore(directory: directory)
        let engine = Self.learnedEngine()
        let checkpoint = Checkpoint(
            positions: [TopicPartition(topic: "views", partition: 2): 17],
            engine: .snapshot(engine),
            appliedIDs: [("id-1", 1), ("id-2", 2)],
            catalog: [CatalogItem(id: "item-1", category: "films", updatedAt: .seconds(1))]
        )

        try await store.save(checkpoint)
        let loaded = try #require(try await store.load())

        #expect(FileManager.default.contents(atPath: store.path).map(Array.init) == checkpoint.encoded())
        #expect(loaded.positions == checkpoint.positions)
        #expect(loaded.appliedIDs.map(\.id) == ["id-1", "id-2"])
        #expect(loaded.catalog.map(\.id) == ["item-1"])
        #expect(loaded.engineState == checkpoint.engineState)
        #expect(!FileManager.default.fileExists(atPath: store.path + ".tmp"))
    }

    @Test func rejectsACorruptedCheckpoint() {
        var bytes = Checkpoint(positions: [:], engineState: [7, 7, 7, 7], appliedIDs: [("a", 1)]).encoded()
        bytes[bytes.count / 2] ^= 0xFF
        #expect(throws: BinaryFormatError.self) { try Checkpoint(decoding: bytes) }
    }
}
