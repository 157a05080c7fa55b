import StarlingCore
import StarlingServing
import Testing

struct RecommendationCacheTests {
    private let items = [Recommendation(item: "a", score: 1, reason: "trending")]

    private func lookup(
        _ cache: RecommendationCache,
        key: String = "k",
        epoch: UInt64,
        model: UInt64 = 0,
        modelTime: Int64 = 0
    ) -> RecommendationCache.Entry? {
        cache.lookup(
            user: "u",
            key: key,
            epoch: epoch,
            modelVersion: model,
            modelTime: modelTime,
            catalogVersion: 0,
            at: .now()
        ) { _ in true }
    }

    private func store(_ cache: RecommendationCache, key: String = "k", epoch: UInt64, model: UInt64 = 0) {
        cache.store(
            self.items,
            user: "u",
            key: key,
            epoch: epoch,
            profileVersion: epoch,
            modelVersion: model,
            modelTime: 0,
            catalogVersion: 0,
            earliestExpiry: nil
        )
    }

    @Test func aListIsServedOnlyAtTheEpochAndModelVersionItWasComputedAt() {
        let cache = RecommendationCache()
        self.store(cache, epoch: 3)
        #expect(self.lookup(cache, epoch: 3)?.items == self.items)
        #expect(self.lookup(cache, epoch: 4) == nil, "the user acted since")
        self.store(cache, epoch: 4)
        #expect(self.lookup(cache, epoch: 4, model: 1) == nil, "the embeddings were retrained since")
    }

    @Test func aListExpiresOnceTheModelsLearnedItsTimeToLiveOfEventTime() {
        // A replay or backfill moves event time faster than the wall clock: the item-side models move with it.
        let cache = RecommendationCache(configuration: .init(timeToLive: .seconds(60)))
        self.store(cache, epoch: 1)
        #expect(self.lookup(cache, epoch: 1, modelTime: 59_999) != nil)
        #expect(self.lookup(cache, epoch: 1, modelTime: 60_000) == nil)
    }

    @Test func aUserKeepsAtMostTheConfiguredNumberOfListShapes() {
        let cache = RecommendationCache(configuration: .init(listsPerUser: 2))
        self.store(cache, key: "a", epoch: 1)
        self.store(cache, key: "b", epoch: 1)
        _ = self.lookup(cache, key: "a", epoch: 1)  // "b" is now the least recently used
        self.store(cache, key: "c", epoch: 1)
        #expect(self.lookup(cache, key: "a", epoch: 1) != nil)
        #expect(self.lookup(cache, key: "b", epoch: 1) == nil)
        #expect(self.lookup(cache, key: "c", epoch: 1) != nil)
    }

    @Test(arguments: [
        ("all", CacheInvalidation.everyEvent),
        ("", .everyEvent),
        ("like, dislike", .eventTypes(["like", "dislike"])),
        ("purchase", .eventTypes(["purchase"])),
    ])
    func theBustOnOptionParses(option: String, expected: CacheInvalidation) {
        #expect(CacheInvalidation(option: option) == expected)
    }

    @Test func theEpochIsTheProfileVersionOrTheCountOfTheChosenTypes() {
        var profile = UserProfile(user: "u")
        profile.apply(Event(type: .view, user: "u", item: "a", timestamp: .seconds(1)))
        profile.apply(Event(type: .like, user: "u", item: "b", timestamp: .seconds(2)))
        profile.apply(Event(type: .view, user: "u", item: "c", timestamp: .seconds(3)))
        #expect(CacheInvalidation.everyEvent.epoch(of: profile) == 3)
        #expect(CacheInvalidation.eventTypes(["like"]).epoch(of: profile) == 1)
        #expect(CacheInvalidation.everyEvent.epoch(of: nil) == 0)
    }
}
