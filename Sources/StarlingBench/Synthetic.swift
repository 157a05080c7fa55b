import Foundation
import StarlingCore
import StarlingModels

/// Synthetic traffic: Zipf-like item popularity, users with a few favourite categories, sessions.
struct SyntheticTraffic {
    private var random: SplitMix64
    let users: Int
    let items: Int
    private let zipfTable: [Double]

    init(seed: UInt64 = 7, users: Int = 100_000, items: Int = 20_000, exponent: Double = 1.0) {
        self.random = SplitMix64(seed: seed)
        self.users = users
        self.items = items
        var cumulative: [Double] = []
        cumulative.reserveCapacity(items)
        var total = 0.0
        for rank in 1...items {
            total += 1 / pow(Double(rank), exponent)
            cumulative.append(total)
        }
        self.zipfTable = cumulative.map { $0 / total }
    }

    mutating func next() -> UInt64 {
        self.random.next()
    }

    mutating func uniform() -> Double {
        Double(self.next() >> 11) / Double(1 << 53)
    }

    /// An item rank drawn from the Zipf distribution.
    mutating func zipfItem() -> Int {
        let u = self.uniform()
        var low = 0
        var high = self.zipfTable.count - 1
        while low < high {
            let mid = (low + high) / 2
            if self.zipfTable[mid] < u { low = mid + 1 } else { high = mid }
        }
        return low
    }

    private static let types: [(EventType, Double)] = [
        (.view, 0.62), (.click, 0.2), (.dwell, 0.06), (.scroll, 0.05), (.like, 0.03), (.add_to_cart_, 0.02),
        (.purchase, 0.01), (.dislike, 0.01),
    ]

    mutating func event(at time: EventTime) -> Event {
        let user = Int(self.next() % UInt64(self.users))
        // Users lean to items near their own "taste" offset half of the time.
        let item: Int
        if self.uniform() < 0.5 {
            item = (user * 37 + self.zipfItem() % 200) % self.items
        } else {
            item = self.zipfItem()
        }
        var pick = self.uniform()
        var type = EventType.view
        for (candidate, p) in Self.types {
            if pick < p {
                type = candidate
                break
            }
            pick -= p
        }
        let value: Double? =
            switch type {
            case .dwell: Double(self.next() % 300)
            case .scroll: self.uniform()
            default: nil
            }
        return Event(
            type: type,
            user: "user-\(user)",
            item: "item-\(item)",
            session: "s-\(user)-\(time.milliseconds / 1_800_000)",
            timestamp: time,
            value: value
        )
    }
}

extension EventType {
    fileprivate static let add_to_cart_ = EventType.addToCart
}
