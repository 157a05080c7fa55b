import Logging
import StarlingCore
import StarlingModels
import StarlingServing
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

    /// Runs `job` for `duration` while `load` requests per second are recorded on the meter; returns the users
    /// refreshed (taken off the queue).
    private func run(
        _ job: PrecomputeJob<MemoryProfileStore>,
        draining activeUsers: ActiveUsers,
        meter: RequestMeter,
        for duration: Duration,
        load: Int
    ) async throws -> Int {
        let before = activeUsers.count
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await job.run() }
            group.addTask {
                let deadline = ContinuousClock.now + duration
                while ContinuousClock.now < deadline {
                    for _ in 0..<(load / 100) { meter.record() }
                    try await Task.sleep(for: .milliseconds(10))
                }
            }
            try await group.next()
            group.cancelAll()
        }
        return before - activeUsers.count
    }

    @Test func activeUsersAreQueuedOnceAndTheirListsCached() async throws {
        let setup = Setup()
        let events = setup.activity(users: 30)
        setup.engine.write { engine in for event in events { engine.learn(event) } }
        let activeUsers = ActiveUsers()
        for event in events + events { activeUsers.note(event) }
        #expect(activeUsers.count == 30, "a user is queued once")
        let job = setup.job(perSecond: 1_000, activeUsers: activeUsers)
        let refreshed = try await self.run(job, draining: activeUsers, meter: setup.meter, for: .milliseconds(500), load: 0)
        #expect(refreshed == 30)
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

        let quietUsers = ActiveUsers()
        for event in events { quietUsers.note(event) }
        let quiet = setup.job(perSecond: 100, activeUsers: quietUsers)
        let quietRefreshes = try await self.run(quiet, draining: quietUsers, meter: setup.meter, for: .seconds(1), load: 0)

        let busyUsers = ActiveUsers()
        for event in events { busyUsers.note(event) }
        let busy = setup.job(perSecond: 100, activeUsers: busyUsers)
        let busyRefreshes = try await self.run(busy, draining: busyUsers, meter: setup.meter, for: .seconds(1), load: 5_000)

        // About 100 and 10 at the nominal rates; wide bounds for a loaded machine.
        #expect(quietRefreshes >= 40)
        #expect(busyRefreshes <= 25)
    }
}
