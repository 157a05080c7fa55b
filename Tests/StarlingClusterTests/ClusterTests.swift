import Logging
import StarlingCluster
import StarlingCore
import StarlingModels
import StarlingRedis
import StarlingServing
import StarlingStream
import StarlingTestSupport
import Testing

/// A processor side and an API side sharing state through a real redis-server, as two processes would.
private final class Deployment: Sendable {
    let redis: RedisServerProcess
    let client: RedisClient
    let store: RedisServingStore
    // Processor side.
    let engine = EngineStore(RecommendationEngine())
    let profiles = MemoryProfileStore()
    let catalog = ItemCatalog()
    let exporter: SnapshotExporter
    // API side.
    let apiEngine = EngineStore(RecommendationEngine())
    let apiCatalog = ItemCatalog()
    let follower: SnapshotFollower
    let significant: Set<String> = ["like", "dislike", "purchase"]

    init(redis: RedisServerProcess, chunkBytes: Int = 8 << 20) {
        self.redis = redis
        // A bound for a loaded machine, not a test of time-outs (RedisClientTests has those).
        self.client = RedisClient(configuration: redis.configuration(commandTimeout: .seconds(10)))
        let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
        self.store = RedisServingStore(redis: self.client, logger: logger)
        self.exporter = SnapshotExporter(
            redis: self.client,
            engine: self.engine,
            catalog: self.catalog,
            catalogChangeID: { [store] in store.lastCatalogChangeID },
            configuration: .init(chunkBytes: chunkBytes),
            logger: logger
        )
        self.follower = SnapshotFollower(
            redis: self.client,
            engine: self.apiEngine,
            engineConfiguration: .init(),
            trending: SnapshotPublisher(.empty),
            catalog: self.apiCatalog,
            logger: logger
        )
    }

    /// The processor's service: its own engine and profiles, no cache.
    var processorService: RecommendationService<MemoryProfileStore> {
        RecommendationService(profiles: self.profiles, trending: SnapshotPublisher(.empty), engine: self.engine, catalog: self.catalog)
    }

    /// An API process's service: users' state from Redis, lists cached there.
    func apiService(
        timeToLive: Duration = .seconds(600),
        invalidation: CacheInvalidation = .everyEvent
    ) -> RecommendationService<MemoryProfileStore> {
        RecommendationService(
            profiles: MemoryProfileStore(),
            trending: SnapshotPublisher(.empty),
            engine: self.apiEngine,
            catalog: self.apiCatalog,
            shared: SharedServing(store: self.store, timeToLive: timeToLive, invalidation: invalidation, usersFromStore: true)
        )
    }

    /// Applies events as the stream processor does: models learn, profiles move, changed users are published.
    func apply(_ events: [Event]) {
        self.engine.write { engine in for event in events { engine.learn(event) } }
        var users: [PublishedUser] = []
        for event in events {
            self.profiles.modify(event.user) { $0.apply(event) }
        }
        for user in Set(events.map(\.user)) {
            let model = self.engine.read { $0.portableUser(user) } ?? .init()
            users.append(PublishedUser(profile: self.profiles.profile(for: user)!, model: model))
        }
        self.store.publish(users: users)
        let sessions = Set(events.compactMap(\.session)).map { session in
            PublishedSession(id: session, items: self.engine.read { engine in
                engine.sessionItems(session).map { engine.itemKey($0) }
            })
        }
        self.store.publish(sessions: sessions)
    }

    func applyCatalog(_ change: CatalogChange) {
        self.catalog.apply(change)
        self.store.publish(catalogChange: change)
    }

