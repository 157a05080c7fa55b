public import StarlingCore

/// The processor's state together with the log positions it covers: restoring it and replaying the log from
/// those positions rebuilds exactly the state of a processor that never stopped.
public struct Checkpoint: Sendable {
    /// Next offset to read, per partition.
    public var positions: [TopicPartition: Int64]
    /// The recommendation engine's learned state (``RecommendationEngine/encode(into:)``), users' profiles included.
    public var engineState: [UInt8]
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
        self.catalog = catalog
        self.positions = positions
        self.engineState = engineState
        self.appliedIDs = appliedIDs
    }
}

extension Checkpoint {
    private static let magic: UInt32 = 0x4B43_5453  // "STCK"
    /// 4 left out the profiles (the engine's state holds them); 3 is still read.
    private static let version: UInt8 = 4

    /// Encodes the checkpoint: magic, version, body, and a CRC-32C of the body at the end.
    public func encoded() -> [UInt8] {
        var w = BinaryWriter(capacity: 1 << 16)
        w.write(Self.magic)
        w.write(Self.version)
        w.writeVarint(UInt64(self.positions.count))
        for (tp, offset) in self.positions.sorted(by: { $0.key < $1.key }) {
            w.write(tp.topic)
            w.writeVarint(UInt64(tp.partition))
            w.write(offset)
        }
        w.write(lengthPrefixed: self.engineState)
        w.writeVarint(UInt64(self.appliedIDs.count))
        for (id, time) in self.appliedIDs {
            w.write(id)
            w.write(time)
        }
        w.writeVarint(UInt64(self.catalog.count))
        for item in self.catalog { w.write(lengthPrefixed: CatalogChange.upsert(item).encoded()) }
        let crc = w.bytes.withUnsafeBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[4...])) }
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
        let body = UnsafeRawBufferPointer(rebasing: raw[4..<(raw.count - 4)])
        let stored = UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: raw.count - 4, as: UInt32.self))
        guard CRC32C.checksum(body) == stored else { throw .malformed }
        var r = BinaryReader(UnsafeRawBufferPointer(rebasing: raw[0..<(raw.count - 4)]))
        guard try r.readUInt32() == magic else { throw .malformed }
        let format = try r.readUInt8()
        guard format == version || format == 3 else { throw .malformed }
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
        let engineState = try r.readBytes()
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
        guard r.remaining == 0 else { throw .malformed }
        var checkpoint = Checkpoint(positions: positions, engineState: engineState, appliedIDs: ids, catalog: catalog)
        checkpoint.legacyProfiles = profiles
        return checkpoint
    }
}
