public import StarlingCore

/// An item with a score.
public struct ScoredItem: Hashable, Sendable {
    public var key: ItemKey
    public var score: Double

    /// The item id.
    public var item: String { self.key.name }

    public init(key: ItemKey, score: Double) {
        self.key = key
        self.score = score
    }

    public init(item: String, score: Double) {
        self.init(key: ItemKey(item), score: score)
    }
}
