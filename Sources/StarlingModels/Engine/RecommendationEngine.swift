public import StarlingCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// All of Starling's incremental models in one value, learning from every event and answering from any source.
///
/// It owns dense ids for users and items, and per event updates, in O(embedding size + recent window):
/// - the user's history (seen items, recent window, running mean rating, disliked items);
/// - the matrix-factorisation embeddings (``FactorModel``);
/// - item-to-item co-occurrence with the user's recent items (``CooccurrenceModel``);
/// - time-decayed popularity, global, per category (from the event's `context.category`) and per segment;
/// - the user's k-means segment over embeddings (``OnlineKMeans``);
/// - the session's recent items, for anonymous visitors.
///
/// Every time it reasons about is event time: replaying a log reproduces exactly what happened live.
/// A plain value with no locks, clocks or I/O; the stream processor owns the one mutable copy.
public struct RecommendationEngine: Recommender, Sendable {
    /// Configuration of the engine and its models.
    public struct Configuration: Sendable {
        public var signals: SignalConfiguration
        public var factors: FactorModel.Configuration
        /// How the embeddings are fitted, per event and by a full retrain. Defaults to ``EmbeddingTrainer/bpr``.
        public var trainer: EmbeddingTrainer = .bpr
        /// The iALS settings, used when ``trainer`` is ``EmbeddingTrainer/ials``.
        public var implicitALS = ImplicitALS.Configuration()
        public var cooccurrence: CooccurrenceModel.Configuration
        public var segments: OnlineKMeans.Configuration
        /// Half-life of trending (global, category and segment popularity). Defaults to 4 days.
        public var trendingHalfLife: Duration
        /// Items of a user's (or session's) recent window used for co-occurrence. Defaults to 20.
        public var recentWindow: Int
        /// Weight per source in the blend. Defaults (tuned on MovieLens-100K's training part): co-occurrence 1,
        /// trending 0.3, embedding 0.2, segment 0.
        public var blendWeights: [RecommendationSource: Double]
        /// How many candidates each source contributes to the blend. Defaults to 50.
        public var blendDepth: Int
        /// How many nearest items by embedding, over the whole catalogue (an exact scan with a bounded heap), join the
        /// blend's candidates before the embedding re-scores them all. Defaults to 0: the embedding only re-scores
        /// what the other sources found, which scored as well on MovieLens at a fraction of the cost.
        public var embeddingCandidates: Int = 0
        /// Users with at most this many events are "cold": their segment's popularity joins the blend with
        /// ``coldStartSegmentWeight``, since their own history says little yet. Defaults to 5.
        public var coldStartEvents: Int = 5
        /// The blend weight of segment popularity for cold users. Defaults to 0.5.
        public var coldStartSegmentWeight: Double = 0.5
        /// Sessions idle this long (in event time) are forgotten once there are more than ``maxSessions``.
        /// Defaults to 30 minutes.
        public var sessionTimeout: Duration = .seconds(30 * 60)
        /// How many sessions are kept before idle ones are expired. Defaults to 100,000.
        public var maxSessions: Int = 100_000
        /// Weight of the k-th most recent item relative to the next more recent one, in co-occurrence scoring.
        /// Defaults to 0.9.
        public var recencyDecay: Float = 0.9
        /// In the blend, the personal sources (co-occurrence with recent items, embeddings, segment) count fully
        /// while the user is active and half as much this long after their latest event, as their recent items go
        /// stale and what is trending now matters more. Defaults to 7 days.
        public var activityHalfLife: Duration = .seconds(7 * 24 * 3_600)

        var trendingConfiguration: TrendingCounter.Configuration {
            .init(halfLife: self.trendingHalfLife, topSize: 1_000)
        }

