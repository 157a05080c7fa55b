public import Logging
import Metrics
public import ServiceLifecycle
public import StarlingCore
public import StarlingRedis
public import StarlingServing
public import StarlingStream

/// Starling's serving state in Redis: the shared cache layer every serving process reads and writes, the users'
/// state the processor publishes, and the catalogue changes it applied.
///
/// Reads ask Redis directly (one round trip per lookup). Writes from the processor never wait for Redis: they are
/// queued, coalesced per user (only the latest state matters), and written in pipelines by ``run()``. While Redis is
/// unreachable the queue keeps the latest state of each changed user and the catalogue changes in order, and
/// writing resumes once it is back.
public final class RedisServingStore: SharedServingStore, ServingStatePublisher, AcknowledgementSink, Service {
    /// Configuration of a ``RedisServingStore``.
    public struct Configuration: Sendable {
        public var keys: RedisKeys
        /// How long a user's published state is kept after their latest event. Defaults to 7 days.
        public var userTimeToLive: Duration
        /// How long a session's published items are kept after its latest event. Defaults to 30 minutes.
        public var sessionTimeToLive: Duration
        /// Most commands per pipeline when writing. Defaults to 512.
        public var pipelineSize: Int
        /// Catalogue changes kept in the stream (approximately). Defaults to 100,000.
        public var catalogStreamLength: Int
        /// How long applied events stay in their stream for model replicas (several snapshot intervals: a replica
        /// that falls further behind waits for the next snapshot). Defaults to 60 seconds.
        public var appliedRetention: Duration
        /// Most applied events queued while Redis is unreachable; the oldest are dropped beyond (replicas then
        /// resynchronise from the next snapshot). Defaults to 200,000.
        public var appliedQueueLimit: Int
        /// How long the positions of a user's acknowledged events are kept for read-your-writes. Defaults to 10
        /// minutes.
        public var acknowledgementTimeToLive: Duration

        public init(
            keys: RedisKeys = .init(),
            userTimeToLive: Duration = .seconds(7 * 24 * 3_600),
            sessionTimeToLive: Duration = .seconds(30 * 60),
            pipelineSize: Int = 512,
            catalogStreamLength: Int = 100_000,
            appliedRetention: Duration = .seconds(60),
            appliedQueueLimit: Int = 200_000,
            acknowledgementTimeToLive: Duration = .seconds(600)
        ) {
            self.appliedRetention = appliedRetention
            self.appliedQueueLimit = appliedQueueLimit
            self.acknowledgementTimeToLive = acknowledgementTimeToLive
            self.keys = keys
            self.userTimeToLive = userTimeToLive
            self.sessionTimeToLive = sessionTimeToLive
            self.pipelineSize = pipelineSize
            self.catalogStreamLength = catalogStreamLength
        }
    }

    private struct Pending: Sendable {
        var users: [String: PublishedUser] = [:]
        var sessions: [String: [ItemKey]] = [:]
        var catalog: [CatalogChange] = []
        var applied: [AppliedSlice] = []
        var appliedEvents = 0
        /// The id Redis gave the latest catalogue change written.
        var lastCatalogID: String?
        /// The id Redis gave the latest applied slice written.
        var lastAppliedID: String?
        /// A write of what was taken from the queue is in progress.
        var writing = false
    }

    public let configuration: Configuration
    /// The connection of lookups and stores on the request path.
    private let redis: RedisClient
    /// The connection the background writer publishes on.
    private let publishing: RedisClient
    /// The connection ingest records acknowledged events on.
    private let acknowledging: RedisClient
    private let pending = LockedBox(Pending())
    private let wake: AsyncStream<Void>.Continuation
    private let wakeups: AsyncStream<Void>
    private let logger: Logger
    private let published = Counter(label: "starling_redis_published_total")
    private let droppedApplied = Counter(label: "starling_redis_applied_dropped_total")
    private let acknowledgementFailures = Counter(label: "starling_redis_acknowledgement_failures_total")
    private let publishFailures = Counter(label: "starling_redis_publish_failures_total")

