public import StarlingCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Exponentially time-decayed popularity of dense item ids, by event time, with an exactly maintained top list.
///
/// Scores use *forward decay*: an event of weight `w` at time `t` adds `w · 2^((t − L) / halfLife)` to its item,
/// for a fixed landmark `L`. Every item's true decayed score at time `now` is its stored sum times the same factor
/// `2^((L − now) / halfLife)`, so the ranking never changes as time passes: only the item an event touches moves.
/// With non-negative weights a stored sum only grows, so the top list is maintained exactly, one event at a time.
/// Late events simply add a smaller amount. When exponents grow large the landmark moves forward and every sum is
/// rescaled (``rebase(to:)``).
///
/// Sums and top-list positions are arrays indexed by id, so recording an event hashes nothing. A *sparse* counter
/// (``Configuration/sparse``, for the many small per-category counters) indexes them by a slot per item it has seen
/// instead, found through an ``Int32Map``: its size follows its own items, not the largest item id.
/// A plain value: no locks, clocks or I/O.
public struct TrendingCounter: Sendable {
    /// Configuration for ``TrendingCounter``.
    public struct Configuration: Sendable {
        /// Time for a score to halve while its item receives no events. Defaults to 4 days.
        public var halfLife: Duration
        /// The number of items kept ranked. Defaults to 1,000.
        public var topSize: Int
        /// Whether storage follows the items seen (a slot each) rather than the largest item id. Defaults to `false`.
        public var sparse: Bool

        public init(halfLife: Duration = .seconds(4 * 24 * 3_600), topSize: Int = 1_000, sparse: Bool = false) {
            precondition(halfLife > .zero, "halfLife must be positive")
            precondition(topSize > 0, "topSize must be positive")
            self.halfLife = halfLife
            self.topSize = topSize
            self.sparse = sparse
        }

        var halfLifeMilliseconds: Double {
            self.halfLife.fractionalMilliseconds
        }
    }

    public let configuration: Configuration
    private let halfLifeMilliseconds: Double
    /// The landmark `L`, in milliseconds.
    public private(set) var landmark: Int64?
    /// Forward-decayed sums, indexed by slot: the item id, or for a sparse counter the slot ``items`` names.
    public private(set) var sums: [Double] = []
    /// Sparse counters: the item of each slot.
    public private(set) var items: [Int32] = []
    /// Sparse counters: the slot of each item.
    private var slots: Int32Map?
    /// Per slot, its index in `top`, or -1.
    private var positions: [Int32] = []
    /// The slots with the highest sums, descending.
    private var top: [Int32] = []
    /// The latest event time seen: "now" in event time.
    public private(set) var latest: EventTime = EventTime(milliseconds: 0)

