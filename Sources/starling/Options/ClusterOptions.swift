import ArgumentParser
import StarlingRedis

/// The options of `starling serve` that place the process in a deployment: its role, the Redis server its processes
/// share state through, and the pace of the background jobs that publish that state (model snapshots, and the
/// precomputed lists that fill the cache layers, in process and shared).
struct ClusterOptions: ParsableArguments {
    /// What a process runs.
    enum Role: String, ExpressibleByArgument, CaseIterable {
        /// Log, processor and the whole API.
        case all
        /// The API's read side only, serving from Redis and the model snapshot published there.
        case api
        /// Log, processor, ingest and catalogue, publishing to Redis; no recommendation endpoints.
        case processor
    }

    @Option(
        help: ArgumentHelp(
            "all: everything in one process. api: serve recommendations from Redis and the published model snapshot (needs --redis; no ingest). processor: the log, ingest and the processor, publishing to Redis.",
            valueName: "all|api|processor"
        )
    )
    var role = Role.all

    @Option(
        help: ArgumentHelp(
            "Share cached lists, users' state and model snapshots through this Redis server.",
            valueName: "redis://host:port[/db]"
        )
    )
    var redis: String?

    @Option(name: .customLong("snapshot-seconds"), help: "Seconds between model snapshots published to Redis.")
    var snapshotSeconds = 15

    @Option(
        name: .customLong("precompute-per-second"),
        help: "Most cached lists of recently active users refreshed per second in the background; 0 turns it off."
    )
    var precomputePerSecond = 100

    func validate() throws {
        if let redis = self.redis {
            do {
                _ = try RedisClient.Configuration(url: redis)
            } catch let error as RedisError {
                throw ValidationError("--redis: \(error.message)")
            }
        } else if self.role != .all {
            throw ValidationError("--role \(self.role.rawValue) needs --redis: that is where its processes share state")
        }
        guard self.snapshotSeconds >= 1 else { throw ValidationError("--snapshot-seconds must be positive") }
        guard self.precomputePerSecond >= 0 else { throw ValidationError("--precompute-per-second must not be negative") }
    }
}
