public import StarlingCore
public import StarlingEventLog
public import StarlingHTTP
public import StarlingRedis
public import StarlingServing
public import StarlingStream

/// Everything a Starling server process is built from, as plain values: the input of ``ProcessorRole`` and
/// ``APIRole``.
///
/// The defaults are those of `starling serve`, which maps its command-line options onto this value; tests set the
/// fields they need.
///
/// ```swift
/// var configuration = ServerConfiguration()
/// configuration.storage.directory = "/var/lib/starling"
/// configuration.serving.cacheTimeToLive = .zero  // no cached lists
/// let application = try await buildApplication(configuration: configuration, metricsText: { "" }, logger: logger)
/// ```
public struct ServerConfiguration: Sendable {
    /// What a process runs.
    public struct Role: Hashable, Sendable, CustomStringConvertible {
        private enum Code: Hashable, Sendable { case all, api, processor }
        private let code: Code

        /// The log, the processor and the whole API, in one process. The default.
        public static let all = Role(code: .all)
        /// The API's read side only, serving from Redis and the model snapshot published there; needs
        /// ``Cluster/redis``.
        public static let api = Role(code: .api)
        /// The log, the processor, ingest and the catalogue, publishing to Redis; no recommendation endpoints.
        public static let processor = Role(code: .processor)

        public var description: String {
            switch self.code {
            case .all: "all"
            case .api: "api"
            case .processor: "processor"
            }
        }
    }

    /// The HTTP server.
    public struct HTTP: Sendable {
        /// The address to listen on. Defaults to `127.0.0.1`.
        public var host: String
        /// The port to listen on; 0 takes a free one. Defaults to 8080.
        public var port: Int
        /// The largest request body accepted, in bytes. Defaults to 16 MiB.
        public var maxBodyBytes: Int
        /// A connection on which nothing is read for this long is closed, so that idle or stalled clients cannot
        /// hold connections (and their buffers) for ever. Defaults to 60 seconds.
        public var idleTimeout: Duration
        /// The most connections open at once; beyond it, new connections wait in the listen backlog. Defaults to
        /// 4,096.
        public var maxConnections: Int
        /// API keys, CORS and whether `/metrics` needs a key. Defaults to ``HTTPSecurity/open``.
        public var security: HTTPSecurity
        /// Whether to serve without API keys on an address other than loopback. Defaults to `false`:
        /// ``buildApplication(configuration:metricsText:logger:)`` refuses that configuration, since anyone who can
        /// reach the port could then read every user's history and administer the server.
        public var insecureNoAuth: Bool

        public init(
            host: String = "127.0.0.1",
            port: Int = 8080,
            maxBodyBytes: Int = 16 * 1_024 * 1_024,
            idleTimeout: Duration = .seconds(60),
            maxConnections: Int = 4_096,
            security: HTTPSecurity = .open,
            insecureNoAuth: Bool = false
        ) {
            self.security = security
            self.insecureNoAuth = insecureNoAuth
            self.host = host
            self.port = port
            self.maxBodyBytes = maxBodyBytes
            self.idleTimeout = idleTimeout
            self.maxConnections = maxConnections
        }

        /// Whether `host` is a loopback address, reachable only from this machine.
        public static func isLoopback(_ host: String) -> Bool {
            host == "localhost" || host == "::1" || host == "[::1]" || host.hasPrefix("127.")
        }

        /// Throws when the server would listen beyond loopback without API keys and ``insecureNoAuth`` is off.
        public func validate() throws(ServerConfigurationError) {
            guard self.security.keys.isEmpty, !Self.isLoopback(self.host) else {
                if self.insecureNoAuth, !self.security.keys.isEmpty {
                    throw ServerConfigurationError(
                        "--insecure-no-auth and API keys contradict each other: keys turn authentication on"
                    )
                }
                return
            }
            guard self.insecureNoAuth else {
                throw ServerConfigurationError(
                    "refusing to listen on \(self.host) without API keys: anyone who can reach it could read every "
                        + "user's history and administer the server. Give keys (--api-keys FILE or STARLING_API_KEYS; "
                        + "`starling keys create` makes one), listen on 127.0.0.1, or pass --insecure-no-auth"
                )
            }
        }
    }

