public import StarlingCore
public import StarlingModels

/// The processor's state together with the log positions it covers: restoring it and replaying the log from
/// those positions rebuilds exactly the state of a processor that never stopped.
public struct Checkpoint: Sendable {
    /// The recommendation engine's learned state: encoded (a checkpoint read back), or a snapshot of the engine,
    /// encoded only as the checkpoint is written (so a whole encoding is never held in memory).
    public enum EngineState: Sendable {
        case encoded([UInt8])
        case snapshot(RecommendationEngine)
    }

    /// Next offset to read, per partition.
    public var positions: [TopicPartition: Int64]
    /// The recommendation engine's learned state (``RecommendationEngine/encode(into:)``), users' profiles included.
    public var engine: EngineState
    public var appliedIDs: [(id: String, time: Int64)]
    /// The item catalogue.
    public var catalog: [CatalogItem]
    /// The profiles of a checkpoint written in format 3 or earlier, which kept them apart from the engine's state;
    /// restoring moves them into the engine's records (``RecommendationEngine/replaceProfile(with:)``). Always
    /// empty for a checkpoint of the current format.
    public internal(set) var legacyProfiles: [UserProfile] = []

    public init(
        positions: [TopicPartition: Int64],
        engineState: [UInt8],
        appliedIDs: [(id: String, time: Int64)],
        catalog: [CatalogItem] = []
    ) {
        self.init(positions: positions, engine: .encoded(engineState), appliedIDs: appliedIDs, catalog: catalog)
    }

    public init(
        positions: [TopicPartition: Int64],
        engine: EngineState,
        appliedIDs: [(id: String, time: Int64)],
        catalog: [CatalogItem] = []
    ) {
        self.catalog = catalog
        self.positions = positions
        self.engine = engine
        self.appliedIDs = appliedIDs
    }

    /// The engine's learned state, encoded.
    public var engineState: [UInt8] {
        switch self.engine {
        case .encoded(let bytes):
            return bytes
        case .snapshot(let engine):
            var writer = BinaryWriter(capacity: 1 << 16)
            engine.encode(into: &writer)
            return writer.bytes
        }
    }
}

extension Checkpoint {
    static let magic: UInt32 = 0x4B43_5453  // "STCK"
    /// 5 moved the engine's state to the end, without a length, so that it can be written as a stream; 4 left out
    /// the profiles (the engine's state holds them). 4 and 3 are still read.
    private static let version: UInt8 = 5
    /// The checksum covers every byte after the magic number.
    static let checksumFrom = 4

    /// Writes the checkpoint up to its checksum: magic, version, positions, applied ids, catalogue, and the
    /// engine's state to the end (a streaming writer never holds all of it).
    public func write(into w: inout BinaryWriter) {
        w.write(Self.magic)
        w.write(Self.version)
        w.writeVarint(UInt64(self.positions.count))
        for (tp, offset) in self.positions.sorted(by: { $0.key < $1.key }) {
            w.write(tp.topic)
            w.writeVarint(UInt64(tp.partition))
            w.write(offset)
        }
        w.writeVarint(UInt64(self.appliedIDs.count))
        for (id, time) in self.appliedIDs {
            w.write(id)
            w.write(time)
            w.flushIfFull()
        }
        w.writeVarint(UInt64(self.catalog.count))
        for item in self.catalog {
            w.write(lengthPrefixed: CatalogChange.upsert(item).encoded())
            w.flushIfFull()
        }
        switch self.engine {
        case .encoded(let bytes): bytes.withUnsafeBytes { w.write(unprefixed: $0) }
        case .snapshot(let engine): engine.encode(into: &w)
        }
    }

    /// Encodes the checkpoint in memory: what ``write(into:)`` writes, and a CRC-32C of the bytes after the magic
    /// number at the end.
    public func encoded() -> [UInt8] {
        var w = BinaryWriter(capacity: 1 << 16)
        self.write(into: &w)
        let crc = w.bytes.withUnsafeBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[Self.checksumFrom...])) }
        w.write(crc)
        return w.bytes
    }

    /// Decodes what ``encoded()`` wrote, verifying its checksum.
    public init(decoding bytes: [UInt8]) throws(BinaryFormatError) {
        guard bytes.count >= 9 else { throw .truncated }
        let result = bytes.withUnsafeBytes { raw in
            Result { () throws(BinaryFormatError) -> Checkpoint in try Self.decode(raw) }
        }
        self = try result.get()
    }

    private static func decode(_ raw: UnsafeRawBufferPointer) throws(BinaryFormatError) -> Checkpoint {
        let body = UnsafeRawBufferPointer(rebasing: raw[checksumFrom..<(raw.count - 4)])
        let stored = UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: raw.count - 4, as: UInt32.self))
        guard CRC32C.checksum(body) == stored else { throw .malformed }
        var r = BinaryReader(UnsafeRawBufferPointer(rebasing: raw[0..<(raw.count - 4)]))
        guard try r.readUInt32() == magic else { throw .malformed }
        let format = try r.readUInt8()
        guard (3...version).contains(format) else { throw .malformed }
        var positions: [TopicPartition: Int64] = [:]
        for _ in 0..<(try r.readCount(elementSize: 10)) {
            let topic = try r.readString()
            let partition = try r.readVarint(atMost: 1 << 20)
            positions[TopicPartition(topic: topic, partition: partition)] = try r.readInt64()
        }
        var profiles: [UserProfile] = []
        if format == 3 {
            let profileCount = try r.readCount(elementSize: 36)
            profiles.reserveCapacity(profileCount)
            for _ in 0..<profileCount { profiles.append(try UserProfile(decoding: &r)) }
        }
        var engineState = format < 5 ? try r.readBytes() : []
        var ids: [(id: String, time: Int64)] = []
        for _ in 0..<(try r.readCount(elementSize: 9)) {
            let id = try r.readString()
            ids.append((id, try r.readInt64()))
        }
        var catalog: [CatalogItem] = []
        for _ in 0..<(try r.readCount()) {
            guard case .upsert(let item) = try CatalogChange(decoding: try r.readBytes()) else { throw .malformed }
            catalog.append(item)
        }
        if format >= 5 { engineState = r.readRemainingBytes() }
        guard r.remaining == 0 else { throw .malformed }
        var checkpoint = Checkpoint(positions: positions, engineState: engineState, appliedIDs: ids, catalog: catalog)
        checkpoint.legacyProfiles = profiles
        return checkpoint
    }
}
