package import StarlingCore
package import StarlingModels

/// What `{prefix}model:meta` holds: where the current model snapshot's chunks are and how to check them.
public struct SnapshotManifest: Hashable, Sendable {
    /// Identifies the snapshot's chunks; increases with every export (wall-clock milliseconds).
    public var generation: Int64
    public var chunkCount: Int
    public var byteCount: Int
    /// CRC-32C of the snapshot's bytes.
    public var checksum: UInt32
    public var modelVersion: UInt64
    public var eventCount: UInt64
    /// The serving settings of the process that published the snapshot (see
    /// ``SnapshotExporter/Configuration/settings``): followers with other settings refuse it.
    public var settings: String

    static let formatVersion: UInt8 = 3

    package func encoded() -> [UInt8] {
        var w = BinaryWriter(capacity: 64)
        w.write(Self.formatVersion)
        w.write(self.generation)
        w.writeVarint(UInt64(self.chunkCount))
        w.writeVarint(UInt64(self.byteCount))
        w.write(self.checksum)
        w.write(self.modelVersion)
        w.write(self.eventCount)
        w.write(self.settings)
        return w.bytes
    }

    package init(
        generation: Int64,
        chunkCount: Int,
        byteCount: Int,
        checksum: UInt32,
        modelVersion: UInt64,
        eventCount: UInt64,
        settings: String
    ) {
        self.generation = generation
        self.chunkCount = chunkCount
        self.byteCount = byteCount
        self.checksum = checksum
        self.modelVersion = modelVersion
        self.eventCount = eventCount
        self.settings = settings
    }

    package init(decoding bytes: [UInt8]) throws(BinaryFormatError) {
        let result = bytes.withUnsafeBytes { raw in
            Result { () throws(BinaryFormatError) -> SnapshotManifest in
                var r = BinaryReader(raw)
                guard try r.readUInt8() == Self.formatVersion else { throw .malformed }
                let generation = try r.readInt64()
                let chunks = try r.readVarint()
                let bytes = try r.readVarint()
                guard chunks < 1 << 20, bytes < 1 << 40 else { throw .malformed }
                return SnapshotManifest(
                    generation: generation,
                    chunkCount: Int(chunks),
                    byteCount: Int(bytes),
                    checksum: try r.readUInt32(),
                    modelVersion: try r.readUInt64(),
                    eventCount: try r.readUInt64(),
                    settings: try r.readString()
                )
            }
        }
        self = try result.get()
    }
}

/// The contents of a model snapshot: the engine, the catalogue, the id of the latest catalogue change the
/// catalogue includes (changes after it are read from the stream), and the id of an applied-events entry at or
/// before the engine's state (entries after it are replayed, skipping events the engine already counts).
package struct ModelSnapshot: Sendable {
    package var engine: RecommendationEngine
    package var catalog: [CatalogItem]
    /// The stream id from which catalogue changes are to be replayed on top (`nil`: from the start).
    package var catalogChangeID: String?
    /// The stream id from which applied events are to be replayed on top (`nil`: from the start).
    package var appliedStreamID: String?

    package func encoded() -> [UInt8] {
        var w = BinaryWriter(capacity: 1 << 20)
        w.write(optional: self.catalogChangeID)
        w.write(optional: self.appliedStreamID)
        w.writeVarint(UInt64(self.catalog.count))
        for item in self.catalog { w.write(lengthPrefixed: CatalogChange.upsert(item).encoded()) }
        self.engine.encode(into: &w)
        return w.bytes
    }

    package init(engine: RecommendationEngine, catalog: [CatalogItem], catalogChangeID: String?, appliedStreamID: String?) {
        self.engine = engine
        self.catalog = catalog
        self.catalogChangeID = catalogChangeID
        self.appliedStreamID = appliedStreamID
    }

    package init(decoding bytes: [UInt8], configuration: RecommendationEngine.Configuration) throws(BinaryFormatError) {
        let result = bytes.withUnsafeBytes { raw in
            Result { () throws(BinaryFormatError) -> ModelSnapshot in
                var r = BinaryReader(raw)
                let changeID = try r.readOptionalString()
                let appliedID = try r.readOptionalString()
                var catalog: [CatalogItem] = []
                for _ in 0..<(try r.readVarint()) {
                    guard case .upsert(let item) = try CatalogChange(decoding: try r.readBytes()) else { throw .malformed }
                    catalog.append(item)
                }
                let engine = try RecommendationEngine(configuration: configuration, decoding: &r)
                guard r.remaining == 0 else { throw .malformed }
                return ModelSnapshot(engine: engine, catalog: catalog, catalogChangeID: changeID, appliedStreamID: appliedID)
            }
        }
        self = try result.get()
    }
}
