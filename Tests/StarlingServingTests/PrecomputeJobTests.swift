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

        func job(perSecond: Int, maxQueued: Int = 100_000) -> PrecomputeJob<MemoryProfileStore> {
            PrecomputeJob(
                service: self.service,
                meter: self.meter,
                configuration: .init(perSecond: perSecond, busyRequestsPerSecond: 500, maxQueued: maxQueued),
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
        meter: RequestMeter,
        for duration: Duration,
        load: Int
    ) async throws -> Int {
        let before = job.queuedCount
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
        return before - job.queuedCount
    }

    @Test func activeUsersAreQueuedOnceAndTheirListsCached() async throws {
        let setup = Setup()
        let events = setup.activity(users: 30)
        setup.engine.write { engine in for event in events { engine.learn(event) } }
        let job = setup.job(perSecond: 1_000)
        for event in events + events { job.noteActivity(event) }
        #expect(job.queuedCount == 30, "a user is queued once")
        let refreshed = try await self.run(job, meter: setup.meter, for: .milliseconds(500), load: 0)
        #expect(refreshed == 30)
        #expect(setup.cache.count == 30)
    }

    @Test func theQueueIsBounded() {
        let setup = Setup()
        let job = setup.job(perSecond: 10, maxQueued: 5)
        for event in setup.activity(users: 8) { job.noteActivity(event) }
        #expect(job.queuedCount == 5)
    }

    @Test func itSlowsDownWhileTheProcessIsBusy() async throws {
        let setup = Setup()
        let events = setup.activity(users: 400)
        setup.engine.write { engine in for event in events { engine.learn(event) } }

        let quiet = setup.job(perSecond: 100)
        for event in events { quiet.noteActivity(event) }
        let quietRefreshes = try await self.run(quiet, meter: setup.meter, for: .seconds(1), load: 0)

        let busy = setup.job(perSecond: 100)
        for event in events { busy.noteActivity(event) }
        let busyRefreshes = try await self.run(busy, meter: setup.meter, for: .seconds(1), load: 5_000)

        // About 100 and 10 at the nominal rates; wide bounds for a loaded machine.
        #expect(quietRefreshes >= 40)
        #expect(busyRefreshes <= 25)
    }
}