    /// Waits until the store wrote everything queued.
    func drained() async throws {
        let deadline = ContinuousClock.now + .seconds(10)
        while !self.store.isDrained {
            guard ContinuousClock.now < deadline else { throw TestSupportError("publishing to Redis did not finish") }
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    /// Applies the seed events, publishes them and moves a snapshot from the processor side to the API side.
    func seedAndSnapshot() async throws {
        self.apply(Self.seedEvents())
        try await self.drained()
        try await self.exporter.exportIfChanged()
        try await self.follower.loadIfChanged()
    }

    /// Runs `body` with the store's writer running.
    func run(_ body: (Deployment) async throws -> Void) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await self.store.run() }
            defer { group.cancelAll() }
            try await body(self)
        }
        await self.client.close()
    }

    static func seedEvents() -> [Event] {
        var events: [Event] = []
        var t: Int64 = 1_000
        func add(_ type: EventType, _ user: String, _ item: String) {
            t += 1
            events.append(Event(type: type, user: user, item: item, timestamp: .seconds(t)))
        }
        for u in 0..<30 {
            add(.like, "ab-\(u)", "a")
            add(.like, "ab-\(u)", "b")
            add(.view, "ab-\(u)", "c")
            add(.like, "xy-\(u)", "x")
            add(.like, "xy-\(u)", "y")
            add(.view, "xy-\(u)", "z")
        }
        add(.like, "me", "a")
        return events
    }
}

private func items(_ recommendations: Recommendations) -> [String] {
    recommendations.items.map(\.item)
}

@Suite(.serialized)
struct ClusterTests {
    @Test func publishedUsersAndSharedListsRoundTripThroughRedis() async throws {
        let redis = try await RedisServerProcess.started()
        try await Deployment(redis: redis).run { d in
            d.apply(Deployment.seedEvents())
            try await d.drained()
            let lookup = try await d.store.lookup(user: "ab-3", key: "k", includeUser: true)
            let published = try #require(lookup.user)
            #expect(published.profile == d.profiles.profile(for: "ab-3"))
            #expect(published.model == d.engine.read { $0.portableUser("ab-3") })
            #expect(lookup.list == nil)

            let list = SharedList(
                items: [Recommendation(item: "x", score: 0.5, reason: "trending")],
                epoch: 2,
                profileVersion: 3,
                modelVersion: 0,
                computedAt: 42
            )
            // Long enough to read it back on a busy machine; then wait (bounded) for Redis to expire it.
            try await d.store.store(list, user: "ab-3", key: "k", timeToLive: .seconds(3))
            #expect(try await d.store.lookup(user: "ab-3", key: "k", includeUser: false).list == list)
            #expect(try await d.store.lookup(user: "ab-3", key: "other", includeUser: false).list == nil)
            let deadline = ContinuousClock.now + .seconds(60)
            while try await d.store.lookup(user: "ab-3", key: "k", includeUser: false).list != nil, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(try await d.store.lookup(user: "ab-3", key: "k", includeUser: false).list == nil, "expired")
        }
    }

    @Test func anAPIProcessServesWhatTheProcessorServesAndFollowsEveryAction() async throws {
        let redis = try await RedisServerProcess.started()
        try await Deployment(redis: redis).run { d in
            d.apply(Deployment.seedEvents())
            try await d.drained()
            #expect(try await d.exporter.exportIfChanged())
            #expect(try await d.follower.loadIfChanged())
            let api = d.apiService()

            let expected = try await d.processorService.recommendations(for: "me", count: 5)
            let served = try await api.recommendations(for: "me", count: 5)
            #expect(items(served) == items(expected))
            #expect(served.profileVersion == 1)
            #expect(items(served).first == "b")

            // The user acts; the snapshot is not re-exported, only the user's state is published.
            d.apply([Event(type: .like, user: "me", item: "x", timestamp: .seconds(5_000))])
            try await d.drained()
            let after = try await api.recommendations(for: "me", count: 5)
            #expect(after.profileVersion == 2)
            #expect(items(after) == items(try await d.processorService.recommendations(for: "me", count: 5)))
            #expect(!items(after).contains("x"))
            #expect(items(after).contains("y"))
        }
    }

