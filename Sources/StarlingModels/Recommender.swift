public import StarlingCore

/// Where a recommendation comes from: one model, or the blend of all of them.
public struct RecommendationSource: Hashable, Sendable, CustomStringConvertible {
    public let name: String

    public init(_ name: String) {
        self.name = name
    }

    public var description: String { self.name }

    /// All sources blended into one ranking (what the API serves).
    public static let blend = RecommendationSource("blend")
    /// Matrix-factorisation embeddings: user vector · item vector.
    public static let embedding = RecommendationSource("embedding")
    /// Items that co-occur with the user's recent items.
    public static let cooccurrence = RecommendationSource("cooccurrence")
    /// Time-decayed popularity.
    public static let trending = RecommendationSource("trending")
    /// Popularity within the user's k-means segment.
    public static let segment = RecommendationSource("segment")
    /// Plain (not decayed) popularity: the baseline.
    public static let popularity = RecommendationSource("popularity")
}

/// An incremental recommender: learns from one event at a time and answers at any moment.
///
/// The offline evaluation (`starling eval`) drives recommenders through this protocol, exactly as the stream
/// processor and serving drive the production engine, so the numbers it reports are those of the real models.
public protocol Recommender {
    /// Learns from one event (in event-time order, though late events are allowed).
    mutating func learn(_ event: Event)

    /// The top `count` items for `user` from `source`, best first, never including an item the user has already
    /// interacted with.
    func recommend(user: String, count: Int, source: RecommendationSource) -> [ScoredItem]

    /// The sources this recommender can answer from.
    var sources: [RecommendationSource] { get }
}
