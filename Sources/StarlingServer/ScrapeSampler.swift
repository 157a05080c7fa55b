import Foundation
import Metrics
import StarlingCore
import StarlingModels
import StarlingRedis

#if canImport(Glibc)
import Glibc
#endif

/// Gauges that describe state rather than events, read from the components each time `/metrics` is scraped, so
/// that they are current even while nothing else moves them (a stalled processor's lag keeps growing, a process
/// restored from a checkpoint reports its model version before any retrain).
///
/// Every dimension is bounded by configuration: topics and partitions, Redis connection kinds. Counters of the
/// Redis clients' failures are advanced by what the clients counted since the previous scrape.
final class ScrapeSampler: Sendable {
    /// Where the sampled values come from; each role sets what it has.
    struct Sources: Sendable {
        /// The process's `--role`, exported as `starling_role_info{role}` so that queries can group by role.
        var role: ServerConfiguration.Role
        /// Whether `/ready` would answer 200.
        var ready: @Sendable () -> Bool
        /// The engine whose users, items and model version are reported.
        var engine: EngineStore
        var catalog: ItemCatalog
        /// Records not yet applied, per topic partition (processor roles).
        var partitionLag: (@Sendable () -> [TopicPartition: Int64])?
        /// Users with lists in the in-process cache.
        var cachedUsers: (@Sendable () -> Int)?
        /// Event ids held by the de-duplication index.
        var deduplicationIDs: (@Sendable () -> Int)?
        /// The data directory, whose file system's free space is reported (processor roles).
        var dataDirectory: String?
        /// The process's Redis connections, by kind.
        var redis: [(kind: String, client: RedisClient)] = []
    }

    private struct RedisSeries: Sendable {
        var commands: Counter
        var failures: Counter
        var up: Gauge
    }

    private let sources: Sources
    private let ready = Gauge(label: "starling_ready")
    private let users = Gauge(label: "starling_users")
    private let items = Gauge(label: "starling_items")
    private let modelVersion = Gauge(label: "starling_model_version")
    private let catalogItems = Gauge(label: "starling_store_entries", dimensions: [("store", "catalog")])
    private let cachedUsers = Gauge(label: "starling_store_entries", dimensions: [("store", "cache")])
    private let deduplicationIDs = Gauge(label: "starling_store_entries", dimensions: [("store", "dedup_ids")])
    private let userIndexBytes = Gauge(label: "starling_memory_bytes", dimensions: [("store", "user_index")])
    private let userRecordBytes = Gauge(label: "starling_memory_bytes", dimensions: [("store", "user_records")])
    private let embeddingBytes = Gauge(label: "starling_memory_bytes", dimensions: [("store", "embeddings")])
    private let cooccurrenceBytes = Gauge(label: "starling_memory_bytes", dimensions: [("store", "cooccurrence")])
    private let residentMemory = Gauge(label: "process_resident_memory_bytes")
    private let diskFree = Gauge(label: "starling_data_disk_free_bytes")
    private let diskSize = Gauge(label: "starling_data_disk_size_bytes")
    private let totalLag = Gauge(label: "starling_processor_lag_records")
    private let lagGauges = LockedBox<[TopicPartition: Gauge]>([:])
    private let redisSeries: [RedisSeries]
    /// What each Redis client had counted at the previous scrape.
    private let redisSeen: LockedBox<[RedisClient.Statistics]>

    init(_ sources: Sources) {
        self.sources = sources
        Gauge(label: "starling_role_info", dimensions: [("role", sources.role.description)]).record(1)
        self.redisSeries = sources.redis.map { connection in
            let dimensions = [("connection", connection.kind)]
            return RedisSeries(
                commands: Counter(label: "starling_redis_commands_total", dimensions: dimensions),
                failures: Counter(label: "starling_redis_command_failures_total", dimensions: dimensions),
                up: Gauge(label: "starling_redis_up", dimensions: dimensions)
            )
        }
        self.redisSeen = LockedBox(sources.redis.map { _ in RedisClient.Statistics() })
    }

    /// Reads every source and records the gauges (called before each exposition).
    func sample() {
        self.ready.record(self.sources.ready() ? 1 : 0)
        let (users, items, version, memory) = self.sources.engine.read {
            ($0.userCount, $0.itemCount, $0.modelVersion, $0.memoryEstimate())
        }
        self.users.record(users)
        self.items.record(items)
        self.modelVersion.record(Double(version))
        self.userIndexBytes.record(memory.userIndex)
        self.userRecordBytes.record(memory.userRecords)
        self.embeddingBytes.record(memory.embeddings)
        self.cooccurrenceBytes.record(memory.cooccurrence)
        self.catalogItems.record(self.sources.catalog.count)
        if let cachedUsers = self.sources.cachedUsers { self.cachedUsers.record(cachedUsers()) }
        if let deduplicationIDs = self.sources.deduplicationIDs { self.deduplicationIDs.record(deduplicationIDs()) }
        if let resident = Self.residentMemoryBytes() { self.residentMemory.record(resident) }
        if let directory = self.sources.dataDirectory, let (free, size) = Self.fileSystemSpace(of: directory) {
            self.diskFree.record(free)
            self.diskSize.record(size)
        }
        if let partitionLag = self.sources.partitionLag {
            let lag = partitionLag()
            self.totalLag.record(lag.values.reduce(0, +))
            self.lagGauges.withLock { gauges in
                for (partition, records) in lag {
                    let gauge =
                        gauges[partition]
                        ?? Gauge(
                            label: "starling_processor_partition_lag_records",
                            dimensions: [("topic", partition.topic), ("partition", String(partition.partition))]
                        )
                    gauges[partition] = gauge
                    gauge.record(records)
                }
            }
        }
        self.sampleRedis()
    }

    private func sampleRedis() {
        guard !self.sources.redis.isEmpty else { return }
        // Read under the lock, so that concurrent scrapes never count a difference twice or backwards.
        let (before, now) = self.redisSeen.withLock { seen in
            let now = self.sources.redis.map(\.client.statistics)
            defer { seen = now }
            return (seen, now)
        }
        for (index, series) in self.redisSeries.enumerated() {
            let commands = now[index].commands &- before[index].commands
            let failures = now[index].transientFailures &- before[index].transientFailures
            if commands > 0 { series.commands.increment(by: Int(commands)) }
            if failures > 0 { series.failures.increment(by: Int(failures)) }
            series.up.record(now[index].lastCommandFailed ? 0 : 1)
        }
    }

    /// The resident set size, from `/proc/self/statm` (Linux only).
    private static func residentMemoryBytes() -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return nil }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return nil }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    /// Bytes available to the process and the size of the file system holding `path`.
    private static func fileSystemSpace(of path: String) -> (free: Int, size: Int)? {
        var stats = statvfs()
        guard statvfs(path, &stats) == 0 else { return nil }
        let block = Int(stats.f_frsize)
        return (Int(stats.f_bavail) * block, Int(stats.f_blocks) * block)
    }
}
