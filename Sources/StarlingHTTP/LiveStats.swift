public import Metrics
import Dispatch
public import ServiceLifecycle
import StarlingCore
import Synchronization

/// The few series the built-in dashboard charts, second by second, for `GET /v1/stats`.
///
/// A `MetricsFactory` the executable bootstraps beside Prometheus's (`MultiplexMetricsHandler`): every component
/// keeps recording its metrics as it does, and this backend keeps, of all of them, only the ones it charts —
/// ingest (`starling_ingest_events_accepted_total`), recommendation requests and their latency
/// (`starling_http_request_duration_seconds` of the routes whose pattern contains `recommendations`), HTTP 5xx
/// answers (`starling_http_requests_total`), freshness (`starling_freshness_seconds`), consumer lag
/// (`starling_processor_lag_records`), the cache (`starling_cache_requests_total`) and the model version
/// (`starling_model_version`). Every other metric gets a handler that does nothing. Counts are cumulative and
/// latencies go into fixed logarithmic buckets, so recording costs a few instructions under a lock.
///
/// As a `Service` it samples them once a second and keeps the last ``Configuration/points`` seconds as
/// ``Point``s (rates, percentiles and ratios over each second), which ``points`` returns: a dashboard opened now
/// draws the last two minutes at once, and polling it costs the server one small JSON rendering, whatever the
/// number of series.
public final class LiveStats: MetricsFactory, Service, Sendable {
    /// Settings of ``LiveStats``.
    public struct Configuration: Sendable {
        /// How many one-second points are kept (default 120).
        public var points: Int

        public init(points: Int = 120) {
            precondition(points > 0, "points must be positive")
            self.points = points
        }
    }

    /// One second of the server.
    public struct Point: Sendable, Equatable {
        /// When the second ended, in milliseconds since the Unix epoch.
        public var time: Int64
        /// Events accepted by ingest per second.
        public var ingestPerSecond: Double
        /// Recommendation requests answered per second (every route whose pattern contains `recommendations`).
        public var recommendationsPerSecond: Double
        /// Median and 99th percentile of their latency, in milliseconds; `nil` in a second without any.
        public var recommendationP50: Double?
        public var recommendationP99: Double?
        /// Median and 99th percentile of freshness (append to visible), in milliseconds; `nil` without events.
        public var freshnessP50: Double?
        public var freshnessP99: Double?
        /// The processor's lag in records at the end of the second; `nil` in a process without a processor.
        public var lag: Double?
        /// Cache hits over hits and misses in the second (every layer); `nil` without cache look-ups.
        public var cacheHitRatio: Double?
        /// HTTP responses with a 5xx status per second.
        public var errorsPerSecond: Double
        /// The model version last reported; `nil` before any.
        public var modelVersion: Double?
    }

    public let configuration: Configuration
    private let ingest = Count()
    private let recommendations = Histogram()
    private let freshness = Histogram()
    private let errors = Count()
    private let cacheHits = Count()
    private let cacheMisses = Count()
    private let lag = Level()
    private let modelVersion = Level()
    private let state: Mutex<Sampling>
    private let tick: @Sendable () async throws -> Void
    private let now: @Sendable () -> Int64

    private struct Totals {
        var ingest: Int64 = 0
        var recommendations: [Int64] = Histogram.empty
        var freshness: [Int64] = Histogram.empty
        var errors: Int64 = 0
        var cacheHits: Int64 = 0
        var cacheMisses: Int64 = 0
    }

    private struct Sampling {
        var previous: Totals
        var previousTime: Int64
        var points: [Point] = []
    }

    /// Creates the backend; its first second starts now, and its points come once its ``run()`` runs.
    public convenience init(configuration: Configuration = .init()) {
        self.init(
            configuration: configuration,
            tick: { try await Task.sleep(for: .seconds(1)) },
            now: { EventTime.now().milliseconds }
        )
    }

    /// Creates a backend whose seconds end when `tick` returns, stamped by `now`, for tests.
    package init(
        configuration: Configuration,
        tick: @escaping @Sendable () async throws -> Void,
        now: @escaping @Sendable () -> Int64
    ) {
        self.configuration = configuration
        self.tick = tick
        self.now = now
        // The first second starts now, from nothing recorded.
        self.state = Mutex(Sampling(previous: Totals(), previousTime: now()))
    }

