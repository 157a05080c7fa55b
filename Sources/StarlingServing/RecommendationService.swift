public import StarlingCore
public import StarlingModels

/// Computes recommendation lists from the published model snapshots and the user's profile.
///
/// Stateless: it reads the profile store and the latest snapshots, so any number of request handlers may call it
/// concurrently without taking a lock beyond the store's shard lock.
public struct RecommendationService<Profiles: ProfileStore>: Sendable {
    /// The largest `count` a request may ask for.
    public static var maxCount: Int { 200 }

    private let profiles: Profiles
    private let trending: SnapshotPublisher<TrendingCounter.Snapshot>

    public init(profiles: Profiles, trending: SnapshotPublisher<TrendingCounter.Snapshot>) {
        self.profiles = profiles
        self.trending = trending
    }

    /// The profile of `user`, if known.
    public func profile(for user: String) async throws -> UserProfile? {
        try await self.profiles.profile(for: user)
    }

    /// Recommendations for `user`: time-decayed popular items, without items the user already interacted with and
    /// without `excluding`.
    public func recommendations(for user: String, count: Int, excluding: Set<ItemKey> = []) async throws
        -> Recommendations
    {
        let profile = try await self.profiles.profile(for: user)
        let seen = profile?.interacted ?? []
        var items: [Recommendation] = []
        items.reserveCapacity(count)
        for entry in self.trending.current.ranked where items.count < count {
            guard !seen.contains(entry.key), !excluding.contains(entry.key) else { continue }
            items.append(Recommendation(item: entry.item, score: entry.score, reason: "trending"))
        }
        return Recommendations(user: user, items: items, profileVersion: profile?.version ?? 0)
    }

    /// The most popular items right now (in event time).
    public func trending(count: Int) -> [Recommendation] {
        self.trending.current.ranked.prefix(count).map {
            Recommendation(item: $0.item, score: $0.score, reason: "trending")
        }
    }
}