    @Test func aSharedListIsServedOnlyForTheProfileVersionItWasComputedFrom() async throws {
        let redis = try await RedisServerProcess.started()
        try await Deployment(redis: redis).run { d in
            try await d.seedAndSnapshot()
            let api = d.apiService()
            let first = try await api.recommendations(for: "me", count: 3)
            let top = try #require(items(first).first)
            let again = try await d.apiService().recommendations(for: "me", count: 3)
            #expect(again.cache == .sharedHit, "a hit in another process")
            var expected = first
            expected.cache = .sharedHit
            #expect(again == expected)

            // Any event makes it invalid: the next list reflects the view.
            d.apply([Event(type: .view, user: "me", item: top, timestamp: .seconds(5_000))])
            try await d.drained()
            let next = try await api.recommendations(for: "me", count: 3)
            #expect(next.profileVersion == 2)
            #expect(!items(next).contains(top))
        }
    }

    @Test func withReuseOptedInACachedListIsServedWithoutSeenItemsUntilASignificantEvent() async throws {
        let redis = try await RedisServerProcess.started()
        try await Deployment(redis: redis).run { d in
            try await d.seedAndSnapshot()
            let api = d.apiService(invalidation: .eventTypes(d.significant))
            let first = try await api.recommendations(for: "me", count: 3)
            let top = try #require(items(first).first)

            // A view is not significant: the cached list is reused, without the item just viewed.
            d.apply([Event(type: .view, user: "me", item: top, timestamp: .seconds(5_000))])
            try await d.drained()
            let cached = try await api.recommendations(for: "me", count: 3)
            #expect(items(cached) == Array(items(first).dropFirst()))
            #expect(cached.profileVersion == 2)

            // A like makes every list cached before it invalid, in every process.
            d.apply([Event(type: .like, user: "me", item: top, timestamp: .seconds(5_001))])
            try await d.drained()
            let fresh = try await api.recommendations(for: "me", count: 3)
            #expect(fresh.profileVersion == 3)
            #expect(!items(fresh).contains(top))
            // A second API process sees the same.
            let other = d.apiService(invalidation: .eventTypes(d.significant))
            #expect(items(try await other.recommendations(for: "me", count: 3)) == items(fresh))
        }
    }

    @Test func listsTheLogsOwnerCachesAreServedByAPIProcesses() async throws {
        let redis = try await RedisServerProcess.started()
        try await Deployment(redis: redis).run { d in
            try await d.seedAndSnapshot()
            // `--role all --redis`: the owner's service computes from its own state and shares the list.
            let owner = RecommendationService(
                profiles: d.profiles,
                trending: SnapshotPublisher(.empty),
                engine: d.engine,
                catalog: d.catalog,
                shared: SharedServing(
                    store: d.store,
                    timeToLive: .seconds(600),
                    invalidation: .eventTypes(d.significant),
                    usersFromStore: false
                )
            )
            let stored = try await owner.recommendations(for: "me", count: 3)
            // With reuse opted into, a view (not significant) moves the profile, not the list's validity: the API
            // process serves the owner's list as it was stored, at the current profile version.
            d.apply([Event(type: .view, user: "me", item: "zz", timestamp: .seconds(6_000))])
            try await d.drained()
            let api = d.apiService(invalidation: .eventTypes(d.significant))
            let served = try await api.recommendations(for: "me", count: 3)
            #expect(served.items == stored.items)
            #expect(served.profileVersion == 2)
            // A like invalidates it for both.
            d.apply([Event(type: .like, user: "me", item: items(stored)[0], timestamp: .seconds(6_001))])
            try await d.drained()
            #expect(!items(try await api.recommendations(for: "me", count: 3)).contains(items(stored)[0]))
            #expect(!items(try await owner.recommendations(for: "me", count: 3)).contains(items(stored)[0]))
        }
    }

    @Test func anonymousSessionsAreServedFromTheirPublishedItems() async throws {
        let redis = try await RedisServerProcess.started()
        try await Deployment(redis: redis).run { d in
            try await d.seedAndSnapshot()
            let api = d.apiService()
            // The session starts after the snapshot: only its published items tell the API process about it.
            d.apply([Event(type: .view, user: "anon-1", item: "x", session: "s-1", timestamp: .seconds(9_000))])
            try await d.drained()
            #expect(d.apiEngine.read { $0.sessionItems("s-1") }.isEmpty)
            let served = await api.sessionRecommendations(session: "s-1", RecommendationRequest(count: 3))
            let expected = await d.processorService.sessionRecommendations(session: "s-1", RecommendationRequest(count: 3))
            #expect(served.map(\.item) == expected.map(\.item))
            #expect(served.first?.item == "y")
            #expect(served.first?.reason == "similar to x")
            #expect(!served.contains { $0.item == "x" })
        }
    }