        public init(
            signals: SignalConfiguration = .init(),
            factors: FactorModel.Configuration = .init(),
            cooccurrence: CooccurrenceModel.Configuration = .init(),
            segments: OnlineKMeans.Configuration = .init(),
            trendingHalfLife: Duration = .seconds(4 * 24 * 3_600),
            recentWindow: Int = 20,
            blendWeights: [RecommendationSource: Double] = [
                .cooccurrence: 1.0, .trending: 0.3, .embedding: 0.2, .segment: 0.0,
            ],
            blendDepth: Int = 50
        ) {
            self.signals = signals
            self.factors = factors
            self.cooccurrence = cooccurrence
            self.segments = segments
            self.trendingHalfLife = trendingHalfLife
            self.recentWindow = recentWindow
            self.blendWeights = blendWeights
            self.blendDepth = blendDepth
        }
    }

    /// What the engine remembers of one user.
    public struct UserState: Sendable {
        /// Items the user interacted with, sorted ascending (dense ids).
        public internal(set) var seen: [Int32] = []
        /// The latest positively chosen items, oldest first, at most `recentWindow`.
        public internal(set) var recent: [Int32] = []
        /// Items the user disliked: never recommended again.
        public internal(set) var disliked: [Int32] = []
        public internal(set) var ratingSum: Float = 0
        public internal(set) var ratingCount: Float = 0
        public internal(set) var segment: Int16 = -1
        public internal(set) var events: UInt32 = 0
        /// Event time of the user's latest event, in milliseconds.
        public internal(set) var lastEvent: Int64 = 0
    }

    public let configuration: Configuration
    public internal(set) var itemKeys: [ItemKey] = []
    public internal(set) var itemIDs: [ItemKey: Int32] = [:]
    public internal(set) var userIDs: [String: Int32] = [:]
    public internal(set) var users: [UserState] = []
    public internal(set) var factors: FactorModel
    public internal(set) var cooccurrence: CooccurrenceModel
    /// Time-decayed popularity with an exact top list (also what `/v1/trending` serves).
    public internal(set) var trending: TrendingCounter
    /// Popularity without decay (the baseline), as a counter whose half-life is a century.
    public internal(set) var popularity: TrendingCounter
    /// Time-decayed popularity within each k-means segment.
    public internal(set) var segmentPopularity: [TrendingCounter]
    /// Time-decayed popularity within each category.
    public internal(set) var categoryPopularity: [String: TrendingCounter] = [:]
    public internal(set) var itemCategories: [Int32: String] = [:]
    public internal(set) var kmeans: OnlineKMeans
    /// Recent items of each session, oldest first.
    public internal(set) var sessions: [String: [Int32]] = [:]
    /// Event time (ms) of each session's latest positive event, for expiry.
    public internal(set) var sessionTimes: [String: Int64] = [:]
    /// The latest event time seen.
    public internal(set) var latest = EventTime(milliseconds: 0)
    /// Events learned.
    public internal(set) var eventCount: UInt64 = 0
    /// Increases by one each time retrained embeddings are installed.
    public internal(set) var modelVersion: UInt64 = 0
    /// While a retrain runs: the embedding updates learned online since it took its snapshot, replayed on top of
    /// the retrained vectors when they are installed, so that no event's effect is lost by the swap.
    public internal(set) var pendingReplay: [FactorTrainer.Interaction]?
    /// With the iALS trainer: every pair's net signal and the Gram matrices the per-event fold-in solves against.
    public internal(set) var implicitFoldIn: ImplicitFoldIn?

    public init(configuration: Configuration = .init()) {
        self.configuration = configuration
        self.factors = FactorModel(configuration: configuration.factors)
        if configuration.trainer == .ials {
            self.implicitFoldIn = ImplicitFoldIn(
                solver: ImplicitALS(configuration: configuration.implicitALS, dimensions: configuration.factors.dimensions)
            )
        }
        self.cooccurrence = CooccurrenceModel(configuration: configuration.cooccurrence)
        self.trending = TrendingCounter(configuration: configuration.trendingConfiguration)
        self.popularity = TrendingCounter(configuration: .init(halfLife: .seconds(100 * 365 * 24 * 3_600), topSize: 1_000))
        self.segmentPopularity = (0..<configuration.segments.clusters).map { _ in
            TrendingCounter(configuration: .init(halfLife: configuration.trendingHalfLife, topSize: 300))
        }
        self.kmeans = OnlineKMeans(dimensions: configuration.factors.dimensions, configuration: configuration.segments)
    }