    /// What a process that owns the log keeps on disk: the embedded event log and the processor's checkpoints.
    public struct Storage: Sendable {
        /// The data directory: the log goes in its `log` directory, checkpoints in `checkpoints`. Defaults to
        /// `./starling-data`.
        public var directory: String
        /// When appends are acknowledged. Defaults to ``SegmentedEventLog/Durability/fsync``.
        public var durability: SegmentedEventLog.Durability
        /// Partitions per topic for a new log (an existing log keeps its count). Defaults to 4.
        public var partitions: Int
        /// The size at which a segment is sealed. Defaults to 64 MiB.
        public var segmentBytes: Int
        /// The retained log size per partition. Defaults to 1 GiB.
        public var retentionBytes: Int
        /// The retained log age. Defaults to 168 hours.
        public var retentionAge: Duration
        /// Appends are refused while more than this many bytes wait to be written. Defaults to 64 MiB.
        public var maxPendingBytes: Int
        /// How often the processor checkpoints. Defaults to 30 seconds. Retention keeps every segment the last
        /// checkpoint has not covered, so the log can exceed its retention by about this long's worth of events.
        public var checkpointInterval: Duration
        /// Scripted `fsync` failures of the log, for tests; `nil` in production.
        package var syncFaults: FileSyncFaults?
        /// Scripted full-disk write failures of the log, for tests; `nil` in production.
        package var writeFaults: FileWriteFaults?

        public init(
            directory: String = "./starling-data",
            durability: SegmentedEventLog.Durability = .fsync,
            partitions: Int = 4,
            segmentBytes: Int = 64 * 1_024 * 1_024,
            retentionBytes: Int = 1_024 * 1_024 * 1_024,
            retentionAge: Duration = .seconds(168 * 3_600),
            maxPendingBytes: Int = 64 * 1_024 * 1_024,
            checkpointInterval: Duration = .seconds(30)
        ) {
            self.directory = directory
            self.durability = durability
            self.partitions = partitions
            self.segmentBytes = segmentBytes
            self.retentionBytes = retentionBytes
            self.retentionAge = retentionAge
            self.maxPendingBytes = maxPendingBytes
            self.checkpointInterval = checkpointInterval
        }
    }

    /// What ingest accepts and what the processor learns.
    public struct Processing: Sendable {
        /// The event types accepted and the topic of each. Defaults to the built-in types.
        public var schema: EventSchema
        /// How far in the future an event timestamp may be. Defaults to 24 hours.
        public var maxFutureSkew: Duration
        /// The most events in one ingest request. Defaults to 10,000.
        public var maxEventsPerBatch: Int
        /// How long event ids are remembered for de-duplication. Defaults to 24 hours.
        public var deduplicationRetention: Duration
        /// How many event ids are remembered at most; the oldest applied go first. Defaults to 5,000,000.
        public var deduplicationMaxIDs: Int
        /// Model and signal settings (`key=value`, as `--model` takes them), applied in order over the defaults.
        ///
        /// Processes sharing one Redis must run with the same settings: they are part of ``sharedSettings``.
        public var modelSettings: [String]
        /// Time between full retrains of the embeddings from the log; `nil` retrains only on demand. Defaults to
        /// 60 minutes.
        public var retrainInterval: Duration?
        /// Passes over the data in a full retrain with the BPR trainer. Defaults to 10.
        public var retrainEpochs: Int
        /// The least time from the end of one retrain to the start of an on-demand one
        /// (`POST /v1/models/retrain` answers 429 before then). Defaults to 1 minute.
        public var minimumRetrainInterval: Duration
        /// Ingest waits for the processor while it is more than this many records behind the log, and answers 503
        /// when it stays behind (``ProcessingBacklog``); `nil` turns flow control off. Defaults to 5,000.
        public var maxLag: Int64?

        public init(
            schema: EventSchema = EventSchema(),
            maxFutureSkew: Duration = .seconds(24 * 3_600),
            maxEventsPerBatch: Int = 10_000,
            deduplicationRetention: Duration = .seconds(24 * 3_600),
            deduplicationMaxIDs: Int = 5_000_000,
            modelSettings: [String] = [],
            retrainInterval: Duration? = .seconds(60 * 60),
            retrainEpochs: Int = 10,
            minimumRetrainInterval: Duration = .seconds(60),
            maxLag: Int64? = ProcessingBacklog.Configuration().maxLag
        ) {
            self.schema = schema
            self.maxFutureSkew = maxFutureSkew
            self.maxEventsPerBatch = maxEventsPerBatch
            self.deduplicationRetention = deduplicationRetention
            self.deduplicationMaxIDs = deduplicationMaxIDs
            self.modelSettings = modelSettings
            self.retrainInterval = retrainInterval
            self.retrainEpochs = retrainEpochs
            self.minimumRetrainInterval = minimumRetrainInterval
            self.maxLag = maxLag
        }
    }

    /// How lists are shaped and cached.
    public struct Serving: Sendable {
        /// Boost and bury rules applied to every list. Defaults to none.
        public var rules: [RecommendationRequest.AttributeRule]
        /// At most this many items per category in every list. Defaults to no cap.
        public var categoryCap: Int?
        /// The lifetime of cached lists; zero turns caching off. Defaults to 60 seconds.
        public var cacheTimeToLive: Duration
        /// Users whose lists are cached in process. Defaults to 100,000.
        public var cacheCapacity: Int
        /// The events that make a user's cached lists invalid. Defaults to every event.
        public var invalidation: CacheInvalidation
        /// The longest a request waits for the user's acknowledged events to be applied. Defaults to 10 ms.
        public var readYourWritesTimeout: Duration
        /// The most cached lists of recently active users refreshed per second in the background; 0 turns it off.
        /// Defaults to 100.
        public var precomputePerSecond: Int

