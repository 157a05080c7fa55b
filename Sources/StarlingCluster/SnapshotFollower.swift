public import Logging
import Metrics
public import ServiceLifecycle
public import StarlingCore
public import StarlingModels
public import StarlingRedis
import StarlingStream

/// Keeps an API process's engine and catalogue in step with what the processor publishes to Redis: a model
/// replica.
///
/// Every ``Configuration/snapshotInterval`` it reads the snapshot manifest and, when the generation changed, loads
/// the snapshot (engine and catalogue) and installs it. Every ``Configuration/catalogInterval`` it replays into the
/// engine the events the processor applied since (the `applied` stream, a write slice per entry, skipping events
/// the engine already counts), and applies the catalogue changes added since — so co-occurrence, trending and the
/// catalogue stay within that interval of the processor's, rather than a snapshot interval behind. The retrained
/// embeddings still arrive with the next snapshot. Redis being unreachable only delays all of it.
public final class SnapshotFollower: Service {
    /// Configuration of a ``SnapshotFollower``.
    public struct Configuration: Sendable {
        public var keys: RedisKeys
        /// How often the manifest is checked. Defaults to 1 second.
        public var snapshotInterval: Duration
        /// How often the applied-events and catalogue change streams are read. Defaults to 100 milliseconds.
        public var catalogInterval: Duration
        /// This process's settings, compared with the publisher's (``SnapshotExporter/Configuration/settings``).
        public var settings: String

        public init(
            keys: RedisKeys = .init(),
            snapshotInterval: Duration = .seconds(1),
            catalogInterval: Duration = .milliseconds(100),
            settings: String = ""
        ) {
            self.keys = keys
            self.snapshotInterval = snapshotInterval
            self.catalogInterval = catalogInterval
            self.settings = settings
        }
    }

    /// What the follower has installed.
    public struct Status: Sendable {
        /// The generation of the installed snapshot, `nil` before the first.
        public var generation: Int64?
        /// The latest catalogue change applied.
        public var catalogChangeID: String?
        /// The latest applied-events entry replayed.
        public var appliedStreamID: String?
        /// The processor's sequence number of the latest event the engine learned.
        public var appliedSequence: UInt64 = 0
        /// Whether the applied-events stream was read to its end since the snapshot was installed.
        public var caughtUp = false
        /// The latest error, cleared by a success.
        public var lastError: String?
    }

    public let configuration: Configuration
    private let redis: RedisClient
    private let engine: EngineStore
    private let engineConfiguration: RecommendationEngine.Configuration
    private let trending: SnapshotPublisher<TrendingSnapshot>
    private let catalog: ItemCatalog
    private let logger: Logger
    private let state = LockedBox(Status())
    private let loads = Counter(label: "starling_snapshot_loads_total")
    private let replayed = Counter(label: "starling_applied_stream_entries_total")
    private let gaps = Counter(label: "starling_applied_stream_gaps_total")

    public init(
        redis: RedisClient,
        engine: EngineStore,
        engineConfiguration: RecommendationEngine.Configuration,
        trending: SnapshotPublisher<TrendingSnapshot>,
        catalog: ItemCatalog,
        configuration: Configuration = .init(),
        logger: Logger
    ) {
        self.redis = redis
        self.engine = engine
        self.engineConfiguration = engineConfiguration
        self.trending = trending
        self.catalog = catalog
        self.configuration = configuration
        self.logger = logger
    }

    public var status: Status {
        self.state.value
    }

    /// Whether a snapshot has been installed.
    public var hasSnapshot: Bool {
        self.status.generation != nil
    }