    /// - Parameters:
    ///   - redis: The connection of the request path.
    ///   - publishing: The connection the processor's changes are written on, so that requests never queue behind
    ///     them; defaults to `redis`.
    ///   - acknowledging: The connection ingest records acknowledged events on; defaults to `redis`.
    public init(
        redis: RedisClient,
        publishing: RedisClient? = nil,
        acknowledging: RedisClient? = nil,
        configuration: Configuration = .init(),
        logger: Logger
    ) {
        self.redis = redis
        self.publishing = publishing ?? redis
        self.acknowledging = acknowledging ?? redis
        self.configuration = configuration
        self.logger = logger
        (self.wakeups, self.wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    // MARK: - Shared cache layer

    public func lookup(user: String, key: String, includeUser: Bool) async throws -> SharedLookup {
        var commands: [[[UInt8]]] = []
        let keys = self.configuration.keys
        if !key.isEmpty { commands.append([Array("HGET".utf8), Array(keys.lists(user).utf8), Array(key.utf8)]) }
        if includeUser {
            commands.append([Array("GET".utf8), Array(keys.user(user).utf8)])
            commands.append([Array("HGETALL".utf8), Array(keys.acknowledged(user).utf8)])
        }
        let replies = try await self.redis.pipeline(commands)
        var lookup = SharedLookup(user: nil, list: nil)
        var index = 0
        if !key.isEmpty {
            if let bytes = try Self.bulk(replies[index], "HGET") { lookup.list = try? SharedList(decoding: bytes) }
            index += 1
        }
        guard includeUser else { return lookup }
        if let bytes = try Self.bulk(replies[index], "GET") {
            do {
                lookup.user = try PublishedUser(decoding: bytes)
            } catch {
                throw RedisError.unexpectedReply("the published state of '\(user)' is not readable: \(error)")
            }
        }
        lookup.acknowledged = try Self.acknowledgements(replies[index + 1])
        return lookup
    }

    /// Reads the `HGETALL` reply of a user's acknowledgement hash.
    private static func acknowledgements(_ reply: RESPValue) throws -> [TopicPartition: Int64] {
        if case .error(let message) = reply { throw RedisError.serverError(message) }
        guard let fields = reply.array, fields.count % 2 == 0 else {
            throw RedisError.unexpectedReply("HGETALL answered \(reply.kind) instead of an array of pairs")
        }
        var result: [TopicPartition: Int64] = [:]
        for pair in stride(from: 0, to: fields.count, by: 2) {
            guard let field = fields[pair].string, let slash = field.lastIndex(of: "/"),
                let partition = Int(field[field.index(after: slash)...]),
                let value = fields[pair + 1].string.flatMap({ Int64($0) })
            else { throw RedisError.unexpectedReply("an acknowledgement entry is malformed") }
            result[TopicPartition(topic: String(field[..<slash]), partition: partition)] = value
        }
        return result
    }

    public func store(_ list: SharedList, user: String, key: String, timeToLive: Duration) async throws {
        let lists = Array(self.configuration.keys.lists(user).utf8)
        let replies = try await self.redis.pipeline([
            [Array("HSET".utf8), lists, Array(key.utf8), list.encoded()],
            [Array("PEXPIRE".utf8), lists, Array(String(max(1, timeToLive.wholeMilliseconds)).utf8)],
        ])
        for reply in replies {
            if case .error(let message) = reply { throw RedisError.serverError(message) }
        }
    }

    public func sessionItems(_ session: String) async throws -> [ItemKey]? {
        guard let bytes = try await self.redis.get(self.configuration.keys.session(session)) else { return nil }
        do {
            return try PublishedSession.decodeItems(bytes)
        } catch {
            throw RedisError.unexpectedReply("the published items of session '\(session)' are not readable: \(error)")
        }
    }

    private static func bulk(_ reply: RESPValue, _ command: String) throws -> [UInt8]? {
        switch reply {
        case .bulkString(let bytes): return bytes
        case .error(let message): throw RedisError.serverError(message)
        default: throw RedisError.unexpectedReply("\(command) answered \(reply.kind) instead of a bulk string")
        }
    }

    // MARK: - Publishing (processor side)

    public func publish(users: [PublishedUser]) {
        guard !users.isEmpty else { return }
        self.pending.withLock { pending in
            for user in users { pending.users[user.profile.user] = user }
        }
        self.wake.yield()
    }

    public func publish(sessions: [PublishedSession]) {
        guard !sessions.isEmpty else { return }
        self.pending.withLock { pending in
            for session in sessions { pending.sessions[session.id] = session.items }
        }
        self.wake.yield()
    }

    public func publish(catalogChange: CatalogChange) {
        self.pending.withLock { $0.catalog.append(catalogChange) }
        self.wake.yield()
    }

    public func publish(applied slice: AppliedSlice) {
        let dropped = self.pending.withLock { pending -> Int in
            pending.applied.append(slice)
            pending.appliedEvents += slice.events.count
            var dropped = 0
            while pending.appliedEvents > self.configuration.appliedQueueLimit, pending.applied.count > 1 {
                let oldest = pending.applied.removeFirst()
                pending.appliedEvents -= oldest.events.count
                dropped += oldest.events.count
            }
            return dropped
        }
        if dropped > 0 { self.droppedApplied.increment(by: dropped) }
        self.wake.yield()
    }

    /// The stream id of the latest applied slice written to Redis, if any.
    public var lastAppliedID: String? {
        self.pending.withLock { $0.lastAppliedID }
    }

    /// Keeps the largest position per partition in the hash, so concurrent batches never move it back.
    private static let acknowledgeScript = """
        for i = 2, #ARGV, 2 do
          local current = tonumber(redis.call('HGET', KEYS[1], ARGV[i]) or '-1')
          if tonumber(ARGV[i + 1]) > current then redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
        end
        redis.call('PEXPIRE', KEYS[1], ARGV[1])
        return 1
        """

    /// Records, per user of the batch, the positions of their acknowledged records, before the client hears of
    /// the acknowledgement: API processes compare them with the published state (read-your-writes across
    /// processes). A failure is logged and counted; the events stay acknowledged (they are durable in the log).
    public func acknowledged(_ appends: [LogAppend], at positions: [LogPosition]) async {
        let marks = AcknowledgedEvents.marks(of: appends, at: positions)
        guard !marks.isEmpty else { return }
        let ttl = Array(String(max(1, self.configuration.acknowledgementTimeToLive.wholeMilliseconds)).utf8)
        let commands = marks.map { user, positions -> [[UInt8]] in
            var command: [[UInt8]] = [
                Array("EVAL".utf8), Array(Self.acknowledgeScript.utf8), Array("1".utf8),
                Array(self.configuration.keys.acknowledged(user).utf8), ttl,
            ]
            for (partition, next) in positions {
                command.append(Array("\(partition.topic)/\(partition.partition)".utf8))
                command.append(Array(String(next).utf8))
            }
            return command
        }
        do {
            let replies = try await self.acknowledging.pipeline(commands)
            if let failure = replies.first(where: { if case .error = $0 { true } else { false } }) {
                throw RedisError.unexpectedReply("recording acknowledgements answered \(failure)")
            }
        } catch {
            self.acknowledgementFailures.increment()
            self.logger.warning(
                "Recording acknowledged events in Redis failed; API processes may serve lists without them",
                metadata: ["starling.redis.error": "\(error)"]
            )
        }
    }

    /// The stream id of the latest catalogue change written to Redis, if any.
    public var lastCatalogChangeID: String? {
        self.pending.withLock { $0.lastCatalogID }
    }

    /// Whether every queued change has been written: nothing is queued and no write is in progress.
    public var isDrained: Bool {
        self.pending.withLock {
            !$0.writing && $0.users.isEmpty && $0.sessions.isEmpty && $0.catalog.isEmpty && $0.applied.isEmpty
        }
    }

    /// Writes queued state until graceful shutdown, then writes what is left (once).
    public func run() async throws {
        await cancelWhenGracefulShutdown {
            var backoff = Duration.milliseconds(50)
            for await _ in self.wakeups {
                while !Task.isCancelled, !self.isDrained {
                    if await self.writePending() {
                        backoff = .milliseconds(50)
                    } else {
                        try? await Task.sleep(for: backoff)
                        backoff = min(backoff * 2, .seconds(2))
                    }
                }
            }
        }
        _ = await self.writePending()
    }

    /// Writes the queued catalogue changes, then the queued users; returns whether everything taken was written.
    private func writePending() async -> Bool {
        let (users, sessions, catalog, applied) = self.pending.withLock { pending in
            let taken = (Array(pending.users.values), Array(pending.sessions), pending.catalog, pending.applied)
            pending.users = [:]
            pending.sessions = [:]
            pending.catalog = []
            pending.applied = []
            pending.appliedEvents = 0
            pending.writing = true
            return taken
        }
        defer { self.pending.withLock { $0.writing = false } }
        let keys = self.configuration.keys
        var catalogWritten = 0
        var appliedWritten = 0
        do {
            // Applied events first: a replica that reads a user's published state soon after can have learned them.
            let minimumID = Array(
                String(max(0, WallClock.nanoseconds() / 1_000_000 - self.configuration.appliedRetention.wholeMilliseconds)).utf8
            )
            for start in stride(from: 0, to: applied.count, by: self.configuration.pipelineSize) {
                let batch = applied[start..<min(applied.count, start + self.configuration.pipelineSize)]
                let replies = try await self.publishing.pipeline(
                    batch.map { slice in
                        [
                            Array("XADD".utf8), Array(keys.applied.utf8), Array("MINID".utf8), Array("~".utf8),
                            minimumID, Array("*".utf8), Array("a".utf8), slice.encoded(),
                        ]
                    }
                )
                for reply in replies {
                    guard case .bulkString(let id?) = reply else {
                        throw RedisError.unexpectedReply("XADD answered \(reply.kind) instead of an id")
                    }
                    appliedWritten += 1
                    self.pending.withLock { $0.lastAppliedID = String(decoding: id, as: UTF8.self) }
                }
            }
            for start in stride(from: 0, to: catalog.count, by: self.configuration.pipelineSize) {
                let batch = catalog[start..<min(catalog.count, start + self.configuration.pipelineSize)]
                let replies = try await self.publishing.pipeline(
                    batch.map { change in
                        [
                            Array("XADD".utf8), Array(keys.catalogChanges.utf8), Array("MAXLEN".utf8), Array("~".utf8),
                            Array(String(self.configuration.catalogStreamLength).utf8), Array("*".utf8),
                            Array("c".utf8), change.encoded(),
                        ]
                    }
                )
                for reply in replies {
                    guard case .bulkString(let id?) = reply else {
                        throw RedisError.unexpectedReply("XADD answered \(reply.kind) instead of an id")
                    }
                    catalogWritten += 1
                    self.pending.withLock { $0.lastCatalogID = String(decoding: id, as: UTF8.self) }
                }
            }
            let ttl = Array(String(self.configuration.userTimeToLive.wholeMilliseconds).utf8)
            for start in stride(from: 0, to: users.count, by: self.configuration.pipelineSize) {
                let batch = users[start..<min(users.count, start + self.configuration.pipelineSize)]
                let replies = try await self.publishing.pipeline(
                    batch.map { user in
                        [Array("SET".utf8), Array(keys.user(user.profile.user).utf8), user.encoded(), Array("PX".utf8), ttl]
                    }
                )
                if let failure = replies.first(where: { if case .error = $0 { true } else { false } }) {
                    throw RedisError.unexpectedReply("SET of a published user answered \(failure)")
                }
                self.published.increment(by: batch.count)
            }
            let sessionTTL = Array(String(self.configuration.sessionTimeToLive.wholeMilliseconds).utf8)
            for start in stride(from: 0, to: sessions.count, by: self.configuration.pipelineSize) {
                let batch = sessions[start..<min(sessions.count, start + self.configuration.pipelineSize)]
                let replies = try await self.publishing.pipeline(
                    batch.map { session in
                        [
                            Array("SET".utf8), Array(keys.session(session.key).utf8),
                            PublishedSession(id: session.key, items: session.value).encodedItems(), Array("PX".utf8),
                            sessionTTL,
                        ]
                    }
                )
                if let failure = replies.first(where: { if case .error = $0 { true } else { false } }) {
                    throw RedisError.unexpectedReply("SET of a published session answered \(failure)")
                }
            }
            return true
        } catch {
            self.publishFailures.increment()
            self.logger.warning(
                "Publishing serving state to Redis failed; will retry",
                metadata: ["starling.redis.error": "\(error)"]
            )
            // Put back what was not written, unless a newer state of the user arrived meanwhile.
            self.pending.withLock { pending in
                let unwritten = applied[appliedWritten...]
                pending.applied.insert(contentsOf: unwritten, at: 0)
                pending.appliedEvents += unwritten.reduce(0) { $0 + $1.events.count }
                pending.catalog.insert(contentsOf: catalog[catalogWritten...], at: 0)
                for user in users where pending.users[user.profile.user] == nil {
                    pending.users[user.profile.user] = user
                }
                for (id, items) in sessions where pending.sessions[id] == nil { pending.sessions[id] = items }
            }
            return false
        }
    }
}