    /// Exponent (in half-lives) past which the landmark moves forward; 2^200 is far from Double's range.
    private static let rebaseThreshold = 200.0

    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
        self.halfLifeMilliseconds = configuration.halfLifeMilliseconds
        if configuration.sparse { self.slots = Int32Map() }
    }

    /// The slot of `item`, if it has one.
    @inline(__always)
    private func slot(of item: Int32) -> Int? {
        if let slots = self.slots { return slots[item].map(Int.init) }
        return Int(item) < self.sums.count ? Int(item) : nil
    }

    /// The slot of `item`, creating it (and room for it).
    private mutating func slot(creating item: Int32) -> Int {
        if self.slots != nil {
            if let slot = self.slots?[item] { return Int(slot) }
            let slot = self.sums.count
            self.slots?.set(item, Int32(slot))
            self.items.append(item)
            self.sums.append(0)
            self.positions.append(-1)
            return slot
        }
        let k = Int(item)
        while self.sums.count <= k {
            self.sums.append(0)
            self.positions.append(-1)
        }
        return k
    }

    @inline(__always)
    private func item(at slot: Int32) -> Int32 {
        self.slots == nil ? slot : self.items[Int(slot)]
    }

    /// Adds `weight` (≥ 0) to `item` at event time `time`. Late events count, decayed by their age.
    public mutating func record(_ item: Int32, weight: Double, at time: EventTime) {
        guard weight > 0 else { return }
        if time > self.latest { self.latest = time }
        let landmark = self.landmark ?? time.milliseconds
        if self.landmark == nil { self.landmark = landmark }
        var exponent = Double(time.milliseconds - landmark) / self.halfLifeMilliseconds
        if exponent > Self.rebaseThreshold {
            self.rebase(to: time)
            exponent = 0
        }
        let k = self.slot(creating: item)
        self.sums[k] += weight * exp2(exponent)
        self.promote(Int32(k))
    }

    private mutating func promote(_ item: Int32) {
        let sum = self.sums[Int(item)]
        var index = Int(self.positions[Int(item)])
        if index < 0 {
            if self.top.count >= self.configuration.topSize {
                guard let last = self.top.last, self.sums[Int(last)] < sum else { return }
                self.positions[Int(last)] = -1
                self.top[self.top.count - 1] = item
            } else {
                self.top.append(item)
            }
            index = self.top.count - 1
            self.positions[Int(item)] = Int32(index)
        }
        // Its sum only grew: move it up.
        while index > 0, self.sums[Int(self.top[index - 1])] < sum {
            let above = self.top[index - 1]
            self.top[index] = above
            self.positions[Int(above)] = Int32(index)
            index -= 1
        }
        self.top[index] = item
        self.positions[Int(item)] = Int32(index)
    }

    /// Moves the landmark to `time`, rescaling every sum; rankings are unchanged.
    public mutating func rebase(to time: EventTime) {
        guard let landmark = self.landmark else { return }
        let factor = exp2(Double(landmark - time.milliseconds) / self.halfLifeMilliseconds)
        for k in self.sums.indices { self.sums[k] *= factor }
        self.landmark = time.milliseconds
    }

    /// The decayed score of `item` at `time`.
    public func score(of item: Int32, at time: EventTime) -> Double {
        guard let slot = self.slot(of: item), let landmark else { return 0 }
        return self.sums[slot] * exp2(Double(landmark - time.milliseconds) / self.halfLifeMilliseconds)
    }

    /// Calls `body` with each ranked item and its score decayed to `time`, best first, until it returns `false`.
    public func forEachRanked(at time: EventTime, _ body: (Int32, Double) -> Bool) {
        guard let landmark else { return }
        let factor = exp2(Double(landmark - time.milliseconds) / self.halfLifeMilliseconds)
        for slot in self.top {
            if !body(self.item(at: slot), self.sums[Int(slot)] * factor) { return }
        }
    }

    /// The ranked items, with names from `names` (indexed by id) and scores decayed to `time` (the latest event
    /// time when `nil`).
    public func snapshot(names: [ItemKey], at time: EventTime? = nil) -> TrendingSnapshot {
        let time = time ?? self.latest
        var ranked: [ScoredItem] = []
        ranked.reserveCapacity(self.top.count)
        self.forEachRanked(at: time) { item, score in
            ranked.append(ScoredItem(key: names[Int(item)], score: score))
            return true
        }
        return TrendingSnapshot(ranked: ranked, asOf: time)
    }

    /// Restores a counter from its stored sums (see ``sums``, ``items`` and ``landmark``): for a sparse counter,
    /// `items` names the item of each sum (a dense one takes the sums by item id and ignores it). A sparse counter
    /// keeps only the items whose sum is positive.
    public init(configuration: Configuration, landmark: Int64?, sums: [Double], items: [Int32] = [], latest: EventTime) {
        self.init(configuration: configuration)
        self.landmark = landmark
        self.latest = latest
        if configuration.sparse {
            let names = items.count == sums.count ? items : sums.indices.map { Int32($0) }
            for (item, sum) in zip(names, sums) where sum > 0 && item >= 0 && self.slot(of: item) == nil {
                self.sums[self.slot(creating: item)] = sum
            }
        } else {
            self.sums = sums
            self.positions = [Int32](repeating: -1, count: sums.count)
        }
        let sums = self.sums
        let ranked = sums.indices.filter { sums[$0] > 0 }
            .sorted { sums[$0] != sums[$1] ? sums[$0] > sums[$1] : $0 < $1 }
            .prefix(configuration.topSize)
        self.top = ranked.map { Int32($0) }
        for (index, item) in self.top.enumerated() { self.positions[Int(item)] = Int32(index) }
    }
}

/// Ranked items at one event time, as published for serving.
public struct TrendingSnapshot: Sendable {
    /// Items and their decayed scores, highest first.
    public var ranked: [ScoredItem]
    /// The event time the scores are decayed to.
    public var asOf: EventTime

    public init(ranked: [ScoredItem], asOf: EventTime) {
        self.ranked = ranked
        self.asOf = asOf
    }

    /// A snapshot with no items.
    public static let empty = TrendingSnapshot(ranked: [], asOf: EventTime(milliseconds: 0))
}