    public var sources: [RecommendationSource] {
        [.blend, .embedding, .cooccurrence, .trending, .segment, .popularity]
    }

    // MARK: - Ids

    /// The dense id of `key`, creating it.
    public mutating func internItem(_ key: ItemKey) -> Int32 {
        if let id = self.itemIDs[key] { return id }
        let id = Int32(self.itemKeys.count)
        self.itemKeys.append(key)
        self.itemIDs[key] = id
        self.factors.ensureItem(id)
        return id
    }

    private mutating func internUser(_ user: String) -> Int32 {
        if let id = self.userIDs[user] { return id }
        let id = Int32(self.users.count)
        self.users.append(UserState())
        self.userIDs[user] = id
        self.factors.ensureUser(id)
        return id
    }

    /// The engine's state of `user`, if known.
    public func userState(_ user: String) -> UserState? {
        self.userIDs[user].map { self.users[Int($0)] }
    }

    // MARK: - Learning

    public mutating func learn(_ event: Event) {
        self.eventCount += 1
        if event.timestamp > self.latest { self.latest = event.timestamp }
        guard let itemName = event.item else { return }
        let item = self.internItem(ItemKey(itemName))
        let user = self.internUser(event.user)
        let time = event.timestamp.milliseconds
        // Move the state out so that its arrays stay uniquely referenced while they change (no copy per event).
        var state = self.users[Int(user)]
        self.users[Int(user)] = UserState()
        defer { self.users[Int(user)] = state }
        state.events &+= 1
        state.lastEvent = max(state.lastEvent, time)

        let mean =
            (Double(state.ratingSum) + self.configuration.signals.ratingPriorMean
                * self.configuration.signals.ratingPriorCount)
            / (Double(state.ratingCount) + self.configuration.signals.ratingPriorCount)
        let signal = self.configuration.signals.signal(of: event, userMeanRating: mean)
        if event.type == .rating, let value = event.value {
            state.ratingSum += Float(value)
            state.ratingCount += 1
        }
        Self.insertSorted(item, into: &state.seen)
        if let category = Self.category(of: event) { self.itemCategories[item] = category }
        self.popularity.record(item, weight: 1, at: event.timestamp)

        if signal > 0 {
            let weight = Float(signal)
            self.learnEmbedding(user: user, item: item, signal: weight)
            self.cooccurrence.record(item: item, weight: weight, after: state.recent, at: time)
            self.trending.record(item, weight: signal, at: event.timestamp)
            if let category = self.itemCategories[item] {
                self.categoryPopularity[
                    category,
                    default: TrendingCounter(configuration: .init(halfLife: self.configuration.trendingHalfLife, topSize: 300))
                ].record(item, weight: signal, at: event.timestamp)
            }
            let segment = self.kmeans.update(self.factors.userVector(user))
            state.segment = Int16(segment)
            self.segmentPopularity[segment].record(item, weight: signal, at: event.timestamp)
            if let index = state.recent.firstIndex(of: item) { state.recent.remove(at: index) }
            state.recent.append(item)
            if state.recent.count > self.configuration.recentWindow { state.recent.removeFirst() }
            if let session = event.session {
                var items = self.sessions.removeValue(forKey: session) ?? []
                if let index = items.firstIndex(of: item) { items.remove(at: index) }
                items.append(item)
                if items.count > self.configuration.recentWindow { items.removeFirst() }
                self.sessions[session] = items
                self.sessionTimes[session] = max(self.sessionTimes[session] ?? time, time)
                if self.sessions.count > self.configuration.maxSessions { self.expireSessions() }
            }
        } else if signal < 0 {
            self.learnEmbedding(user: user, item: item, signal: Float(signal))
            if event.type == .dislike { Self.insertSorted(item, into: &state.disliked) }
            if let index = state.recent.firstIndex(of: item) { state.recent.remove(at: index) }
        }
    }

    private static func category(of event: Event) -> String? {
        for (key, value) in event.context where key == "category" {
            if case .string(let category) = value { return category }
        }
        return nil
    }

