import Logging
import StarlingCore
import StarlingModels
import StarlingServing
import StarlingTestSupport
import Synchronization
import Testing

/// The precompute job refreshes the lists of active users into the cache, at its rate, slower while busy.
@Suite(.serialized)
struct PrecomputeJobTests {
    private struct Setup {
        let engine = EngineStore(RecommendationEngine())
        let profiles = MemoryProfileStore()
        let cache = RecommendationCache(configuration: .init(timeToLive: .seconds(600)))
        let meter = RequestMeter()

        var service: RecommendationService<MemoryProfileStore> {
            RecommendationService(
                profiles: self.profiles,
                trending: SnapshotPublisher(.empty),
                engine: self.engine,
                cache: self.cache,
                meter: self.meter
            )
        }

        func job(perSecond: Int, activeUsers: ActiveUsers) -> PrecomputeJob<MemoryProfileStore> {
            PrecomputeJob(
                service: self.service,
                activeUsers: activeUsers,
                meter: self.meter,
                configuration: .init(perSecond: perSecond, busyRequestsPerSecond: 500),
                logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
            )
        }

        /// Users `u0`…`u(n-1)`, each with one event.
        func activity(users: Int) -> [Event] {
            (0..<users).map { Event(type: .like, user: "u\($0)", item: "i\($0 % 7)", timestamp: .seconds(Int64($0))) }
        }
    }

    @Test func activeUsersAreQueuedOnceAndTheirListsCached() async throws {
        let setup = Setup()
        let events = setup.activity(users: 30)
        setup.engine.write { engine in for event in events { engine.learn(event) } }
        let activeUsers = ActiveUsers()
        for event in events + events { activeUsers.note(event) }
        #expect(activeUsers.count == 30, "a user is queued once")
        let job = setup.job(perSecond: 1_000, activeUsers: activeUsers)
        // Until the queue is drained (a condition: a loaded machine once refreshed none in a fixed 500 ms).
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await job.run() }
            try await eventually("every active user refreshed") { activeUsers.count == 0 && setup.cache.count == 30 }
            group.cancelAll()
        }
        #expect(activeUsers.count == 0)
        #expect(setup.cache.count == 30)
    }

    @Test func theQueueIsBounded() {
        let activeUsers = ActiveUsers(maxQueued: 5)
        for event in Setup().activity(users: 8) { activeUsers.note(event) }
        #expect(activeUsers.count == 5)
    }

    @Test func itSlowsDownWhileTheProcessIsBusy() async throws {
        let setup = Setup()
        let events = setup.activity(users: 400)
        setup.engine.write { engine in for event in events { engine.learn(event) } }

        /// Runs a job for ten ticks (a nominal second) while `load` requests a second are served; returns the users
        /// it refreshed.
        func refreshes(load: Int) async throws -> Int {
            let activeUsers = ActiveUsers()
            for event in events { activeUsers.note(event) }
            let ticks = Atomic<Int>(0)
            let job = PrecomputeJob(
                service: setup.service,
                activeUsers: activeUsers,
                meter: setup.meter,
                configuration: .init(perSecond: 100, busyRequestsPerSecond: 500),
                logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }),
                tick: {
                    guard ticks.add(1, ordering: .sequentiallyConsistent).newValue <= 10 else {
                        try await Task.sleep(for: .seconds(3_600))  // until cancelled
                        return
                    }
                    for _ in 0..<(load / 10) { setup.meter.record() }
                }
            )
            let before = activeUsers.count
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await job.run() }
                // The eleventh tick starts once the tenth one's refreshes are done.
                let deadline = ContinuousClock.now + .seconds(30)
                while ticks.load(ordering: .sequentiallyConsistent) <= 10, ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(5))
                }
                #expect(ticks.load(ordering: .sequentiallyConsistent) > 10, "ten ticks within 30 s")
                group.cancelAll()
            }
            return before - activeUsers.count
        }

        // 100 refreshes a second while quiet; a tenth of that while serving 5,000 requests a second.
        let quiet = try await refreshes(load: 0)
        let busy = try await refreshes(load: 5_000)
        #expect(quiet == 100)
        #expect(busy == 10)
    }
}