    /// The points kept, oldest first.
    public var points: [Point] {
        self.state.withLock { $0.points }
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do { try await self.tick() } catch { break }
                self.sample()
            }
        }
    }

    /// Ends the current second: turns what was recorded since the previous call into a ``Point``.
    package func sample() {
        let totals = Totals(
            ingest: self.ingest.value,
            recommendations: self.recommendations.counts,
            freshness: self.freshness.counts,
            errors: self.errors.value,
            cacheHits: self.cacheHits.value,
            cacheMisses: self.cacheMisses.value
        )
        let time = self.now()
        let lag = self.lag.value
        let modelVersion = self.modelVersion.value
        self.state.withLock { state in
            defer {
                state.previous = totals
                state.previousTime = time
            }
            let previous = state.previous
            let seconds = max(Double(time - state.previousTime) / 1_000, 0.001)
            let recommendations = zip(totals.recommendations, previous.recommendations).map { $0 - $1 }
            let freshness = zip(totals.freshness, previous.freshness).map { $0 - $1 }
            let hits = totals.cacheHits - previous.cacheHits
            let lookups = hits + totals.cacheMisses - previous.cacheMisses
            let point = Point(
                time: time,
                ingestPerSecond: Double(totals.ingest - previous.ingest) / seconds,
                recommendationsPerSecond: Double(recommendations.reduce(0, +)) / seconds,
                recommendationP50: Histogram.quantile(0.5, of: recommendations),
                recommendationP99: Histogram.quantile(0.99, of: recommendations),
                freshnessP50: Histogram.quantile(0.5, of: freshness),
                freshnessP99: Histogram.quantile(0.99, of: freshness),
                lag: lag,
                cacheHitRatio: lookups > 0 ? Double(hits) / Double(lookups) : nil,
                errorsPerSecond: Double(totals.errors - previous.errors) / seconds,
                modelVersion: modelVersion
            )
            state.points.append(point)
            if state.points.count > self.configuration.points {
                state.points.removeFirst(state.points.count - self.configuration.points)
            }
        }
    }

    // MARK: - MetricsFactory

    public func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler {
        switch label {
        case "starling_ingest_events_accepted_total":
            return self.ingest
        case "starling_http_requests_total":
            let status = dimensions.first { $0.0 == "status" }?.1 ?? ""
            return status.hasPrefix("5") ? self.errors : NOOPMetricsHandler.instance
        case "starling_cache_requests_total":
            switch dimensions.first(where: { $0.0 == "result" })?.1 {
            case "hit": return self.cacheHits
            case "miss": return self.cacheMisses
            default: return NOOPMetricsHandler.instance
            }
        default:
            return NOOPMetricsHandler.instance
        }
    }

    public func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler {
        switch label {
        case "starling_processor_lag_records": return self.lag
        case "starling_model_version": return self.modelVersion
        default: return NOOPMetricsHandler.instance
        }
    }

    public func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler {
        switch label {
        case "starling_http_request_duration_seconds":
            let route = dimensions.first { $0.0 == "route" }?.1 ?? ""
            return route.contains("recommendations") ? self.recommendations : NOOPMetricsHandler.instance
        case "starling_freshness_seconds":
            return self.freshness
        default:
            return NOOPMetricsHandler.instance
        }
    }

    public func destroyCounter(_ handler: any CounterHandler) {}
    public func destroyRecorder(_ handler: any RecorderHandler) {}
    public func destroyTimer(_ handler: any TimerHandler) {}
}

extension LiveStats {
    /// A cumulative count.
    private final class Count: CounterHandler, Sendable {
        private let total = Atomic<Int64>(0)

        var value: Int64 { self.total.load(ordering: .relaxed) }

        func increment(by amount: Int64) {
            self.total.wrappingAdd(amount, ordering: .relaxed)
        }

        func reset() {
            self.total.store(0, ordering: .relaxed)
        }
    }

    /// The latest value recorded.
    private final class Level: RecorderHandler, Sendable {
        private let latest = Mutex<Double?>(nil)

        var value: Double? { self.latest.withLock { $0 } }

        func record(_ value: Int64) {
            self.latest.withLock { $0 = Double(value) }
        }

        func record(_ value: Double) {
            self.latest.withLock { $0 = value }
        }
    }

    /// Durations counted in logarithmic buckets: bucket `i` holds durations up to ``bounds``[i] nanoseconds,
    /// about 19 % apart from 10 µs to 60 s, plus one for longer ones. A quantile is the upper bound of its bucket,
    /// so it overstates by at most one bucket's width.
    final class Histogram: TimerHandler, Sendable {
        static let bounds: [Int64] = {
            var bounds: [Int64] = []
            var bound = 10_000.0
            while bound < 60e9 {
                bounds.append(Int64(bound))
                bound *= 1.19
            }
            bounds.append(60_000_000_000)
            return bounds
        }()
        static var empty: [Int64] { Array(repeating: 0, count: Self.bounds.count + 1) }

        private let buckets = Mutex<[Int64]>(Histogram.empty)

        var counts: [Int64] { self.buckets.withLock { $0 } }

        func recordNanoseconds(_ duration: Int64) {
            let index = Self.bucket(of: duration)
            self.buckets.withLock { $0[index] += 1 }
        }

        static func bucket(of duration: Int64) -> Int {
            var low = 0
            var high = Self.bounds.count
            // The first bound at or above the duration (binary search).
            while low < high {
                let middle = (low + high) / 2
                if Self.bounds[middle] < duration { low = middle + 1 } else { high = middle }
            }
            return low
        }

        /// The `q` quantile of `counts`, in milliseconds, or `nil` when there are none.
        static func quantile(_ q: Double, of counts: [Int64]) -> Double? {
            let total = counts.reduce(0, +)
            guard total > 0 else { return nil }
            let rank = Int64((q * Double(total)).rounded(.up))
            var seen: Int64 = 0
            for (index, count) in counts.enumerated() {
                seen += count
                if seen >= max(rank, 1) {
                    let bound = index < Self.bounds.count ? Self.bounds[index] : Self.bounds[Self.bounds.count - 1]
                    return Double(bound) / 1_000_000
                }
            }
            return Double(Self.bounds[Self.bounds.count - 1]) / 1_000_000
        }
    }
}