    private static func insertSorted(_ value: Int32, into array: inout [Int32]) {
        var low = 0
        var high = array.count
        while low < high {
            let mid = (low + high) / 2
            if array[mid] < value { low = mid + 1 } else { high = mid }
        }
        if low < array.count, array[low] == value { return }
        array.insert(value, at: low)
    }

    private static func containsSorted(_ value: Int32, in array: [Int32]) -> Bool {
        var low = 0
        var high = array.count
        while low < high {
            let mid = (low + high) / 2
            if array[mid] < value { low = mid + 1 } else { high = mid }
        }
        return low < array.count && array[low] == value
    }

    // MARK: - Recommending

    /// Why an item was recommended.
    public enum Reason: Hashable, Sendable, CustomStringConvertible {
        /// It co-occurs with an item the user (or session) chose recently.
        case similar(to: ItemKey)
        /// It co-occurs with the user's recent items; which one is worked out only for the items finally chosen.
        case cooccurring
        case trending
        case trendingIn(String)
        case taste
        case similarUsers
        case popular

        public var description: String {
            switch self {
            case .similar(let item): "similar to \(item.name)"
            case .cooccurring: "similar to your recent items"
            case .trending: "trending"
            case .trendingIn(let category): "trending in \(category)"
            case .taste: "matches your taste"
            case .similarUsers: "popular with similar users"
            case .popular: "popular"
            }
        }
    }

    /// A scored candidate with the reason it was chosen.
    public struct Candidate: Sendable, Hashable {
        public var item: Int32
        public var score: Float
        public var reason: Reason
    }

    public func recommend(user: String, count: Int, source: RecommendationSource) -> [ScoredItem] {
        self.candidates(user: user, count: count, source: source, excluding: []).map {
            ScoredItem(key: self.itemKeys[Int($0.item)], score: Double($0.score))
        }
    }

    /// The top candidates for `user` from `source`, never an item the user has seen or one in `excluding`.
    ///
    /// - Parameter excludeSeen: When `false`, items the user has seen may come back (disliked ones never do).
    public func candidates(
        user: String,
        count: Int,
        source: RecommendationSource,
        excluding: Set<Int32>,
        excludeSeen: Bool = true
    ) -> [Candidate] {
        self.candidates(
            context: self.userIDs[user].map(self.context(of:)),
            count: count,
            source: source,
            excluding: excluding,
            excludeSeen: excludeSeen
        )
    }

    /// The top candidates for a user whose state another process published (see ``PortableUser``): what
    /// ``candidates(user:count:source:excluding:excludeSeen:)`` returns for a user this engine knows, computed from
    /// that state and this engine's item-side models.
    public func candidates(
        for user: PortableUser,
        count: Int,
        source: RecommendationSource,
        excluding: Set<Int32>,
        excludeSeen: Bool = true
    ) -> [Candidate] {
        self.candidates(
            context: { () -> UserContext in
                let (state, vector) = self.userState(resolving: user)
                return UserContext(state: state, vector: vector)
            }(),
            count: count,
            source: source,
            excluding: excluding,
            excludeSeen: excludeSeen
        )
    }

    private func candidates(
        context: UserContext?,
        count: Int,
        source: RecommendationSource,
        excluding: Set<Int32>,
        excludeSeen: Bool
    ) -> [Candidate] {
        let blocked = self.blockedMask(context: context, excluding: excluding, excludeSeen: excludeSeen)
        if source == .blend {
            return self.blend(context: context, count: count, blocked: blocked)
        }
        return self.candidates(context: context, count: count, source: source, blocked: blocked)
    }

    /// A user's state as the recommending code reads it: the engine's own, or one published by another process.
    private struct UserContext {
        var state: UserState
        /// The user's embedding in this engine's item space; `nil` when there is none to trust.
        var vector: [Float]?
    }

    private func context(of user: Int32) -> UserContext {
        UserContext(state: self.users[Int(user)], vector: Array(self.factors.userVector(user)))
    }

