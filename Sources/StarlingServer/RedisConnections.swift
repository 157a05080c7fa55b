public import Logging
public import StarlingRedis

/// The Redis connections of one process: one per kind of traffic, so that none waits behind another's.
///
/// Requests get a short command timeout; the processor's small writes a longer one; model snapshots, megabytes per
/// command, the longest.
public struct RedisConnections: Sendable {
    /// Requests' reads (250 ms timeout).
    public let serving: RedisClient
    /// The processor's writes: users' state, applied events, catalogue changes (2 s timeout).
    public let publishing: RedisClient
    /// Ingest's records of acknowledged events, written before each answer (2 s timeout: a slow Redis delays the
    /// answer rather than leaving API processes unaware of the events).
    public let acknowledging: RedisClient
    /// Model snapshot chunks (10 s timeout).
    public let snapshots: RedisClient

    /// Every connection with its kind, as the `connection` dimension of the Redis metrics.
    var all: [(kind: String, client: RedisClient)] {
        [("serving", self.serving), ("publishing", self.publishing), ("acknowledging", self.acknowledging),
         ("snapshots", self.snapshots)]
    }

    /// Creates the connections (each connects on its first command).
    ///
    /// - Parameters:
    ///   - configuration: Where Redis is; each connection replaces its command timeout.
    ///   - logger: The logger for connection events.
    public init(configuration: RedisClient.Configuration, logger: Logger) {
        func client(timeout: Duration) -> RedisClient {
            var configuration = configuration
            configuration.commandTimeout = timeout
            return RedisClient(configuration: configuration, logger: logger)
        }
        self.serving = client(timeout: .milliseconds(250))
        self.publishing = client(timeout: .seconds(2))
        self.acknowledging = client(timeout: .seconds(2))
        self.snapshots = client(timeout: .seconds(10))
    }
}
