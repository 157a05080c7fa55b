public import StarlingCore
public import StarlingModels

/// Computes recommendation lists from the live engine, the published snapshots and the user's profile.
///
/// Stateless: it reads the profile store, the engine (under its shared lock) and the latest trending snapshot, so
/// any number of request handlers may call it concurrently.
public struct RecommendationService<Profiles: ProfileStore>: Sendable {
    /// The largest `count` a request may ask for.
    public static var maxCount: Int { 200 }

    private let profiles: Profiles
    private let trending: SnapshotPublisher<TrendingSnapshot>
    private let engine: EngineStore

    public init(profiles: Profiles, trending: SnapshotPublisher<TrendingSnapshot>, engine: EngineStore) {
        self.profiles = profiles
        self.trending = trending
        self.engine = engine
    }

    /// The profile of `user`, if known.
    public func profile(for user: String) async throws -> UserProfile? {
        try await self.profiles.profile(for: user)
    }

    /// Personal recommendations for `user`: the blend of embeddings, co-occurrence with the user's recent items,
    /// trending and segment popularity, without items the user interacted with (or disliked) and without
    /// `excluding`; each with the reason of the source that contributed most.
    public func recommendations(for user: String, count: Int, excluding: Set<ItemKey> = []) async throws
        -> Recommendations
    {
        let profile = try await self.profiles.profile(for: user)
        let (items, modelVersion) = self.engine.read { engine in
            let excluded = Set(excluding.compactMap { engine.itemIDs[$0] })
            let items = engine.candidates(user: user, count: count, source: .blend, excluding: excluded).map {
                Recommendation(item: engine.itemKeys[Int($0.item)].name, score: Double($0.score), reason: $0.reason.description)
            }
            return (items, engine.modelVersion)
        }
        return Recommendations(
            user: user,
            items: items,
            profileVersion: profile?.version ?? 0,
            modelVersion: modelVersion
        )
    }

    /// Items most similar to `item` (by time-decayed co-occurrence), or `nil` when the item was never seen.
    public func similarItems(to item: ItemKey, count: Int, excluding: Set<ItemKey> = []) -> [Recommendation]? {
        self.engine.read { engine in
            guard engine.itemIDs[item] != nil else { return nil }
            let excluded = Set(excluding.compactMap { engine.itemIDs[$0] })
            return engine.similarItems(to: item, count: count + excluded.count)
                .filter { !excluded.contains($0.item) }
                .prefix(count)
                .map {
                    Recommendation(item: engine.itemKeys[Int($0.item)].name, score: Double($0.score), reason: $0.reason.description)
                }
        }
    }

    /// The most popular items right now (in event time), optionally within one category (from events'
    /// `context.category`).
    public func trending(count: Int, category: String? = nil) -> [Recommendation] {
        if let category {
            return self.engine.read { engine in
                engine.categoryCandidates(category, count: count, excluding: []).map {
                    Recommendation(item: engine.itemKeys[Int($0.item)].name, score: Double($0.score), reason: $0.reason.description)
                }
            }
        }
        return self.trending.current.ranked.prefix(count).map {
            Recommendation(item: $0.item, score: $0.score, reason: "trending")
        }
    }
}