    /// Per item: whether it must not be recommended (seen by the user, disliked, or excluded by the request).
    /// Built once per request so that scanning sources test one array element per item.
    private func blockedMask(context: UserContext?, excluding: Set<Int32>, excludeSeen: Bool) -> [Bool] {
        var mask = [Bool](repeating: false, count: self.itemKeys.count)
        if let state = context?.state {
            for item in excludeSeen ? state.seen : state.disliked {
                mask[Int(item)] = true
            }
        }
        for item in excluding where Int(item) < mask.count && item >= 0 { mask[Int(item)] = true }
        return mask
    }

    private func candidates(context: UserContext?, count: Int, source: RecommendationSource, blocked: [Bool])
        -> [Candidate]
    {
        let state = context?.state
        let isBlocked: (Int32) -> Bool = { blocked[Int($0)] }
        switch source {
        case .embedding:
            guard let state, state.events > 0, let vector = context?.vector else { return [] }
            return self.factors.nearestItems(to: vector, count: count, blocked: blocked)
                .map { Candidate(item: $0.id, score: $0.score, reason: .taste) }
        case .cooccurrence:
            let recent = state?.recent ?? []
            return self.explained(
                self.cooccurrenceCandidates(recent: recent, count: count, blocked: isBlocked),
                recent: recent
            )
        case .trending:
            return self.top(self.trending, count: count, blocked: isBlocked, reason: .trending)
        case .popularity:
            return self.top(self.popularity, count: count, blocked: isBlocked, reason: .popular)
        case .segment:
            guard let state, state.segment >= 0 else { return [] }
            return self.top(
                self.segmentPopularity[Int(state.segment)],
                count: count,
                blocked: isBlocked,
                reason: .similarUsers
            )
        default:
            return []
        }
    }

    private func top(_ counter: TrendingCounter, count: Int, blocked: (Int32) -> Bool, reason: Reason) -> [Candidate] {
        var result: [Candidate] = []
        result.reserveCapacity(count)
        counter.forEachRanked(at: self.latest) { item, score in
            if !blocked(item) {
                result.append(Candidate(item: item, score: Float(score), reason: reason))
            }
            return result.count < count
        }
        return result
    }

    /// Trending items within `category`, best first.
    public func categoryCandidates(_ category: String, count: Int, excluding: Set<Int32>) -> [Candidate] {
        guard let counter = self.categoryPopularity[category] else { return [] }
        return self.top(counter, count: count, blocked: { excluding.contains($0) }, reason: .trendingIn(category))
    }

    private func cooccurrenceCandidates(recent: [Int32], count: Int, blocked: (Int32) -> Bool) -> [Candidate] {
        guard !recent.isEmpty else { return [] }
        var accumulator = CooccurrenceModel.Accumulator(
            itemCount: self.itemKeys.count,
            expectedItems: recent.count * self.configuration.cooccurrence.maxNeighbours
        )
        // More recent items weigh more: 1, 0.9, 0.81, …
        var weight: Float = 1
        for item in recent.reversed() {
            self.cooccurrence.accumulate(from: item, weight: weight, into: &accumulator)
            weight *= self.configuration.recencyDecay
        }
        var top = TopK(count)
        for (item, score) in zip(accumulator.touched, accumulator.scores) {
            if score > top.threshold, !blocked(item) { top.offer(item, score) }
        }
        return top.sorted().map { Candidate(item: $0.id, score: $0.score, reason: .cooccurring) }
    }

    /// Replaces `.cooccurring` reasons by the recent item that contributes most to each candidate.
    private func explained(_ candidates: [Candidate], recent: [Int32]) -> [Candidate] {
        candidates.map { candidate in
            guard candidate.reason == .cooccurring, !recent.isEmpty else { return candidate }
            var best = recent.last!
            var bestContribution: Float = -1
            var weight: Float = 1
            for item in recent.reversed() {
                let contribution = weight * self.cooccurrence.similarity(item, candidate.item)
                if contribution > bestContribution {
                    best = item
                    bestContribution = contribution
                }
                weight *= self.configuration.recencyDecay
            }
            var explained = candidate
            explained.reason = .similar(to: self.itemKeys[Int(best)])
            return explained
        }
    }

