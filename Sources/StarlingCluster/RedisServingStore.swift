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
///
/// The queue is bounded: beyond ``Configuration/userQueueLimit`` users or ``Configuration/sessionQueueLimit``
/// sessions it is dropped, and once Redis answers every user's and session's state is published again from the
/// processor (``republish(from:)``); catalogue changes beyond ``Configuration/catalogQueueLimit`` are dropped, and
/// the next model snapshot carries the whole catalogue. The same full republish runs whenever Redis no longer holds
/// the `publisher` key written at its start: Redis restarted empty (it keeps nothing on disk) or this is the first
/// start against it, so users who act no more are not missing from API processes for good.
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
        /// Most users whose state may wait to be written; beyond, the queued states are dropped and every user's
        /// state is published again once Redis answers. Defaults to 100,000.
        public var userQueueLimit: Int
        /// Most sessions whose items may wait to be written; beyond, as for users. Defaults to 100,000.
        public var sessionQueueLimit: Int
        /// Most catalogue changes that may wait to be written; beyond, they are dropped (API processes get them
        /// with the next model snapshot, which holds the whole catalogue). Defaults to 100,000.
        public var catalogQueueLimit: Int
        /// How often the writer checks that Redis still holds what was published. Defaults to 1 second.
        public var stateCheckInterval: Duration

        public init(
            keys: RedisKeys = .init(),
            userTimeToLive: Duration = .seconds(7 * 24 * 3_600),
            sessionTimeToLive: Duration = .seconds(30 * 60),
            pipelineSize: Int = 512,
            catalogStreamLength: Int = 100_000,
            appliedRetention: Duration = .seconds(60),
            appliedQueueLimit: Int = 200_000,
            acknowledgementTimeToLive: Duration = .seconds(600),
            userQueueLimit: Int = 100_000,
            sessionQueueLimit: Int = 100_000,
            catalogQueueLimit: Int = 100_000,
            stateCheckInterval: Duration = .seconds(1)
        ) {
            precondition(userQueueLimit > 0 && sessionQueueLimit > 0 && catalogQueueLimit > 0, "queue limits must be positive")
            self.userQueueLimit = userQueueLimit
            self.sessionQueueLimit = sessionQueueLimit
            self.catalogQueueLimit = catalogQueueLimit
            self.stateCheckInterval = stateCheckInterval
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
        /// Every user's and session's state is to be published again (Redis lost it, or queued state was dropped).
        var republish = false
        /// The next user (dense id) of the republish in progress; `nil` before it started.
        var republishCursor: Int?
        /// Counts the republishes started, so that a page read for one that was restarted meanwhile does not move
        /// the cursor of the new one.
        var republishGeneration = 0
        var republishStarted: ContinuousClock.Instant?
        var republishedUsers = 0
        /// This process wrote the `publisher` key once: its absence later means Redis lost it.
        var publisherKeyWritten = false

        /// Starts a full republish over (or a first one).
        mutating func startRepublish() {
            self.republish = true
            self.republishCursor = nil
            self.republishGeneration += 1
            self.republishStarted = nil
            self.republishedUsers = 0
        }
    }

    public let configuration: Configuration
    /// The connection of lookups and stores on the request path.
    private let redis: RedisClient
    /// The connection the background writer publishes on.
    private let publishing: RedisClient
    /// The connection ingest records acknowledged events on.
    private let acknowledging: RedisClient
    private let pending = LockedBox(Pending())
    private let source = LockedBox<(any ServingStateSource)?>(nil)
    private let wake: AsyncStream<Void>.Continuation
    private let wakeups: AsyncStream<Void>
    private let logger: Logger
    private let published = Counter(label: "starling_redis_published_total")
    private let droppedApplied = Counter(label: "starling_redis_applied_dropped_total")
    private let acknowledgementFailures = Counter(label: "starling_redis_acknowledgement_failures_total")
    private let publishFailures = Counter(label: "starling_redis_publish_failures_total")
    private let droppedQueued = Counter(label: "starling_redis_queue_dropped_total")
    private let republishes = Counter(label: "starling_redis_republishes_total")
    private let republished = Counter(label: "starling_redis_republished_users_total")

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

    /// The logger of the request being served (`Logger.current`, which `RequestTracingMiddleware` binds with the
    /// request's id and trace), so the Redis calls made for a request log with its metadata; this store's own
    /// logger outside a request (the task-local default has an empty label).
    private var requestLogger: Logger {
        let current = Logger.current
        return current.label.isEmpty ? self.logger : current
    }

    public func lookup(user: String, key: String, includeUser: Bool) async throws -> SharedLookup {
        var commands: [[[UInt8]]] = []
        let keys = self.configuration.keys
        if !key.isEmpty { commands.append([Array("HGET".utf8), Array(keys.lists(user).utf8), Array(key.utf8)]) }
        if includeUser {
            commands.append([Array("GET".utf8), Array(keys.user(user).utf8)])
            commands.append([Array("HGETALL".utf8), Array(keys.acknowledged(user).utf8)])
        }
        let replies = try await self.redis.pipeline(commands, logger: self.requestLogger)
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
        let replies = try await self.redis.pipeline(
            [
                [Array("HSET".utf8), lists, Array(key.utf8), list.encoded()],
                [Array("PEXPIRE".utf8), lists, Array(String(max(1, timeToLive.wholeMilliseconds)).utf8)],
            ],
            logger: self.requestLogger
        )
        for reply in replies {
            if case .error(let message) = reply { throw RedisError.serverError(message) }
        }
    }

    public func sessionItems(_ session: String) async throws -> [ItemKey]? {
        guard let bytes = try await self.redis.get(self.configuration.keys.session(session), logger: self.requestLogger)
        else { return nil }
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

    /// Where every user's and session's current state is read when all of it has to be published again (the
    /// processor). Without one, a full republish only writes the `publisher` key.
    public func republish(from source: any ServingStateSource) {
        self.source.withLock { $0 = source }
    }

    public func publish(users: [PublishedUser]) {
        guard !users.isEmpty else { return }
        let dropped = self.pending.withLock { pending -> Int in
            for user in users { pending.users[user.profile.user] = user }
            guard pending.users.count > self.configuration.userQueueLimit else { return 0 }
            // The engine holds every user's latest state: publish all of it again rather than queue without bound.
            let dropped = pending.users.count
            pending.users = [:]
            pending.startRepublish()
            return dropped
        }
        if dropped > 0 { self.dropped(dropped, "users' states", then: "every user's state is published again once Redis answers") }
        self.wake.yield()
    }

    public func publish(sessions: [PublishedSession]) {
        guard !sessions.isEmpty else { return }
        let dropped = self.pending.withLock { pending -> Int in
            for session in sessions { pending.sessions[session.id] = session.items }
            guard pending.sessions.count > self.configuration.sessionQueueLimit else { return 0 }
            let dropped = pending.sessions.count
            pending.sessions = [:]
            pending.startRepublish()
            return dropped
        }
        if dropped > 0 { self.dropped(dropped, "sessions' items", then: "every session is published again once Redis answers") }
        self.wake.yield()
    }

    public func publish(catalogChange: CatalogChange) {
        let dropped = self.pending.withLock { pending -> Int in
            pending.catalog.append(catalogChange)
            guard pending.catalog.count > self.configuration.catalogQueueLimit else { return 0 }
            let dropped = pending.catalog.count
            pending.catalog = []
            return dropped
        }
        if dropped > 0 { self.dropped(dropped, "catalogue changes", then: "API processes get them with the next model snapshot") }
        self.wake.yield()
    }

    private func dropped(_ count: Int, _ what: String, then: String) {
        self.droppedQueued.increment(by: count)
        self.logger.warning(
            "Redis has been unreachable for too long: dropped the queued \(what); \(then)",
            metadata: ["starling.redis.dropped": "\(count)"]
        )
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
        let logger = self.requestLogger
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
            let replies = try await self.acknowledging.pipeline(commands, logger: logger)
            if let failure = replies.first(where: { if case .error = $0 { true } else { false } }) {
                throw RedisError.unexpectedReply("recording acknowledgements answered \(failure)")
            }
        } catch {
            self.acknowledgementFailures.increment()
            logger.warning(
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
                && !$0.republish
        }
    }

    /// Writes queued state until graceful shutdown, then writes what is left (once). Every
    /// ``Configuration/stateCheckInterval`` it also checks that Redis still holds the `publisher` key, and publishes
    /// everything again when it does not.
    public func run() async throws {
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                // Wakes the writer even when nothing changes, so that an emptied Redis is noticed.
                group.addTask {
                    while !Task.isCancelled {
                        try? await Task.sleep(for: self.configuration.stateCheckInterval)
                        self.wake.yield()
                    }
                }
                var backoff = Duration.milliseconds(50)
                var lastCheck: ContinuousClock.Instant?
                for await _ in self.wakeups {
                    while !Task.isCancelled {
                        var succeeded = true
                        if lastCheck.map({ ContinuousClock.now - $0 >= self.configuration.stateCheckInterval }) ?? true {
                            succeeded = await self.checkPublishedState()
                            if succeeded { lastCheck = .now }
                        }
                        if succeeded {
                            if self.isDrained { break }
                            succeeded = await self.writePending()
                            if succeeded { succeeded = await self.republishNextPage() }
                        }
                        if succeeded {
                            backoff = .milliseconds(50)
                        } else {
                            try? await Task.sleep(for: backoff)
                            backoff = min(backoff * 2, .seconds(2))
                        }
                    }
                }
                group.cancelAll()
            }
        }
        _ = await self.writePending()
    }

    /// Checks that Redis still holds the `publisher` key; starts a full republish when it does not. Returns
    /// whether Redis answered.
    private func checkPublishedState() async -> Bool {
        do {
            let reply = try await self.publishing.send(["EXISTS", self.configuration.keys.publisher])
            guard reply.integer == 0 else { return true }
            let (started, lost) = self.pending.withLock { pending -> (Bool, Bool) in
                if pending.republish, pending.republishCursor == nil { return (false, false) }
                pending.startRepublish()
                return (true, pending.publisherKeyWritten)
            }
            if started, lost {
                self.logger.warning("Redis lost the published serving state (restarted empty?): publishing every user's state again")
            } else if started {
                self.logger.info("Publishing every user's state to Redis (none is there yet)")
            }
            return true
        } catch {
            return false
        }
    }

    /// Writes the next page of users of a full republish (the `publisher` key and every session first); returns
    /// whether the write succeeded or there was nothing to write.
    private func republishNextPage() async -> Bool {
        let (due, start, generation) = self.pending.withLock { ($0.republish, $0.republishCursor, $0.republishGeneration) }
        guard due else { return true }
        let source = self.source.value
        let keys = self.configuration.keys
        do {
            if start == nil {
                // The key first: if Redis loses everything again while this runs, the next check starts over.
                try Self.check([try await self.publishing.send(["SET", keys.publisher, "1"])], "SET of the publisher key")
                self.pending.withLock {
                    $0.republishStarted = .now
                    $0.publisherKeyWritten = true
                }
                let sessions = source?.publishedSessions() ?? []
                let sessionTTL = Array(String(self.configuration.sessionTimeToLive.wholeMilliseconds).utf8)
                for chunk in stride(from: 0, to: sessions.count, by: self.configuration.pipelineSize) {
                    let batch = sessions[chunk..<min(sessions.count, chunk + self.configuration.pipelineSize)]
                    try Self.check(
                        try await self.publishing.pipeline(
                            batch.map { session in
                                [
                                    Array("SET".utf8), Array(keys.session(session.id).utf8), session.encodedItems(),
                                    Array("PX".utf8), sessionTTL,
                                ]
                            }
                        ),
                        "SET of a published session"
                    )
                }
            }
            var next: Int?
            var written = 0
            if let source {
                let page = source.publishedUsers(from: start ?? 0, limit: self.configuration.pipelineSize)
                let ttl = Array(String(self.configuration.userTimeToLive.wholeMilliseconds).utf8)
                if !page.users.isEmpty {
                    try Self.check(
                        try await self.publishing.pipeline(
                            page.users.map { user in
                                [Array("SET".utf8), Array(keys.user(user.profile.user).utf8), user.encoded(), Array("PX".utf8), ttl]
                            }
                        ),
                        "SET of a published user"
                    )
                }
                written = page.users.count
                next = page.next
            }
            self.republished.increment(by: written)
            let finished = self.pending.withLock { pending -> (users: Int, duration: Duration)? in
                guard pending.republish, pending.republishGeneration == generation else { return nil }
                pending.republishedUsers += written
                if let next {
                    pending.republishCursor = next
                    return nil
                }
                pending.republish = false
                pending.republishCursor = nil
                return (pending.republishedUsers, pending.republishStarted.map { ContinuousClock.now - $0 } ?? .zero)
            }
            if let finished {
                self.republishes.increment()
                self.logger.info(
                    "Published every user's state to Redis again",
                    metadata: [
                        "starling.redis.users": "\(finished.users)",
                        "starling.redis.seconds": "\(finished.duration.fractionalSeconds)",
                    ]
                )
            }
            return true
        } catch {
            self.publishFailures.increment()
            self.logger.warning(
                "Publishing serving state to Redis again failed; will retry",
                metadata: ["starling.redis.error": "\(error)"]
            )
            return false
        }
    }

    private static func check(_ replies: [RESPValue], _ what: String) throws {
        if let failure = replies.first(where: { if case .error = $0 { true } else { false } }) {
            throw RedisError.unexpectedReply("\(what) answered \(failure)")
        }
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
