public import StarlingCore

/// Exponentially time-decayed item popularity, by event time, with an exactly maintained top list.
///
/// Scores use *forward decay*: an event of weight `w` at time `t` adds `w · 2^((t − L) / halfLife)` to its item,
/// for a fixed landmark `L`. Every item's true decayed score at time `now` is its stored sum times the same
/// factor `2^((L − now) / halfLife)`, so the ranking never changes as time passes: only the item an event touches
/// moves. With non-negative weights a stored sum only grows, so the top list is maintained exactly, one event at a
/// time, in O(log K + K) worst case. Late events simply add a smaller amount. When exponents grow large the
/// landmark is moved forward and every sum rescaled (``rebase(to:)``).
///
/// A plain value: no locks, clocks or I/O. The stream processor owns the one mutable copy and publishes
/// ``Snapshot``s.
public struct TrendingCounter: Sendable {
    /// Configuration for ``TrendingCounter``.
    public struct Configuration: Sendable {
        /// Time for a score to halve while its item receives no events. Defaults to 6 hours.
        public var halfLife: Duration
        /// The number of items kept ranked. Defaults to 1,000.
        public var topSize: Int

        public init(halfLife: Duration = .seconds(6 * 3_600), topSize: Int = 1_000) {
            precondition(halfLife > .zero, "halfLife must be positive")
            precondition(topSize > 0, "topSize must be positive")
            self.halfLife = halfLife
            self.topSize = topSize
        }

        var halfLifeMilliseconds: Double {
            let (seconds, attoseconds) = self.halfLife.components
            return Double(seconds) * 1_000 + Double(attoseconds) / 1e15
        }
    }

    /// The ranked items at one event time.
    public struct Snapshot: Sendable {
        /// Items and their scores decayed to ``asOf``, highest first.
        public var ranked: [ScoredItem]
        /// The event time the scores are decayed to.
        public var asOf: EventTime

        public init(ranked: [ScoredItem], asOf: EventTime) {
            self.ranked = ranked
            self.asOf = asOf
        }

        /// A snapshot with no items.
        public static let empty = Snapshot(ranked: [], asOf: EventTime(milliseconds: 0))
    }

    public let configuration: Configuration
    private let halfLifeMilliseconds: Double
    /// The landmark `L`, in milliseconds.
    public private(set) var landmark: Int64?
    /// Forward-decayed sums by item.
    public private(set) var sums: [ItemKey: Double] = [:]
    /// The highest sums, descending.
    private var top: [ItemKey] = []
    private var inTop: Set<ItemKey> = []
    /// The latest event time seen: "now" in event time.
    public private(set) var latest: EventTime = EventTime(milliseconds: 0)

    /// Exponent (in half-lives) past which the landmark moves forward; 2^200 is far from Double's range.
    private static let rebaseThreshold = 200.0

    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
        self.halfLifeMilliseconds = configuration.halfLifeMilliseconds
    }

    /// Adds `weight` (≥ 0) to `item` at event time `time`. Late events count, decayed by their age.
    public mutating func record(_ item: ItemKey, weight: Double, at time: EventTime) {
        guard weight > 0 else { return }
        if time > self.latest { self.latest = time }
        let landmark = self.landmark ?? time.milliseconds
        if self.landmark == nil { self.landmark = landmark }
        var exponent = Double(time.milliseconds - landmark) / self.halfLifeMilliseconds
        if exponent > Self.rebaseThreshold {
            self.rebase(to: time)
            exponent = 0
        }
        let sum = self.sums[item, default: 0] + weight * .exp2(exponent)
        self.sums[item] = sum
        self.promote(item, sum: sum)
    }

    private mutating func promote(_ item: ItemKey, sum: Double) {
        if self.inTop.contains(item) {
            // Its sum only grew: move it up.
            guard var k = self.top.firstIndex(of: item) else { return }
            while k > 0, self.sums[self.top[k - 1]]! < sum {
                self.top.swapAt(k, k - 1)
                k -= 1
            }
            return
        }
        if self.top.count >= self.configuration.topSize {
            guard let last = self.top.last, self.sums[last]! < sum else { return }
            self.inTop.remove(self.top.removeLast())
        }
        // Binary search for the insertion point in the descending list.
        var low = 0
        var high = self.top.count
        while low < high {
            let mid = (low + high) / 2
            if self.sums[self.top[mid]]! >= sum { low = mid + 1 } else { high = mid }
        }
        self.top.insert(item, at: low)
        self.inTop.insert(item)
    }

    /// Calls `body` with each ranked item and its score decayed to `time`, best first, until it returns `false`.
    public func forEachRanked(at time: EventTime, _ body: (ItemKey, Double) -> Bool) {
        guard let landmark else { return }
        let factor = Double.exp2(Double(landmark - time.milliseconds) / self.halfLifeMilliseconds)
        for key in self.top {
            if !body(key, self.sums[key]! * factor) { return }
        }
    }

    /// Moves the landmark to `time`, rescaling every sum; rankings are unchanged.
    public mutating func rebase(to time: EventTime) {
        guard let landmark = self.landmark else { return }
        let factor = Double.exp2(Double(landmark - time.milliseconds) / self.halfLifeMilliseconds)
        for key in self.sums.keys { self.sums[key]! *= factor }
        self.landmark = time.milliseconds
    }

    /// The decayed score of `item` at `time`.
    public func score(of item: ItemKey, at time: EventTime) -> Double {
        guard let sum = self.sums[item], let landmark else { return 0 }
        return sum * .exp2(Double(landmark - time.milliseconds) / self.halfLifeMilliseconds)
    }

    /// The top items with scores decayed to `time` (the latest event time when `nil`).
    public func snapshot(at time: EventTime? = nil) -> Snapshot {
        let time = time ?? self.latest
        guard let landmark else { return Snapshot(ranked: [], asOf: time) }
        let factor = Double.exp2(Double(landmark - time.milliseconds) / self.halfLifeMilliseconds)
        return Snapshot(ranked: self.top.map { ScoredItem(key: $0, score: self.sums[$0]! * factor) }, asOf: time)
    }

    /// Restores a counter from its stored sums (see ``sums`` and ``landmark``).
    public init(configuration: Configuration, landmark: Int64?, sums: [ItemKey: Double], latest: EventTime) {
        self.init(configuration: configuration)
        self.landmark = landmark
        self.sums = sums
        self.latest = latest
        let ranked = sums.sorted { $0.value > $1.value }.prefix(configuration.topSize).map(\.key)
        self.top = Array(ranked)
        self.inTop = Set(ranked)
    }
}

extension Double {
    @inline(__always)
    static func exp2(_ x: Double) -> Double {
        #if canImport(Glibc)
        Glibc.exp2(x)
        #else
        Darwin.exp2(x)
        #endif
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