    /// Whether the process can serve what the processor serves: a snapshot installed and the events applied since
    /// replayed up to the end of the stream.
    public var isReady: Bool {
        let status = self.status
        return status.generation != nil && status.caughtUp
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            var lastSnapshotCheck: ContinuousClock.Instant?
            while !Task.isCancelled {
                do {
                    if lastSnapshotCheck.map({ ContinuousClock.now - $0 >= self.configuration.snapshotInterval }) ?? true {
                        lastSnapshotCheck = .now
                        try await self.loadIfChanged()
                    }
                    try await self.applyCatalogChanges()
                    try await self.replayAppliedEvents()
                    self.state.withLock { $0.lastError = nil }
                } catch {
                    let first = self.state.withLock { state -> Bool in
                        defer { state.lastError = "\(error)" }
                        return state.lastError == nil
                    }
                    if first {
                        self.logger.warning(
                            "Following the model snapshot in Redis failed; serving what is installed",
                            metadata: ["starling.redis.error": "\(error)"]
                        )
                    }
                }
                try? await Task.sleep(for: self.configuration.catalogInterval)
            }
        }
    }

    /// Loads and installs the published snapshot if its generation differs from the installed one; returns whether
    /// it did.
    @discardableResult
    public func loadIfChanged() async throws -> Bool {
        let keys = self.configuration.keys
        guard let raw = try await self.redis.get(keys.manifest) else { return false }
        let manifest: SnapshotManifest
        do {
            manifest = try SnapshotManifest(decoding: raw)
        } catch {
            throw RedisError.unexpectedReply("the model snapshot manifest is not readable: \(error)")
        }
        guard manifest.generation != self.status.generation else { return false }
        guard manifest.settings == self.configuration.settings else {
            throw RedisError.unexpectedReply(
                "the model snapshot was published with settings [\(manifest.settings)] but this process runs with "
                    + "[\(self.configuration.settings)]; start every process with the same --model and --bust-on"
            )
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(manifest.byteCount)
        for index in 0..<manifest.chunkCount {
            guard let chunk = try await self.redis.get(keys.chunk(generation: manifest.generation, index: index)) else {
                throw RedisError.unexpectedReply("chunk \(index) of model snapshot \(manifest.generation) is missing")
            }
            bytes += chunk
        }
        guard bytes.count == manifest.byteCount, bytes.withUnsafeBytes({ CRC32C.checksum($0) }) == manifest.checksum
        else {
            throw RedisError.unexpectedReply("model snapshot \(manifest.generation) does not match its checksum")
        }
        let snapshot: ModelSnapshot
        do {
            snapshot = try ModelSnapshot(decoding: bytes, configuration: self.engineConfiguration)
        } catch {
            throw RedisError.unexpectedReply(
                "model snapshot \(manifest.generation) does not decode with this process's model settings (\(error)); "
                    + "start API processes with the processor's --model settings"
            )
        }
        let engine = snapshot.engine
        self.engine.write { $0 = engine }
        self.trending.publish(engine.trendingSnapshot())
        self.catalog.replaceAll(with: snapshot.catalog)
        self.state.withLock {
            $0.generation = manifest.generation
            $0.catalogChangeID = snapshot.catalogChangeID
            $0.appliedStreamID = snapshot.appliedStreamID
            $0.appliedSequence = engine.eventCount
            $0.caughtUp = false
        }
        self.loads.increment()
        self.logger.info(
            "Installed model snapshot",
            metadata: [
                "starling.snapshot.generation": "\(manifest.generation)",
                "starling.snapshot.bytes": "\(manifest.byteCount)",
                "starling.model.version": "\(manifest.modelVersion)",
            ]
        )
        return true
    }

    /// Applies the catalogue changes published after the latest one applied; returns how many.
    @discardableResult
    public func applyCatalogChanges() async throws -> Int {
        let after = self.status.catalogChangeID.map { "(" + $0 } ?? "-"
        let reply = try await self.redis.send(["XRANGE", self.configuration.keys.catalogChanges, after, "+", "COUNT", "1000"])
        guard let entries = reply.array else {
            throw RedisError.unexpectedReply("XRANGE answered \(reply.kind) instead of an array")
        }
        var lastID: String?
        for entry in entries {
            guard let parts = entry.array, parts.count == 2, let id = parts[0].string, let fields = parts[1].array,
                fields.count == 2, let payload = fields[1].bytes
            else { throw RedisError.unexpectedReply("a catalogue change entry is malformed") }
            do {
                self.catalog.apply(try CatalogChange(decoding: payload))
            } catch {
                throw RedisError.unexpectedReply("catalogue change \(id) is not readable: \(error)")
            }
            lastID = id
        }
        if let lastID { self.state.withLock { $0.catalogChangeID = lastID } }
        return entries.count
    }

    /// Replays the applied events published after the latest entry replayed, to the end of the stream; returns
    /// how many entries it read.
    @discardableResult
    public func replayAppliedEvents() async throws -> Int {
        guard self.hasSnapshot else { return 0 }
        let batch = 256
        var total = 0
        while true {
            let status = self.status
            let after = status.appliedStreamID.map { "(" + $0 } ?? "-"
            let reply = try await self.redis.send(["XRANGE", self.configuration.keys.applied, after, "+", "COUNT", "\(batch)"])
            guard let entries = reply.array else {
                throw RedisError.unexpectedReply("XRANGE answered \(reply.kind) instead of an array")
            }
            var slices: [(id: String, slice: AppliedSlice)] = []
            for entry in entries {
                guard let parts = entry.array, parts.count == 2, let id = parts[0].string, let fields = parts[1].array,
                    fields.count == 2, let payload = fields[1].bytes
                else { throw RedisError.unexpectedReply("an applied-events entry is malformed") }
                do {
                    slices.append((id, try AppliedSlice(decoding: payload)))
                } catch {
                    throw RedisError.unexpectedReply("applied-events entry \(id) is not readable: \(error)")
                }
            }
            var sequence = status.appliedSequence
            var gap = false
            if !slices.isEmpty {
                self.engine.write { engine in
                    for (_, slice) in slices where slice.lastSequence > sequence {
                        if slice.firstSequence > sequence + 1 { gap = true }
                        let skip = sequence >= slice.firstSequence ? Int(sequence - slice.firstSequence + 1) : 0
                        for event in slice.events[skip...] { engine.learn(event) }
                        sequence = slice.lastSequence
                    }
                }
                self.trending.publish(self.engine.read { $0.trendingSnapshot() })
                self.replayed.increment(by: slices.count)
            }
            if gap {
                // Events were trimmed from the stream (or dropped while Redis was down) before this replica read
                // them: it serves without them until the next snapshot.
                self.gaps.increment()
                self.logger.warning(
                    "The applied-events stream skipped events this replica had not learned; the next model snapshot restores them",
                    metadata: ["starling.replica.sequence": "\(status.appliedSequence)"]
                )
            }
            let done = entries.count < batch
            self.state.withLock { state in
                // A snapshot installed meanwhile owns the cursor.
                guard state.appliedStreamID == status.appliedStreamID, state.generation == status.generation else { return }
                if let last = slices.last { state.appliedStreamID = last.id }
                state.appliedSequence = sequence
                if done { state.caughtUp = true }
            }
            total += entries.count
            if done { return total }
        }
    }
}