    /// The weighted blend of every source's candidates. Each source's scores are divided by its best score, so
    /// every source contributes on a 0–1 scale times its weight; each item keeps the reason of the source that
    /// contributed most to it. A user the engine knows nothing about gets trending items.
    /// Candidates gathered from several sources: per item, the summed contribution and the reason of the largest.
    private struct Fusion {
        var slots = Int32Map(minimumCapacity: 128)
        var items: [Int32] = []
        var scores: [Float] = []
        var best: [Float] = []
        var reasons: [Reason] = []

        mutating func add(_ item: Int32, _ contribution: Float, _ reason: Reason) {
            if let slot = self.slots[item] {
                let k = Int(slot)
                self.scores[k] += contribution
                if contribution > self.best[k] {
                    self.best[k] = contribution
                    self.reasons[k] = reason
                }
            } else {
                self.slots.set(item, Int32(self.items.count))
                self.items.append(item)
                self.scores.append(contribution)
                self.best.append(contribution)
                self.reasons.append(reason)
            }
        }
    }

    private func blend(context: UserContext?, count: Int, blocked: [Bool]) -> [Candidate] {
        guard let context, context.state.events > 0 else {
            return self.candidates(context: context, count: count, source: .trending, blocked: blocked)
        }
        let state = context.state
        var fusion = Fusion()
        let depth = max(count, self.configuration.blendDepth)
        let idle = Double(max(0, self.latest.milliseconds - state.lastEvent))
        let activity = exp2(-idle / self.configuration.activityHalfLife.fractionalMilliseconds)
        var weights = self.configuration.blendWeights
        if Int(state.events) <= self.configuration.coldStartEvents {
            weights[.segment] = max(weights[.segment] ?? 0, self.configuration.coldStartSegmentWeight)
        }
        for (source, baseWeight) in weights.sorted(by: { $0.key.name < $1.key.name })
        where baseWeight > 0 && source != .embedding {
            let personal = source == .cooccurrence || source == .segment
            let weight = personal ? baseWeight * activity : baseWeight
            let list =
                source == .cooccurrence
                ? self.cooccurrenceCandidates(recent: state.recent, count: depth, blocked: { blocked[Int($0)] })
                : self.candidates(context: context, count: depth, source: source, blocked: blocked)
            guard let best = list.first?.score, best > 0 else { continue }
            let scale = Float(weight) / best
            for candidate in list where candidate.score > 0 {
                fusion.add(candidate.item, candidate.score * scale, candidate.reason)
            }
        }
        // The embedding re-scores the candidates the other sources found (and, when configured, its own nearest
        // items over the whole catalogue, which enter the pool with no score of their own).
        if self.configuration.embeddingCandidates > 0, context.vector != nil {
            let nearest = self.candidates(
                context: context,
                count: self.configuration.embeddingCandidates,
                source: .embedding,
                blocked: blocked
            )
            for candidate in nearest { fusion.add(candidate.item, 0, .taste) }
        }
        if let embeddingWeight = self.configuration.blendWeights[.embedding], embeddingWeight > 0,
            !fusion.items.isEmpty, let vector = context.vector
        {
            let weight = Float(embeddingWeight * activity)
            let d = self.factors.configuration.dimensions
            let scores = vector.withUnsafeBufferPointer { user in
                self.factors.itemFactors.withUnsafeBufferPointer { items in
                    fusion.items.map { VectorMath.dot(user.baseAddress!, items.baseAddress! + Int($0) * d, d) }
                }
            }
            if let best = scores.max(), best > 0 {
                for (item, score) in zip(fusion.items, scores) where score > 0 {
                    fusion.add(item, weight * score / best, .taste)
                }
            }
        }
        var top = TopK(count)
        for (k, item) in fusion.items.enumerated() { top.offer(item, fusion.scores[k]) }
        return self.explained(
            top.sorted().map {
                Candidate(item: $0.id, score: $0.score, reason: fusion.reasons[Int(fusion.slots[$0.id]!)])
            },
            recent: state.recent
        )
    }

