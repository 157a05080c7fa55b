public import StarlingCore
public import StarlingModels

/// The baseline: items ranked by how many interactions they have had, without the user's own items.
///
/// Every event with an item counts once, whatever its type or value. Items are kept in an array ordered by count
/// (highest first), so a recommendation walks the array only until it has found `count` items the user has not
/// seen. Among items with equal counts, the one that reached that count first comes first.
public struct PopularityRecommender: Recommender, Sendable {
    /// Item indices, by count descending.
    private var order: [Int] = []
    /// Where each item index is in ``order``.
    private var position: [Int] = []
    private var counts: [Int] = []
    private var keys: [ItemKey] = []
    private var index: [ItemKey: Int] = [:]
    /// The first position in ``order`` of the items with a given count.
    private var blockStart: [Int: Int] = [:]
    /// The items each user has interacted with.
    private var seen: [String: Set<ItemKey>] = [:]

    public init() {}

    public var sources: [RecommendationSource] { [.popularity] }

    /// How many interactions `item` has had.
    public func count(of item: ItemKey) -> Int {
        self.index[item].map { self.counts[$0] } ?? 0
    }

    public mutating func learn(_ event: Event) {
        guard let name = event.item else { return }
        let key = ItemKey(name)
        self.seen[event.user, default: []].insert(key)
        let item: Int
        if let existing = self.index[key] {
            item = existing
        } else {
            item = self.keys.count
            self.keys.append(key)
            self.counts.append(0)
            self.position.append(self.order.count)
            self.order.append(item)
            self.index[key] = item
            if self.blockStart[0] == nil { self.blockStart[0] = self.order.count - 1 }
        }
        // Move the item to the front of its count's block (shifting the items before it in the block back by one,
        // so their order is kept), then grow the count: the block shrinks by one from the front and the block of
        // count + 1, just before it, grows by one at its back.
        let count = self.counts[item]
        let front = self.blockStart[count]!
        var slot = self.position[item]
        while slot > front {
            self.order[slot] = self.order[slot - 1]
            self.position[self.order[slot]] = slot
            slot -= 1
        }
        self.order[front] = item
        self.position[item] = front
        self.counts[item] = count + 1
        if front + 1 < self.order.count, self.counts[self.order[front + 1]] == count {
            self.blockStart[count] = front + 1
        } else {
            self.blockStart[count] = nil
        }
        if self.blockStart[count + 1] == nil { self.blockStart[count + 1] = front }
    }

    public func recommend(user: String, count: Int, source: RecommendationSource) -> [ScoredItem] {
        guard source == .popularity, count > 0 else { return [] }
        let seen = self.seen[user] ?? []
        var result: [ScoredItem] = []
        result.reserveCapacity(count)
        for item in self.order {
            let key = self.keys[item]
            if seen.contains(key) { continue }
            result.append(ScoredItem(key: key, score: Double(self.counts[item])))
            if result.count == count { break }
        }
        return result
    }
}