    @Test func catalogueChangesReachTheAPIProcessBetweenSnapshots() async throws {
        let redis = try await RedisServerProcess.started()
        try await Deployment(redis: redis).run { d in
            d.apply(Deployment.seedEvents())
            d.applyCatalog(.upsert(CatalogItem(id: "a", category: "films", updatedAt: .now())))
            try await d.drained()
            try await d.exporter.exportIfChanged()
            try await d.follower.loadIfChanged()
            #expect(d.apiCatalog.item("a")?.category == "films")
            let api = d.apiService()
            let top = try #require(items(try await api.recommendations(for: "xy-1", count: 3)).first)

            d.applyCatalog(.upsert(CatalogItem(id: top, available: false, updatedAt: .now())))
            try await d.drained()
            #expect(try await d.follower.applyCatalogChanges() == 1)
            #expect(d.apiCatalog.isRecommendable(top, at: .now()) == false)
            let after = try await api.recommendations(for: "xy-1", count: 3)
            #expect(!items(after).contains(top), "a cached list loses an item made unavailable")
            #expect(try await d.follower.applyCatalogChanges() == 0)

            // A new snapshot carries the change too; replaying the stream on top changes nothing.
            try await d.exporter.exportIfChanged()
            try await d.follower.loadIfChanged()
            try await d.follower.applyCatalogChanges()
            #expect(d.apiCatalog.isRecommendable(top, at: .now()) == false)
        }
    }

    @Test func snapshotsTravelInCheckedChunksAndAreRepublishedWhenRedisLosesThem() async throws {
        let redis = try await RedisServerProcess.started()
        try await Deployment(redis: redis, chunkBytes: 1_000).run { d in
            d.apply(Deployment.seedEvents())
            #expect(try await d.exporter.exportIfChanged())
            #expect(try await d.exporter.exportIfChanged() == false, "nothing changed")
            #expect(try await d.follower.loadIfChanged())
            #expect(try await d.follower.loadIfChanged() == false)
            func encoded(_ store: EngineStore) -> [UInt8] {
                var w = BinaryWriter()
                store.read { $0.encode(into: &w) }
                return w.bytes
            }
            #expect(encoded(d.apiEngine) == encoded(d.engine))
            #expect(encoded(d.engine).count > 10_000, "several chunks")

            await redis.killAndWait()
            try await redis.start()
            #expect(try await d.exporter.exportIfChanged(), "Redis restarted empty: the snapshot is published again")
            #expect(try await d.follower.loadIfChanged())
        }
    }

    @Test func aFollowerWithOtherSettingsRefusesTheSnapshot() async throws {
        let redis = try await RedisServerProcess.started()
        let client = RedisClient(configuration: redis.configuration())
        let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
        let exporter = SnapshotExporter(
            redis: client,
            engine: EngineStore(RecommendationEngine()),
            catalog: ItemCatalog(),
            catalogChangeID: { nil },
            configuration: .init(settings: "--model  --bust-on like"),
            logger: logger
        )
        func follower(_ settings: String) -> SnapshotFollower {
            SnapshotFollower(
                redis: client,
                engine: EngineStore(RecommendationEngine()),
                engineConfiguration: .init(),
                trending: SnapshotPublisher(.empty),
                catalog: ItemCatalog(),
                configuration: .init(settings: settings),
                logger: logger
            )
        }
        #expect(try await exporter.exportIfChanged())
        let mismatched = follower("--model  --bust-on like,purchase")
        await #expect(throws: RedisError.self) { try await mismatched.loadIfChanged() }
        #expect(!mismatched.hasSnapshot)
        #expect(try await follower("--model  --bust-on like").loadIfChanged())
        await client.close()
    }

