public import Logging
import Metrics
public import ServiceLifecycle
public import StarlingCore
public import StarlingModels
public import StarlingRedis

/// Publishes the processor's model snapshot to Redis for API processes (see ``SnapshotFollower``).
///
/// Every ``Configuration/interval``, if the engine learned or was retrained, or the catalogue changed, or the
/// snapshot is missing from Redis (Redis restarted empty), it writes the engine and catalogue in chunks under a new
/// generation, then the manifest that points at them; the previous generation's chunks expire
/// ``Configuration/retiredLifetime`` later, so a follower still reading them finishes (one that is slower fails
/// that load and loads the new generation at its next check).
public final class SnapshotExporter: Service {
    /// Configuration of a ``SnapshotExporter``.
    public struct Configuration: Sendable {
        public var keys: RedisKeys
        /// How often to check for changes. Defaults to 15 seconds.
        public var interval: Duration
        /// Bytes per chunk (Redis strings are limited to 512 MiB). Defaults to 8 MiB.
        public var chunkBytes: Int
        /// How long a replaced generation's chunks stay readable. Defaults to 10 seconds.
        public var retiredLifetime: Duration
        /// The settings every process serving from these snapshots must share (the model settings and the event
        /// types that invalidate cached lists), in a canonical text form; followers with other settings refuse the
        /// snapshots. Defaults to empty.
        public var settings: String

        public init(
            keys: RedisKeys = .init(),
            interval: Duration = .seconds(15),
            chunkBytes: Int = 8 << 20,
            retiredLifetime: Duration = .seconds(10),
            settings: String = ""
        ) {
            precondition(chunkBytes > 0, "chunks must not be empty")
            self.keys = keys
            self.interval = interval
            self.chunkBytes = chunkBytes
            self.retiredLifetime = retiredLifetime
            self.settings = settings
        }
    }

    private struct Signature: Equatable {
        var eventCount: UInt64
        var modelVersion: UInt64
        var catalogVersion: UInt64
    }

    public let configuration: Configuration
    private let redis: RedisClient
    private let engine: EngineStore
    private let catalog: ItemCatalog
    private let catalogChangeID: @Sendable () -> String?
    private let appliedStreamID: @Sendable () -> String?
    private let logger: Logger
    private let exported = LockedBox<(signature: Signature, generation: Int64)?>(nil)
    private let exports = Counter(label: "starling_snapshot_exports_total")
    private let failures = Counter(label: "starling_snapshot_export_failures_total")
    private let duration = Timer(label: "starling_snapshot_export_duration_seconds")
    private let size = Gauge(label: "starling_snapshot_bytes")

    /// - Parameters:
    ///   - catalogChangeID: The id of the latest catalogue change written to Redis's change stream.
    ///   - appliedStreamID: The id of the latest applied-events entry written to Redis.
    public init(
        redis: RedisClient,
        engine: EngineStore,
        catalog: ItemCatalog,
        catalogChangeID: @escaping @Sendable () -> String?,
        appliedStreamID: @escaping @Sendable () -> String? = { nil },
        configuration: Configuration = .init(),
        logger: Logger
    ) {
        self.appliedStreamID = appliedStreamID
        self.redis = redis
        self.engine = engine
        self.catalog = catalog
        self.catalogChangeID = catalogChangeID
        self.configuration = configuration
        self.logger = logger
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    try await self.exportIfChanged()
                } catch {
                    self.failures.increment()
                    self.logger.warning("Exporting the model snapshot to Redis failed", metadata: ["starling.redis.error": "\(error)"])
                }
                try? await Task.sleep(for: self.configuration.interval)
            }
        }
    }

    /// Exports a snapshot if anything changed since the last export or Redis lost it; returns whether it did.
    @discardableResult
    public func exportIfChanged() async throws -> Bool {
        let keys = self.configuration.keys
        let (eventCount, modelVersion) = self.engine.read { ($0.eventCount, $0.modelVersion) }
        let signature = Signature(eventCount: eventCount, modelVersion: modelVersion, catalogVersion: self.catalog.version)
        let previous = self.exported.value
        if let previous, previous.signature == signature {
            let exists = try await self.redis.send(["EXISTS", keys.manifest])
            if exists.integer == 1 { return false }
        }
        let started = ContinuousClock.now
        // The change id is read before the catalogue: replaying the stream after it re-applies only changes the
        // catalogue already has (upserts and deletes are idempotent), never skips one.
        let changeID = self.catalogChangeID()
        // Likewise for applied events: replicas skip the events the engine already counts.
        let appliedID = self.appliedStreamID()
        let snapshot = ModelSnapshot(
            engine: self.engine.snapshot(),
            catalog: self.catalog.all(),
            catalogChangeID: changeID,
            appliedStreamID: appliedID
        )
        let bytes = snapshot.encoded()
        let generation = max(WallClock.nanoseconds() / 1_000_000, (previous?.generation ?? 0) + 1)
        let chunkBytes = self.configuration.chunkBytes
        var chunkCount = 0
        for start in stride(from: 0, to: max(bytes.count, 1), by: chunkBytes) {
            let chunk = Array(bytes[start..<min(bytes.count, start + chunkBytes)])
            try await self.redis.set(keys.chunk(generation: generation, index: chunkCount), chunk)
            chunkCount += 1
        }
        let manifest = SnapshotManifest(
            generation: generation,
            chunkCount: chunkCount,
            byteCount: bytes.count,
            checksum: bytes.withUnsafeBytes { CRC32C.checksum($0) },
            modelVersion: snapshot.engine.modelVersion,
            eventCount: snapshot.engine.eventCount,
            settings: self.configuration.settings
        )
        let old = try await self.redis.get(keys.manifest).flatMap { try? SnapshotManifest(decoding: $0) }
        try await self.redis.set(keys.manifest, manifest.encoded())
        if let old, old.generation != generation {
            let lifetime = String(max(1, self.configuration.retiredLifetime.wholeMilliseconds))
            _ = try await self.redis.pipeline(
                (0..<old.chunkCount).map { ["PEXPIRE", keys.chunk(generation: old.generation, index: $0), lifetime] }
            )
        }
        self.exported.withLock { $0 = (signature, generation) }
        self.exports.increment()
        self.size.record(bytes.count)
        self.duration.recordNanoseconds((ContinuousClock.now - started).wholeNanoseconds)
        return true
    }
}