    /// Items most similar to `item` by co-occurrence.
    public func similarItems(to key: ItemKey, count: Int) -> [Candidate] {
        guard let item = self.itemIDs[key] else { return [] }
        var accumulator = CooccurrenceModel.Accumulator(
            itemCount: self.itemKeys.count,
            expectedItems: self.configuration.cooccurrence.maxNeighbours
        )
        self.cooccurrence.accumulate(from: item, weight: 1, into: &accumulator)
        var top = TopK(count)
        for (other, score) in zip(accumulator.touched, accumulator.scores) where other != item { top.offer(other, score) }
        return top.sorted().map { Candidate(item: $0.id, score: $0.score, reason: .similar(to: key)) }
    }

    /// Recommendations for an anonymous session from its recent items (or the given ones).
    public func sessionCandidates(recent: [Int32], count: Int, excluding: Set<Int32>) -> [Candidate] {
        let seen = Set(recent)
        let blocked: (Int32) -> Bool = { excluding.contains($0) || seen.contains($0) }
        let fromSession = self.explained(self.cooccurrenceCandidates(recent: recent, count: count, blocked: blocked), recent: recent)
        guard fromSession.count < count else { return fromSession }
        let taken = Set(fromSession.map(\.item))
        let fill = self.top(self.trending, count: count, blocked: { blocked($0) || taken.contains($0) }, reason: .trending)
        // Trending items fill the list below every session item: scale their scores under the lowest one.
        let floor = fromSession.last?.score ?? 1
        let best = fill.first?.score ?? 1
        return fromSession
            + fill.prefix(count - fromSession.count).map {
                Candidate(item: $0.item, score: floor * 0.99 * $0.score / max(best, .leastNonzeroMagnitude), reason: $0.reason)
            }
    }

    // MARK: - Retraining

    /// Starts recording online embedding updates for replay after a retrain (see ``install(_:)``).
    public mutating func beginRetrain() {
        self.pendingReplay = []
    }

    /// Abandons a retrain: stops recording online updates.
    public mutating func cancelRetrain() {
        self.pendingReplay = nil
    }

    /// The signed signal of each event for embedding training, in event order, with the users' running mean
    /// ratings as the engine computes them; events of users or items this engine does not know are skipped.
    public func interactions(from events: some Sequence<Event>) -> [FactorTrainer.Interaction] {
        var sums: [Int32: (sum: Double, count: Double)] = [:]
        var result: [FactorTrainer.Interaction] = []
        let signals = self.configuration.signals
        for event in events {
            guard let name = event.item, let item = self.itemIDs[ItemKey(name)], let user = self.userIDs[event.user]
            else { continue }
            let ratings = sums[user, default: (0, 0)]
            let mean = (ratings.sum + signals.ratingPriorMean * signals.ratingPriorCount)
                / (ratings.count + signals.ratingPriorCount)
            let signal = signals.signal(of: event, userMeanRating: mean)
            if event.type == .rating, let value = event.value { sums[user] = (ratings.sum + value, ratings.count + 1) }
            if signal != 0 { result.append(FactorTrainer.Interaction(user: user, item: item, signal: Float(signal))) }
        }
        return result
    }

    /// Installs retrained embeddings and bumps ``modelVersion``.
    ///
    /// Rows for users and items the retrain did not know (created since its snapshot) keep their online vectors;
    /// the online updates recorded since ``beginRetrain()`` are replayed on top (with iALS: each user, then each item,
    /// they touched is folded in again against the installed vectors).
    public mutating func install(_ trained: FactorModel) {
        let d = self.factors.configuration.dimensions
        precondition(trained.configuration.dimensions == d, "retrained embeddings must have the same size")
        var users = self.factors.userFactors
        var items = self.factors.itemFactors
        let userRows = min(trained.userFactors.count, users.count)
        let itemRows = min(trained.itemFactors.count, items.count)
        users.replaceSubrange(0..<userRows, with: trained.userFactors[0..<userRows])
        items.replaceSubrange(0..<itemRows, with: trained.itemFactors[0..<itemRows])
        self.factors.replace(userFactors: users, itemFactors: items)
        if self.implicitFoldIn != nil {
            self.refoldAfterInstall(self.pendingReplay ?? [])
        } else {
            self.replayBPR(self.pendingReplay ?? [])
        }
        self.pendingReplay = nil
        self.modelVersion += 1
    }