    /// Every user's state as a processor would hand it over for a republish.
    private struct FixedSource: ServingStateSource {
        var users: [PublishedUser]

        func publishedUsers(from start: Int, limit: Int) -> (users: [PublishedUser], next: Int?) {
            let end = min(self.users.count, start + limit)
            return (Array(self.users[min(start, end)..<end]), end < self.users.count ? end : nil)
        }

        func publishedSessions() -> [PublishedSession] {
            [PublishedSession(id: "s-1", items: [ItemKey("x")])]
        }
    }

    @Test func aQueueBeyondItsBoundAndAnEmptiedRedisAreRepublishedFromTheSource() async throws {
        let redis = try await RedisServerProcess.started()
        let client = RedisClient(configuration: redis.configuration(commandTimeout: .milliseconds(500)))
        let store = RedisServingStore(
            redis: client,
            configuration: .init(pipelineSize: 7, userQueueLimit: 10, stateCheckInterval: .milliseconds(50)),
            logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
        )
        let users = (0..<30).map { PublishedUser(profile: UserProfile(user: "u\($0)"), model: .init()) }
        store.republish(from: FixedSource(users: users))
        func published() async throws -> Int {
            var count = 0
            for user in users where try await client.get("starling:user:\(user.profile.user)") != nil { count += 1 }
            return count
        }
        func eventually(_ what: String, _ condition: () async throws -> Bool) async throws {
            let deadline = ContinuousClock.now + .seconds(10)
            while try await !condition() {
                guard ContinuousClock.now < deadline else { throw TestSupportError("timed out waiting for \(what)") }
                try await Task.sleep(for: .milliseconds(10))
            }
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await store.run() }
            defer { group.cancelAll() }
            // The first start against an empty Redis publishes everything (three pages of 7 users and one of 2).
            try await eventually("the first republish") { try await published() == 30 }
            #expect(try await client.get("starling:session:s-1") != nil)

            // Redis restarted empty: noticed within the check interval, everything published again.
            _ = try await client.send(["FLUSHALL"])
            try await eventually("the republish after Redis lost everything") { try await published() == 30 }

            // Redis down: the queue keeps at most 10 users; the 11th drops it, and everything is published again
            // once Redis answers.
            await redis.killAndWait()
            store.publish(users: Array(users.prefix(11)))
            #expect(!store.isDrained)
            try await redis.start()
            try await eventually("the republish after the queue overflowed") {
                store.isDrained ? try await published() == 30 : false
            }
        }
        await client.close()
    }

    @Test func withRedisDownTheAPIProcessComputesFromItsSnapshot() async throws {
        let redis = try await RedisServerProcess.started()
        try await Deployment(redis: redis).run { d in
            try await d.seedAndSnapshot()
            let api = d.apiService()
            let before = try await api.recommendations(for: "me", count: 3)
            await redis.killAndWait()
            let during = try await api.recommendations(for: "me", count: 3)
            #expect(items(during) == items(before))
            #expect(during.profileVersion == 1, "computed from the latest state fetched")
            // A process that never fetched the user computes from its snapshot's state.
            let fromSnapshot = try await d.apiService().recommendations(for: "me", count: 3)
            #expect(items(fromSnapshot) == items(before))
            #expect(fromSnapshot.profileVersion == 0)
            // Publishing waits for Redis and loses nothing.
            d.apply([Event(type: .like, user: "me", item: "x", timestamp: .seconds(5_000))])
            // The writer takes the queue when it starts a write and puts it back when the write fails.
            let deadline = ContinuousClock.now + .seconds(10)
            while d.store.isDrained, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(5)) }
            #expect(!d.store.isDrained, "the state waits in the queue")
            try await redis.start()
            try await d.drained()
            let after = try await api.recommendations(for: "me", count: 3)
            #expect(after.profileVersion == 2)
            #expect(!items(after).contains("x"))
        }
    }
}
