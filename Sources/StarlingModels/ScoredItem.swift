/// An item with a score and the reason it was chosen.
public struct ScoredItem: Hashable, Sendable {
    public var item: String
    public var score: Double

    public init(item: String, score: Double) {
        self.item = item
        self.score = score
    }
}