        public init(
            rules: [RecommendationRequest.AttributeRule] = [],
            categoryCap: Int? = nil,
            cacheTimeToLive: Duration = .seconds(60),
            cacheCapacity: Int = 100_000,
            invalidation: CacheInvalidation = .everyEvent,
            readYourWritesTimeout: Duration = .milliseconds(10),
            precomputePerSecond: Int = 100
        ) {
            self.rules = rules
            self.categoryCap = categoryCap
            self.cacheTimeToLive = cacheTimeToLive
            self.cacheCapacity = cacheCapacity
            self.invalidation = invalidation
            self.readYourWritesTimeout = readYourWritesTimeout
            self.precomputePerSecond = precomputePerSecond
        }
    }

    /// The Kafka cluster that replaces the embedded event log (needs a binary built with the `Kafka` trait).
    ///
    /// Its topics are the embedded log's (one per event type's topic, and `catalog`), created when missing with
    /// ``Storage/partitions`` partitions; the processor's checkpoints stay in ``Storage/directory``.
    public struct Kafka: Sendable {
        /// The brokers to bootstrap from: `host:port[,host:port…]`.
        public var brokers: String
        /// The replication factor of the topics created. Defaults to 3.
        public var replicationFactor: Int
        /// How long the producer waits for more events before it sends a batch. Defaults to 5 ms.
        public var linger: Duration
        /// More librdkafka settings (`security.protocol`, `sasl.*`, …), for the producer and the consumers.
        public var properties: [String: String]
        /// More librdkafka settings for the consumers only (`fetch.wait.max.ms`, …).
        public var consumerProperties: [String: String]

        public init(
            brokers: String,
            replicationFactor: Int = 3,
            linger: Duration = .milliseconds(5),
            properties: [String: String] = [:],
            consumerProperties: [String: String] = [:]
        ) {
            self.brokers = brokers
            self.replicationFactor = replicationFactor
            self.linger = linger
            self.properties = properties
            self.consumerProperties = consumerProperties
        }
    }

    /// How the processes of a deployment share state.
    public struct Cluster: Sendable {
        /// The Redis server sharing cached lists, users' state and model snapshots; `nil` for a single process.
        /// Defaults to `nil`.
        public var redis: RedisClient.Configuration?
        /// Time between model snapshots published to Redis. Defaults to 15 seconds.
        public var snapshotInterval: Duration
        /// The Kafka cluster holding the event log instead of the data directory; `nil` for the embedded log.
        /// Defaults to `nil`.
        public var kafka: Kafka?

        public init(
            redis: RedisClient.Configuration? = nil,
            snapshotInterval: Duration = .seconds(15),
            kafka: Kafka? = nil
        ) {
            self.redis = redis
            self.snapshotInterval = snapshotInterval
            self.kafka = kafka
        }
    }

    /// What this process runs. Defaults to ``Role/all``.
    public var role: Role
    /// The HTTP server.
    public var http: HTTP
    /// The event log and checkpoints.
    public var storage: Storage
    /// Ingest and the processor.
    public var processing: Processing
    /// Shaping and caching lists.
    public var serving: Serving
    /// Sharing state between processes.
    public var cluster: Cluster

    public init(
        role: Role = .all,
        http: HTTP = .init(),
        storage: Storage = .init(),
        processing: Processing = .init(),
        serving: Serving = .init(),
        cluster: Cluster = .init()
    ) {
        self.role = role
        self.http = http
        self.storage = storage
        self.processing = processing
        self.serving = serving
        self.cluster = cluster
    }

    /// The settings all processes sharing one Redis must agree on, as text: the model settings in the order they
    /// apply, and the event types that invalidate cached lists.
    public var sharedSettings: String {
        let model = self.processing.modelSettings.joined(separator: " ")
        return "--model \(model) --bust-on \(self.serving.invalidation.description)"
    }
}

/// A ``ServerConfiguration`` this binary cannot serve, and why.
public struct ServerConfigurationError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What is wrong and how to fix it.
    public let message: String

    public init(_ message: String) {
        self.message = message
    }

    /// The configuration names a Kafka cluster, but the binary was built without the `Kafka` trait.
    public static let kafkaNotBuilt = ServerConfigurationError(
        "this starling binary was built without Kafka support: build it with `swift build --traits Kafka` "
            + "(librdkafka is needed: apt-get install librdkafka-dev)"
    )

    public var description: String { self.message }
}
