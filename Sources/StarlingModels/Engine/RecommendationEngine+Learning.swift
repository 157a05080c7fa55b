public import StarlingCore

extension RecommendationEngine {
    // MARK: - Learning

    public mutating func learn(_ event: Event) {
        self.eventCount += 1
        if event.timestamp > self.latest { self.latest = event.timestamp }
        let interned = event.item.map { self.internItem(named: $0) }
        let user = self.internUser(event.user)
        let type = self.internEventType(event.type)
        // Every event moves the user's profile, with or without an item, and only after the models learned it:
        // a reader that sees version V sees every model update of the user's events up to V.
        defer { self.users[Int(user)].recordProfile(of: event, item: interned, type: type) }
        guard let item = interned else { return }
        let time = event.timestamp.milliseconds
        // Move the state out so that its arrays stay uniquely referenced while they change (no copy, no reference
        // counting per event).
        var state = UserState()
        swap(&state, &self.users[Int(user)])
        defer { swap(&state, &self.users[Int(user)]) }
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
            // Categories are named by clients: at most `maxCategories` are tracked, each sized by its own items.
            if let category = self.itemCategories[item],
                self.categoryPopularity[category] != nil || self.categoryPopularity.count < self.configuration.maxCategories
            {
                self.categoryPopularity[category, default: TrendingCounter(configuration: self.configuration.categoryTrending)]
                    .record(item, weight: signal, at: event.timestamp)
            }
            let segment = self.kmeans.update(self.factors.userVector(user))
            state.segment = Int16(segment)
            self.segmentPopularity[segment].record(item, weight: signal, at: event.timestamp)
            Self.append(item, to: &state.recent, window: self.configuration.recentWindow)
            if let session = event.session { self.record(item, inSession: session, at: time) }
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

    /// Appends `item` to a recent window (oldest first), moving it there if present and dropping the oldest beyond
    /// `window`.
    static func append(_ item: Int32, to recent: inout [Int32], window: Int) {
        if let index = recent.lastIndex(of: item) { recent.remove(at: index) }
        recent.append(item)
        if recent.count > window { recent.removeFirst(recent.count - window) }
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
}