    private mutating func replayBPR(_ interactions: [FactorTrainer.Interaction]) {
        for interaction in interactions {
            if interaction.signal > 0 {
                self.factors.learnPositive(user: interaction.user, item: interaction.item, weight: interaction.signal)
            } else {
                self.factors.learnNegative(user: interaction.user, item: interaction.item, weight: -interaction.signal)
            }
        }
    }

    /// The category of `item`, from the latest event that named one in `context.category`.
    public func category(of item: Int32) -> String? {
        self.itemCategories[item]
    }

    /// Cosine similarity of two items' embeddings (for diversity).
    public func embeddingSimilarity(_ a: Int32, _ b: Int32) -> Float {
        let d = self.factors.configuration.dimensions
        return self.factors.itemFactors.withUnsafeBufferPointer { items in
            let pa = items.baseAddress! + Int(a) * d
            let pb = items.baseAddress! + Int(b) * d
            let norm = (VectorMath.dot(pa, pa, d) * VectorMath.dot(pb, pb, d)).squareRoot()
            return norm > 0 ? VectorMath.dot(pa, pb, d) / norm : 0
        }
    }

    /// The trending list with item names, for serving.
    public func trendingSnapshot() -> TrendingSnapshot {
        self.trending.snapshot(names: self.itemKeys, at: self.latest)
    }

    /// Forgets sessions idle longer than the timeout; if that is not enough, the oldest half.
    private mutating func expireSessions() {
        let (seconds, _) = self.configuration.sessionTimeout.components
        var cutoff = self.latest.milliseconds - seconds * 1_000
        if !self.sessionTimes.values.contains(where: { $0 < cutoff }) {
            cutoff = self.sessionTimes.values.sorted()[self.sessionTimes.count / 2]
        }
        for (session, time) in self.sessionTimes where time < cutoff {
            self.sessions[session] = nil
            self.sessionTimes[session] = nil
        }
    }

    /// The recent items of `session`.
    public func sessionItems(_ session: String) -> [Int32] {
        self.sessions[session] ?? []
    }
}

/// The engine with a full embedding retrain every `interval` events, run inline: how the offline evaluation
/// measures what the background retrain adds (production retrains on a background thread; see
/// `ModelRetrainer`).
public struct RetrainingEngine: Recommender, Sendable {
    public private(set) var engine: RecommendationEngine
    private var events: [Event] = []
    private let interval: Int
    private let trainer: FactorTrainer

    /// - Parameter trainer: The retrain's settings; the engine's configuration picks BPR or iALS
    ///   (``RecommendationEngine/factorTrainer(_:)``).
    public init(engine: RecommendationEngine, interval: Int, trainer: FactorTrainer.Configuration = .init()) {
        precondition(interval > 0, "interval must be positive")
        self.engine = engine
        self.interval = interval
        self.trainer = engine.factorTrainer(trainer)
    }

    public var sources: [RecommendationSource] { self.engine.sources }

    public mutating func learn(_ event: Event) {
        self.engine.learn(event)
        self.events.append(event)
        if self.events.count % self.interval == 0 { self.retrain() }
    }

    /// Retrains the embeddings on every event learned so far and installs them.
    public mutating func retrain() {
        self.engine.beginRetrain()
        let interactions = self.engine.interactions(from: self.events)
        if let trained = self.trainer.train(
            interactions,
            userCount: self.engine.users.count,
            itemCount: self.engine.itemKeys.count
        ) {
            self.engine.install(trained)
        }
    }

    public func recommend(user: String, count: Int, source: RecommendationSource) -> [ScoredItem] {
        self.engine.recommend(user: user, count: count, source: source)
    }
}
