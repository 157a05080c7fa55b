public import Logging
import Metrics
public import ServiceLifecycle
public import StarlingCore
import Synchronization

/// Counts the recommendation requests a process serves, so background work can tell busy periods from quiet ones.
public final class RequestMeter: Sendable {
    private let served = Atomic<UInt64>(0)

    public init() {}

    /// Counts one request.
    public func record() {
        self.served.add(1, ordering: .relaxed)
    }

    /// Requests counted since start.
    public var total: UInt64 {
        self.served.load(ordering: .relaxed)
    }
}

/// Users with events since their lists were last refreshed, each once, oldest first; bounded (beyond
/// `maxQueued` the oldest are dropped: they are computed on demand).
///
/// Created before the processor, which reports every applied event to it, and drained by a ``PrecomputeJob``.
public final class ActiveUsers: Sendable {
    private struct Queue: Sendable {
        var order: [String] = []
        var head = 0
        var queued = Set<String>()

        var count: Int { self.order.count - self.head }

        mutating func push(_ user: String, limit: Int) {
            guard self.queued.insert(user).inserted else { return }
            self.order.append(user)
            if self.count > limit { _ = self.pop() }
        }

        mutating func pop() -> String? {
            guard self.head < self.order.count else { return nil }
            let user = self.order[self.head]
            self.head += 1
            if self.head > 4_096, self.head * 2 > self.order.count {
                self.order.removeFirst(self.head)
                self.head = 0
            }
            self.queued.remove(user)
            return user
        }
    }

    private let queue = LockedBox(Queue())
    private let maxQueued: Int

    /// - Parameter maxQueued: Most users waiting. Defaults to 100,000.
    public init(maxQueued: Int = 100_000) {
        precondition(maxQueued > 0, "maxQueued must be positive")
        self.maxQueued = maxQueued
    }

    /// Queues the event's user (once).
    public func note(_ event: Event) {
        self.queue.withLock { $0.push(event.user, limit: self.maxQueued) }
    }

    /// Users waiting.
    public var count: Int {
        self.queue.withLock { $0.count }
    }

    func next() -> String? {
        self.queue.withLock { $0.pop() }
    }
}

/// Refreshes the cached lists of recently active users in the background, so that their next request is a hit.
///
/// The processor reports each applied event to an ``ActiveUsers`` queue; a user with events since their last
/// refresh is queued once, oldest first. The job refreshes at most ``Configuration/perSecond`` users a second, and a
/// tenth of that while the process serves more than ``Configuration/busyRequestsPerSecond`` recommendation
/// requests a second, so it does its work in quiet periods and never competes with live traffic. A refresh is the
/// default request (`count` 10) through ``RecommendationService``, so it fills whichever cache layers the service
/// has, and a list already valid is not recomputed.
public final class PrecomputeJob<Profiles: ProfileStore>: Service {
    /// Configuration of a ``PrecomputeJob``.
    public struct Configuration: Sendable {
        /// Most refreshes per second. Defaults to 100.
        public var perSecond: Int
        /// Above this many recommendation requests per second the job slows to a tenth. Defaults to 500.
        public var busyRequestsPerSecond: Int
        /// The request whose list is refreshed.
        public var request: RecommendationRequest

        public init(
            perSecond: Int = 100,
            busyRequestsPerSecond: Int = 500,
            request: RecommendationRequest = RecommendationRequest(count: 10)
        ) {
            precondition(perSecond > 0, "perSecond must be positive")
            self.perSecond = perSecond
            self.busyRequestsPerSecond = busyRequestsPerSecond
            self.request = request
        }
    }

    public let configuration: Configuration
    private let service: RecommendationService<Profiles>
    private let meter: RequestMeter
    private let activeUsers: ActiveUsers
    private let logger: Logger
    private let refreshed = Counter(label: "starling_precompute_refreshes_total")
    private let queuedGauge = Gauge(label: "starling_precompute_queued_users")
    /// Waits for the next tick, 100 ms after the previous one.
    private let tick: @Sendable () async throws -> Void

    public convenience init(
        service: RecommendationService<Profiles>,
        activeUsers: ActiveUsers,
        meter: RequestMeter,
        configuration: Configuration = .init(),
        logger: Logger
    ) {
        self.init(
            service: service,
            activeUsers: activeUsers,
            meter: meter,
            configuration: configuration,
            logger: logger,
            tick: { try await Task.sleep(for: .milliseconds(100)) }
        )
    }

    /// Creates a job whose ticks (nominally 100 ms apart) come from `tick`, for tests.
    package init(
        service: RecommendationService<Profiles>,
        activeUsers: ActiveUsers,
        meter: RequestMeter,
        configuration: Configuration,
        logger: Logger,
        tick: @escaping @Sendable () async throws -> Void
    ) {
        self.service = service
        self.activeUsers = activeUsers
        self.meter = meter
        self.configuration = configuration
        self.logger = logger
        self.tick = tick
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            var lastTotal = self.meter.total
            var credit = 0.0
            var own: UInt64 = 0  // the job's own requests, which the meter counts too
            while !Task.isCancelled {
                // A cancelled wait ends the job without one more round of refreshes.
                do { try await self.tick() } catch { break }
                let total = self.meter.total
                let requestsPerSecond = Double((total &- lastTotal) &- min(own, total &- lastTotal)) * 10
                lastTotal = total
                own = 0
                let busy = requestsPerSecond > Double(self.configuration.busyRequestsPerSecond)
                let rate = Double(self.configuration.perSecond) * (busy ? 0.1 : 1)
                credit = min(credit + rate / 10, Double(self.configuration.perSecond))
                while credit >= 1, let user = self.activeUsers.next() {
                    credit -= 1
                    own += 1
                    do {
                        _ = try await self.service.recommendations(for: user, self.configuration.request, endpoint: .precompute)
                        self.refreshed.increment()
                    } catch {
                        self.logger.debug("Precomputing a list failed", metadata: ["starling.user": "\(user)", "error": "\(error)"])
                    }
                }
                self.queuedGauge.record(self.activeUsers.count)
            }
        }
    }
}
