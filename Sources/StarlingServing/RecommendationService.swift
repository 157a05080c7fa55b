import Metrics
public import StarlingCore
public import StarlingModels
import StarlingStream

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
    private let catalog: ItemCatalog
    /// Rules applied to every request, before the request's own (from configuration).
    public var defaultRules: [RecommendationRequest.AttributeRule]
    /// A category cap applied when the request sets none.
    public var defaultCategoryCap: Int?
    /// Cached lists, when caching is on.
    public let cache: RecommendationCache?
    /// The shared (Redis) layer: lists cached for every serving process and, for API processes, users' state.
    public let shared: SharedServing?
    /// Counts requests, for background work that prefers quiet periods.
    public let meter: RequestMeter?
    /// How requests wait for the user's acknowledged events to be applied (read-your-writes).
    public let readYourWrites: ReadYourWrites

    public init(
        profiles: Profiles,
        trending: SnapshotPublisher<TrendingSnapshot>,
        engine: EngineStore,
        catalog: ItemCatalog = ItemCatalog(),
        defaultRules: [RecommendationRequest.AttributeRule] = [],
        defaultCategoryCap: Int? = nil,
        cache: RecommendationCache? = nil,
        shared: SharedServing? = nil,
        meter: RequestMeter? = nil,
        readYourWrites: ReadYourWrites = .init()
    ) {
        self.readYourWrites = readYourWrites
        self.meter = meter
        self.cache = cache
        self.shared = shared
        self.profiles = profiles
        self.trending = trending
        self.engine = engine
        self.catalog = catalog
        self.defaultRules = defaultRules
        self.defaultCategoryCap = defaultCategoryCap
        // Created with the service, so that their series are exported (at zero) before the first request.
        _ = ReadYourWritesMetrics.shared
        _ = RecommendationMetrics.shared
        if shared != nil { _ = SharedServingMetrics.shared }
    }

    /// The profile of `user`, if known, reflecting every event of the user acknowledged before the call (within
    /// ``ReadYourWrites/timeout``).
    ///
    /// An API process reads it from the shared store; while the store is unreachable, it answers with the latest
    /// state of the user it fetched, and throws ``SharedStoreUnavailable`` for users it has not.
    public func profile(for user: String) async throws -> UserProfile? {
        if let shared = self.shared, shared.usersFromStore {
            do {
                let published = try await self.publishedLookup(user: user, key: "", shared: shared).lookup.user
                if let published { shared.recentUsers.remember(published) }
                return published?.profile
            } catch {
                guard let remembered = shared.recentUsers.state(of: user) else {
                    throw SharedStoreUnavailable(underlying: "\(error)")
                }
                return remembered.profile
            }
        }
        _ = await self.waitForAcknowledgedEvents(of: user)
        return try await self.profiles.profile(for: user)
    }

    /// The k-means segment the models placed `user` in, if any: from the engine, or for an API process from the
    /// user's state it fetched last (call ``profile(for:)`` first).
    public func segment(of user: String) -> Int? {
        if let shared = self.shared, shared.usersFromStore {
            guard let segment = shared.recentUsers.state(of: user)?.model.segment, segment >= 0 else { return nil }
            return Int(segment)
        }
        return self.engine.read { engine in
            guard let segment = engine.userState(user)?.segment, segment >= 0 else { return nil }
            return Int(segment)
        }
    }

    /// Waits (bounded) until this process's processor has applied every acknowledged event of `user`; returns
    /// whether it has.
    private func waitForAcknowledgedEvents(of user: String) async -> Bool {
        guard let acknowledgements = self.readYourWrites.acknowledgements else { return true }
        let visible = await acknowledgements.waitUntilVisible(user, timeout: self.readYourWrites.timeout)
        if !visible { ReadYourWritesMetrics.shared.timeouts.increment() }
        return visible
    }

    /// One look-up in the shared store (API processes): repeated, until ``ReadYourWrites/timeout``, while the
    /// user's published state does not yet cover the positions of their acknowledged events; and whether it does.
    private func publishedLookup(user: String, key: String, shared: SharedServing) async throws
        -> (lookup: SharedLookup, fresh: Bool)
    {
        var lookup = try await shared.store.lookup(user: user, key: key, includeUser: true)
        guard !lookup.isCurrent else { return (lookup, true) }
        let metrics = ReadYourWritesMetrics.shared
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: self.readYourWrites.timeout)
        while clock.now < deadline {
            try? await Task.sleep(for: self.readYourWrites.pollInterval)
            lookup = try await shared.store.lookup(user: user, key: key, includeUser: true)
            if lookup.isCurrent { return (lookup, true) }
        }
        metrics.timeouts.increment()
        return (lookup, false)
    }

    /// Personal recommendations for `user`: the blend of co-occurrence with the user's recent items, trending,
    /// segment popularity and the embedding score, without items the user interacted with (or disliked) and without
    /// `excluding`; each with the reason of the source that contributed most.
    public func recommendations(for user: String, count: Int, excluding: Set<ItemKey> = []) async throws
        -> Recommendations
    {
        try await self.recommendations(for: user, RecommendationRequest(count: count, exclude: excluding))
    }

    /// Personal recommendations shaped by `request`: catalogue availability (unavailable, expired and deleted items
    /// never appear), category and tag filters, the seen-items window, boost and bury rules, a per-category cap or
    /// maximal-marginal-relevance diversity, and pinned items.
    ///
    /// The list reflects every event of the user acknowledged before the call: the request first waits, at most
    /// ``ReadYourWrites/timeout``, for the processor to apply them, and says whether it did in
    /// ``Recommendations/fresh``. A cached list is served only for the profile version (and model version) it was
    /// computed from, unless the cache's ``CacheInvalidation`` opts into reuse.
    public func recommendations(for user: String, _ request: RecommendationRequest) async throws -> Recommendations {
        try await self.recommendations(for: user, request, endpoint: .user)
    }

    /// ``recommendations(for:_:)``, timed under `endpoint` (the precompute job's refreshes are not requests).
    func recommendations(
        for user: String,
        _ request: RecommendationRequest,
        endpoint: RecommendationMetrics.Endpoint
    ) async throws -> Recommendations {
        self.meter?.record()
        let started = ContinuousClock.now
        let result: Recommendations
        if let shared = self.shared, shared.usersFromStore {
            result = try await self.sharedOrComputed(for: user, request, local: nil)
        } else {
            let fresh = await self.waitForAcknowledgedEvents(of: user)
            let profile = try await self.profiles.profile(for: user)
            var list = try await self.cachedOrComputed(for: user, request, profile: profile)
            list.fresh = fresh
            result = list
        }
        RecommendationMetrics.shared.record(endpoint, cache: result.cache, since: started)
        return result
    }

    /// The in-process cache layer, for processes with their own profiles.
    private func cachedOrComputed(
        for user: String,
        _ request: RecommendationRequest,
        profile: UserProfile?
    ) async throws -> Recommendations {
        guard let cache = self.cache else { return try await self.sharedOrComputed(for: user, request, local: profile) }
        let now = EventTime.now()
        let key = request.cacheKey
        let invalidation = cache.configuration.invalidation
        let epoch = invalidation.epoch(of: profile)
        // The catalogue version, epoch and model version are read before computing: a list stored with them never
        // reflects less than they say, and a catalogue change makes it re-checked on its next hit.
        let catalogVersion = self.catalog.version
        let (modelVersion, modelTime) = self.engine.read { ($0.modelVersion, $0.latest.milliseconds) }
        let version = profile?.version ?? 0
        if let hit = cache.lookup(
            user: user,
            key: key,
            epoch: epoch,
            modelVersion: modelVersion,
            modelTime: modelTime,
            catalogVersion: catalogVersion,
            at: now,
            isRecommendable: { self.catalog.isRecommendable($0, at: now) }
        ) {
            guard hit.profileVersion != version, request.excludeSeen == .all, let profile else {
                var list = Recommendations(
                    user: user,
                    items: hit.items,
                    profileVersion: version,
                    modelVersion: hit.modelVersion,
                    renderedItems: hit.rendered
                )
                list.cache = .processHit
                return list
            }
            // Reused across events that do not invalidate it (an opt-in): without what the user touched since.
            var list = Recommendations(
                user: user,
                items: hit.items.filter { !profile.interacted.contains(ItemKey($0.item)) },
                profileVersion: version,
                modelVersion: hit.modelVersion
            )
            list.cache = .processHit
            return list
        }
        var computed = try await self.sharedOrComputed(for: user, request, local: profile)
        if computed.cache == .disabled { computed.cache = .miss }
        cache.store(
            computed.items,
            user: user,
            key: key,
            epoch: epoch,
            profileVersion: version,
            modelVersion: modelVersion,
            modelTime: modelTime,
            catalogVersion: catalogVersion,
            earliestExpiry: computed.items.compactMap { self.catalog.item($0.item)?.expiresAt }.min()
        )
        return computed
    }

    /// The list from the shared layer if it holds a valid one, else computed (and stored there).
    ///
    /// A shared list is valid while the user's epoch (``CacheInvalidation``) and the model version equal those it
    /// was computed at, its time to live has not passed, and every item is still recommendable. When the store
    /// cannot be reached, the list is computed from what this process has: for an API process, the latest state of
    /// the user it fetched, or else its model snapshot's.
    ///
    /// - Parameter local: The user's profile, for processes with their own profiles (`nil` for API processes,
    ///   which read it from the store).
    private func sharedOrComputed(
        for user: String,
        _ request: RecommendationRequest,
        local: UserProfile?
    ) async throws -> Recommendations {
        guard let shared = self.shared else {
            return self.compute(for: user, request, profile: local, published: nil).list
        }
        let metrics = SharedServingMetrics.shared
        // With a zero time to live nothing is shared: the look-up only reads the user's state.
        let key = shared.timeToLive > .zero ? request.cacheKey : ""
        var lookup: SharedLookup?
        var fresh = true
        do {
            if shared.usersFromStore {
                (lookup, fresh) = try await self.publishedLookup(user: user, key: key, shared: shared)
            } else {
                lookup = try await shared.store.lookup(user: user, key: key, includeUser: false)
            }
        } catch {
            metrics.errors.increment()
            lookup = nil
            // Without the store an API process cannot tell whether the user acted since the state it remembers.
            fresh = !shared.usersFromStore
        }
        let published: PublishedUser?
        if let lookup {
            published = lookup.user
            if shared.usersFromStore, let user = lookup.user { shared.recentUsers.remember(user) }
        } else {
            published = shared.usersFromStore ? shared.recentUsers.state(of: user) : nil
        }
        let profile = shared.usersFromStore ? published?.profile : local
        let epoch = shared.invalidation.epoch(of: profile)
        let now = EventTime.now()
        let (modelVersion, modelTime) = self.engine.read { ($0.modelVersion, $0.latest.milliseconds) }
        let timeToLive = shared.timeToLive.wholeMilliseconds
        if let list = lookup?.list, list.epoch == epoch, list.modelVersion == modelVersion,
            !shared.usersFromStore || published != nil,
            now.milliseconds - list.computedAt < timeToLive, modelTime - list.modelTime < timeToLive,
            list.items.allSatisfy({ self.catalog.isRecommendable($0.item, at: now) })
        {
            metrics.hits.increment()
            var items = list.items
            if list.profileVersion != profile?.version, request.excludeSeen == .all, let profile {
                items.removeAll { profile.interacted.contains(ItemKey($0.item)) }
            }
            var served = Recommendations(
                user: user,
                items: items,
                profileVersion: profile?.version ?? 0,
                modelVersion: list.modelVersion,
                fresh: fresh
            )
            served.cache = .sharedHit
            return served
        }
        if lookup != nil, !key.isEmpty { metrics.misses.increment() }
        if let list = lookup?.list {
            let reason: CacheInvalidationMetrics.Reason? =
                if list.epoch != epoch { .userChanged }
                else if list.modelVersion != modelVersion { .modelChanged }
                else if now.milliseconds - list.computedAt >= timeToLive || modelTime - list.modelTime >= timeToLive { .expired }
                else if !list.items.allSatisfy({ self.catalog.isRecommendable($0.item, at: now) }) { .catalog }
                else { nil }
            if let reason { metrics.invalidations.record(reason) }
        }
        var (computed, modelHasUser) = self.compute(for: user, request, profile: profile, published: published)
        computed.fresh = fresh
        if !key.isEmpty { computed.cache = .miss }
        // A list computed from a model snapshot that has not yet seen all of the user's events is served but not
        // shared: the next snapshot may know the items. An API process cannot validate a list of a user it has no
        // published state of: such lists are not shared. Neither is a list that may miss acknowledged events.
        if lookup != nil, !key.isEmpty, modelHasUser, fresh, !shared.usersFromStore || published != nil {
            let list = SharedList(
                items: computed.items,
                epoch: epoch,
                profileVersion: computed.profileVersion,
                modelVersion: computed.modelVersion,
                computedAt: now.milliseconds,
                modelTime: modelTime
            )
            // A failed store only costs a later recomputation.
            try? await shared.store.store(list, user: user, key: key, timeToLive: shared.timeToLive)
        }
        return computed
    }

    /// Computes a list from the engine: for a user the engine knows, or from `published` state when given; and
    /// whether the engine has learned every event of the published user.
    private func compute(
        for user: String,
        _ request: RecommendationRequest,
        profile: UserProfile?,
        published: PublishedUser?
    ) -> (list: Recommendations, modelHasUser: Bool) {
        let now = EventTime.now()
        var recentlySeen = Set<ItemKey>()
        if case .within(let window) = request.excludeSeen, let profile {
            for interaction in profile.recent where interaction.timestamp.milliseconds >= now.milliseconds - window {
                recentlySeen.insert(ItemKey(interaction.item))
            }
        }
        let (items, modelVersion, modelHasUser) = self.engine.read { engine -> ([Recommendation], UInt64, Bool) in
            let excluded = Set(request.exclude.union(recentlySeen).compactMap { engine.itemID($0) })
            // Filters drop candidates, so ask for more than needed.
            let depth = request.filters ? max(request.count * 5, request.count + 100) : request.count + 20
            let blended =
                if let published {
                    engine.candidates(
                        for: published.model,
                        count: depth,
                        source: .blend,
                        excluding: excluded,
                        excludeSeen: request.excludeSeen == .all
                    )
                } else {
                    engine.candidates(
                        user: user,
                        count: depth,
                        source: .blend,
                        excluding: excluded,
                        excludeSeen: request.excludeSeen == .all
                    )
                }
            let known = published.map { $0.model.events > 0 } ?? (engine.knows(user: user))
            let shaped: [Recommendation]
            if !known || blended.isEmpty {
                let candidates = self.withFreshItems(blended, engine: engine, now: now, excluded: excluded)
                shaped = self.shape(candidates, request: request, engine: engine, now: now)
            } else {
                shaped = self.shape(blended, request: request, engine: engine, now: now)
            }
            let modelHasUser = published.map { (engine.userState(user)?.events ?? 0) >= $0.model.events } ?? true
            return (shaped, engine.modelVersion, modelHasUser)
        }
        let list = Recommendations(
            user: user,
            items: self.pin(items, request: request, now: now),
            profileVersion: profile?.version ?? 0,
            modelVersion: modelVersion
        )
        return (list, modelHasUser)
    }

    /// Adds catalogue items published in the last 7 days, for visitors the engine knows nothing about.
    private func withFreshItems(
        _ candidates: [RecommendationEngine.Candidate],
        engine: borrowing RecommendationEngine,
        now: EventTime,
        excluded: Set<Int32>
    ) -> [(key: ItemKey, score: Double, reason: String)] {
        var result = candidates.map { (key: engine.itemKey($0.item), score: Double($0.score), reason: $0.reason.description) }
        let top = result.first?.score ?? 1
        let fresh = self.catalog.fresh(since: now.advanced(byMilliseconds: -7 * 86_400_000), now: now, limit: 20)
        for (rank, item) in fresh.enumerated() {
            let key = ItemKey(item.id)
            if let id = engine.itemID(key), excluded.contains(id) { continue }
            guard !result.contains(where: { $0.key == key }) else { continue }
            result.append((key, top * 0.9 / Double(rank + 1), "new"))
        }
        return result.sorted { $0.score > $1.score }
    }

    private func shape(
        _ candidates: [RecommendationEngine.Candidate],
        request: RecommendationRequest,
        engine: borrowing RecommendationEngine,
        now: EventTime
    ) -> [Recommendation] {
        self.shape(
            candidates.map { (key: engine.itemKey($0.item), score: Double($0.score), reason: $0.reason.description) },
            request: request,
            engine: engine,
            now: now
        )
    }

    /// Filters, applies rules, and diversifies.
    private func shape(
        _ candidates: [(key: ItemKey, score: Double, reason: String)],
        request: RecommendationRequest,
        engine: borrowing RecommendationEngine,
        now: EventTime
    ) -> [Recommendation] {
        let rules = self.defaultRules + request.rules
        var kept: [(key: ItemKey, id: Int32?, category: String?, score: Double, reason: String)] = []
        for candidate in candidates {
            let entry = self.catalog.item(candidate.key.name)
            if let entry, !entry.isRecommendable(at: now) { continue }
            let id = engine.itemID(candidate.key)
            let category = entry?.category ?? id.flatMap { engine.category(of: $0) }
            if !request.categories.isEmpty, !(category.map { request.categories.contains($0) } ?? false) { continue }
            if let category, request.excludeCategories.contains(category) { continue }
            let tags = entry?.tags ?? []
            if !request.tags.isEmpty, !tags.contains(where: { request.tags.contains($0) }) { continue }
            if tags.contains(where: { request.excludeTags.contains($0) }) { continue }
            var score = candidate.score
            for rule in rules where rule.matches(entry?.attributes[rule.attribute]) { score *= rule.factor }
            kept.append((candidate.key, id, category, score, candidate.reason))
        }
        kept.sort { $0.score > $1.score }

        var perCategory: [String: Int] = [:]
        let cap = request.categoryCap ?? self.defaultCategoryCap
        let lambda = min(max(request.diversity ?? 0, 0), 1)
        let similarities = lambda > 0 ? engine.embeddingSimilarities(of: kept.map(\.id)) : nil
        let picked = Diversification.pick(
            scores: kept.map(\.score),
            count: request.count,
            lambda: lambda,
            similarity: { Double(similarities?.similarity($0, $1) ?? 0) },
            admit: { k in
                guard let cap, let category = kept[k].category else { return true }
                guard perCategory[category, default: 0] < cap else { return false }
                perCategory[category, default: 0] += 1
                return true
            }
        )
        let chosen = picked.map { kept[$0] }
        return chosen.map { Recommendation(item: $0.key.name, score: $0.score, reason: $0.reason) }
    }

    /// Places pinned items at their positions (1-based), dropping them elsewhere in the list; pins of items that
    /// may not be recommended (unavailable, expired, deleted, excluded) are ignored.
    private func pin(_ items: [Recommendation], request: RecommendationRequest, now: EventTime) -> [Recommendation] {
        guard !request.pins.isEmpty else { return items }
        let pinned = request.pins.filter {
            self.catalog.isRecommendable($0.item, at: now) && !request.exclude.contains(ItemKey($0.item))
        }
        let pinnedIDs = Set(pinned.map(\.item))
        var result = items.filter { !pinnedIDs.contains($0.item) }
        for pin in pinned.sorted(by: { $0.position < $1.position }) {
            let index = min(max(pin.position - 1, 0), result.count)
            result.insert(Recommendation(item: pin.item, score: 0, reason: "pinned"), at: index)
        }
        return Array(result.prefix(request.count))
    }

    /// Recommendations for an anonymous session: items that co-occur with the session's recent items (from the
    /// events carrying that session id, or the given `recentItems`), topped up with trending items; never one of the
    /// session's own items. Catalogue rules, filters and diversity apply as for users.
    ///
    /// An API process reads the session's items as the processor published them; when they cannot be read, it
    /// uses its model snapshot's.
    public func sessionRecommendations(
        session: String?,
        recentItems: [String] = [],
        _ request: RecommendationRequest
    ) async -> [Recommendation] {
        let started = ContinuousClock.now
        defer { RecommendationMetrics.shared.record(.session, cache: .disabled, since: started) }
        if let session, let shared = self.shared, shared.usersFromStore,
            let published = try? await shared.store.sessionItems(session)
        {
            return self.computeSessionRecommendations(session: nil, recentItems: published.map(\.name) + recentItems, request)
        }
        return self.computeSessionRecommendations(session: session, recentItems: recentItems, request)
    }

    private func computeSessionRecommendations(
        session: String?,
        recentItems: [String],
        _ request: RecommendationRequest
    ) -> [Recommendation] {
        let now = EventTime.now()
        let items = self.engine.read { engine -> [Recommendation] in
            var recent = session.map { engine.sessionItems($0) } ?? []
            for name in recentItems {
                if let id = engine.itemID(named: name), !recent.contains(id) { recent.append(id) }
            }
            var excluded = Set(request.exclude.compactMap { engine.itemID($0) })
            excluded.formUnion(recent)
            let depth = request.filters ? max(request.count * 5, request.count + 100) : request.count + 20
            let candidates = engine.sessionCandidates(recent: recent, count: depth, excluding: excluded)
            let named = candidates.map {
                (key: engine.itemKey($0.item), score: Double($0.score), reason: $0.reason.description)
            }
            let given = Set(recentItems.map { ItemKey($0) })
            return self.shape(named.filter { !given.contains($0.key) }, request: request, engine: engine, now: now)
        }
        return self.pin(items, request: request, now: now)
    }

    /// Items most similar to `item` (by time-decayed co-occurrence), or `nil` when the item was never seen.
    public func similarItems(to item: ItemKey, count: Int, excluding: Set<ItemKey> = []) -> [Recommendation]? {
        self.engine.read { engine in
            guard engine.itemID(item) != nil else { return nil }
            let excluded = Set(excluding.compactMap { engine.itemID($0) })
            let now = EventTime.now()
            return engine.similarItems(to: item, count: count + excluded.count + 20)
                .filter { !excluded.contains($0.item) && self.catalog.isRecommendable(engine.itemKey($0.item).name, at: now) }
                .prefix(count)
                .map {
                    Recommendation(item: engine.itemKey($0.item).name, score: Double($0.score), reason: $0.reason.description)
                }
        }
    }

    /// The most popular items right now (in event time), optionally within one category (from events'
    /// `context.category`).
    public func trending(count: Int, category: String? = nil) -> [Recommendation] {
        if let category {
            return self.engine.read { engine in
                let now = EventTime.now()
                return engine.categoryCandidates(category, count: count + 20, excluding: [])
                    .filter { self.catalog.isRecommendable(engine.itemKey($0.item).name, at: now) }
                    .prefix(count)
                    .map {
                    Recommendation(item: engine.itemKey($0.item).name, score: Double($0.score), reason: $0.reason.description)
                }
            }
        }
        let now = EventTime.now()
        return self.trending.current.ranked.lazy.filter { self.catalog.isRecommendable($0.item, at: now) }.prefix(count)
            .map { Recommendation(item: $0.item, score: $0.score, reason: "trending") }
    }
}
