public import StarlingCore

extension RecommendationEngine {
    /// 5 names the item of each sum of a category's trending (sparse counters).
    /// 4 added the users' profiles (the event type names, and per user the version, counts, first and last seen
    /// and the packed history of `RecommendationEngine+Profile.swift`); 3 added the iALS feedback section. Versions
    /// 2 and 3 are still read (as having empty profiles and, for 2, no feedback).
    private static let formatVersion: UInt8 = 5

    /// Appends the engine's learned state (not its configuration) to `w`; a streaming writer is flushed between
    /// the elements of every large collection, so it never holds much more than a chunk.
    public func encode(into w: inout BinaryWriter) {
        w.write(Self.formatVersion)
        w.write(self.latest.milliseconds)
        w.write(self.eventCount)
        w.write(self.modelVersion)
        w.writeVarint(UInt64(self.itemKeys.count))
        for key in self.itemKeys {
            w.write(key.name)
            w.flushIfFull()
        }
        w.writeVarint(UInt64(self.eventTypes.count))
        for type in self.eventTypes { w.write(type.name) }
        w.writeVarint(UInt64(self.users.count))
        for (id, state) in self.users.enumerated() {
            w.write(self.userIndex.key(Int32(id)))
            w.write(int32s: state.seen)
            w.write(int32s: state.recent)
            w.write(int32s: state.disliked)
            w.write(state.ratingSum)
            w.write(state.ratingCount)
            w.write(UInt32(bitPattern: Int32(state.segment)))
            w.write(state.events)
            w.write(state.lastEvent)
            w.write(state.version)
            w.write(state.eventCount)
            w.write(state.firstSeen)
            w.write(state.lastSeen)
            w.writeVarint(UInt64(state.typeKinds))
            w.writeVarint(UInt64(state.history.count))
            for word in state.history { w.write(word) }
            w.flushIfFull()
        }
        w.writeVarint(UInt64(self.factors.configuration.dimensions))
        w.write(floats: self.factors.userFactors)
        w.write(floats: self.factors.itemFactors)
        Self.encode(self.cooccurrence.landmark, into: &w)
        w.write(floats: self.cooccurrence.weights)
        w.writeVarint(UInt64(self.cooccurrence.neighbours.count))
        for neighbours in self.cooccurrence.neighbours {
            w.write(int32s: neighbours.items)
            w.write(floats: neighbours.weights)
            w.flushIfFull()
        }
        Self.encode(self.trending, into: &w)
        Self.encode(self.popularity, into: &w)
        w.writeVarint(UInt64(self.segmentPopularity.count))
        for scores in self.segmentPopularity { Self.encode(scores, into: &w) }
        w.writeVarint(UInt64(self.categoryPopularity.count))
        for (category, scores) in self.categoryPopularity {
            w.write(category)
            Self.encode(scores, into: &w)
            w.write(int32s: scores.items)
            w.flushIfFull()
        }
        w.writeVarint(UInt64(self.itemCategories.count))
        for (item, category) in self.itemCategories {
            w.write(UInt32(bitPattern: item))
            w.write(category)
            w.flushIfFull()
        }
        w.write(floats: self.kmeans.centroids)
        w.writeVarint(UInt64(self.kmeans.counts.count))
        for count in self.kmeans.counts { w.writeVarint(UInt64(count)) }
        w.writeVarint(UInt64(self.sessions.count))
        for (session, state) in self.sessions {
            w.write(session)
            w.write(int32s: state.items)
            w.write(state.lastActive)
            w.flushIfFull()
        }
        if let feedback = self.implicitFoldIn?.feedback {
            w.write(UInt8(1))
            w.writeVarint(UInt64(feedback.users.count))
            for row in feedback.users {
                w.write(int32s: row.ids)
                w.write(floats: row.signals)
                w.flushIfFull()
            }
        } else {
            w.write(UInt8(0))
        }
    }

    private static func encode(_ landmark: Int64?, into w: inout BinaryWriter) {
        if let landmark {
            w.write(UInt8(1))
            w.write(landmark)
        } else {
            w.write(UInt8(0))
        }
    }

    private static func encode(_ counter: TrendingCounter, into w: inout BinaryWriter) {
        self.encode(counter.landmark, into: &w)
        w.write(counter.latest.milliseconds)
        w.write(doubles: counter.sums)
    }

    private static func decodeLandmark(_ r: inout BinaryReader) throws(BinaryFormatError) -> Int64? {
        try r.readUInt8() == 1 ? try r.readTime().milliseconds : nil
    }

    /// Reads a counter of items `0..<itemCount`.
    ///
    /// - Parameter withItems: Whether the sums are followed by the item of each (sparse counters, format 5).
    private static func decode(
        _ counter: inout TrendingCounter,
        _ r: inout BinaryReader,
        itemCount: Int,
        withItems: Bool = false
    ) throws(BinaryFormatError) {
        let landmark = try self.decodeLandmark(&r)
        let latest = try r.readTime()
        let sums = try r.readDoubles()
        let items = withItems ? try r.readInt32s() : []
        // Sums are by item id unless the items are named: either way, every item must be one the engine knows.
        guard items.isEmpty ? sums.count <= itemCount : items.count == sums.count,
            items.allSatisfy({ $0 >= 0 && Int($0) < itemCount })
        else { throw .malformed }
        counter = TrendingCounter(
            configuration: counter.configuration,
            landmark: landmark,
            sums: sums,
            items: items,
            latest: latest
        )
    }

    /// Reads a user's profile fields (format 4), checking the packed history against the type and item tables.
    private func decodeProfile(into state: inout UserState, _ r: inout BinaryReader) throws(BinaryFormatError) {
        state.version = try r.readUInt64()
        state.eventCount = try r.readUInt64()
        state.firstSeen = try r.readTime().milliseconds
        state.lastSeen = try r.readTime().milliseconds
        let typeKinds = try r.readVarint()
        let words = try r.readVarint()
        guard typeKinds <= words, (words - typeKinds) % 2 == 0, (words - typeKinds) / 2 <= UserProfile.recentLimit,
            typeKinds <= UInt64(self.eventTypes.count)
        else { throw .malformed }
        state.typeKinds = UInt16(typeKinds)
        state.history.reserveCapacity(Int(words))
        for _ in 0..<words { state.history.append(try r.readUInt64()) }
        let types = UInt64(self.eventTypes.count)
        for (type, _) in state.typeCounts where UInt64(type) >= types { throw .malformed }
        for index in 0..<state.recentInteractionCount {
            let (item, type, _) = state.recentInteraction(index)
            guard UInt64(type) < types, item >= 0, Int(item) < self.itemKeys.count else { throw .malformed }
        }
    }

    /// Restores learned state written by ``encode(into:)`` into an engine with `configuration`.
    ///
    /// The state may come from a file or from Redis, so nothing in it is trusted: every count is checked against the
    /// bytes left, every item, user, segment and cluster index against what it indexes, and every time against
    /// ``EventTime/storableMilliseconds``, so that bad bytes throw here rather than trap in a later request.
    public init(configuration: Configuration, decoding r: inout BinaryReader) throws(BinaryFormatError) {
        self.init(configuration: configuration)
        let version = try r.readUInt8()
        guard (2...Self.formatVersion).contains(version) else { throw .malformed }
        self.latest = try r.readTime()
        self.eventCount = try r.readUInt64()
        self.modelVersion = try r.readUInt64()
        let itemCount = try r.readVarint()
        guard itemCount <= UInt64(r.remaining) else { throw .truncated }
        for _ in 0..<Int(itemCount) {
            let name = try r.readString()
            guard self.itemIndex.intern(name).inserted else { throw .malformed }
            self.itemKeys.append(ItemKey(name))
        }
        if version >= 4 {
            for _ in 0..<(try r.readVarint()) {
                let name = try r.readString()
                guard self.eventTypeIDs[name] == nil, self.eventTypes.count <= Int(UInt16.max) else { throw .malformed }
                _ = self.internEventType(EventType(name))
            }
        }
        // A user takes at least 28 bytes: a name, three lists, ratings, segment, events and latest event time.
        let userCount = try r.readCount(elementSize: 28)
        self.users.reserveCapacity(userCount)
        for _ in 0..<userCount {
            let name = try r.readString()
            var state = UserState()
            state.seen = try r.readInt32s()
            state.recent = try r.readInt32s()
            state.disliked = try r.readInt32s()
            state.ratingSum = try r.readFloat()
            state.ratingCount = try r.readFloat()
            let segment = Int32(bitPattern: try r.readUInt32())
            guard segment >= -1, segment < Int32(self.segmentPopularity.count) else { throw .malformed }
            state.segment = Int16(segment)
            state.events = try r.readUInt32()
            state.lastEvent = try r.readTime().milliseconds
            if version >= 4 { try self.decodeProfile(into: &state, &r) }
            guard self.userIndex.intern(name).inserted,
                (state.seen + state.recent + state.disliked).allSatisfy({ $0 >= 0 && Int($0) < Int(itemCount) })
            else { throw .malformed }
            self.users.append(state)
        }
        guard try r.readVarint() == UInt64(configuration.factors.dimensions) else { throw .malformed }
        let userFactors = try r.readFloats()
        let itemFactors = try r.readFloats()
        guard userFactors.count == userCount * configuration.factors.dimensions,
            itemFactors.count == Int(itemCount) * configuration.factors.dimensions
        else { throw .malformed }
        self.factors.replace(userFactors: userFactors, itemFactors: itemFactors)
        let coLandmark = try Self.decodeLandmark(&r)
        let coWeights = try r.readFloats()
        // One list of neighbours per weighted item, each neighbour an item with a weight (its norm is looked up).
        let neighbourCount = try r.readCount(elementSize: 2)
        guard coWeights.count <= Int(itemCount), neighbourCount == coWeights.count else { throw .malformed }
        var neighbours: [CooccurrenceModel.Neighbours] = []
        neighbours.reserveCapacity(neighbourCount)
        for _ in 0..<neighbourCount {
            let keys = try r.readInt32s()
            let values = try r.readFloats()
            guard keys.count == values.count, keys.allSatisfy({ $0 >= 0 && Int($0) < coWeights.count }) else {
                throw .malformed
            }
            neighbours.append(CooccurrenceModel.Neighbours(items: keys, weights: values))
        }
        self.cooccurrence.restore(landmark: coLandmark, weights: coWeights, neighbours: neighbours)
        let items = self.itemKeys.count
        try Self.decode(&self.trending, &r, itemCount: items)
        try Self.decode(&self.popularity, &r, itemCount: items)
        guard try r.readVarint() == UInt64(self.segmentPopularity.count) else { throw .malformed }
        for k in self.segmentPopularity.indices { try Self.decode(&self.segmentPopularity[k], &r, itemCount: items) }
        for _ in 0..<(try r.readCount(elementSize: 2)) {
            let category = try r.readString()
            var counter = TrendingCounter(configuration: configuration.categoryTrending)
            // Format 5 names the item of each sum; before, the sums were by item id.
            try Self.decode(&counter, &r, itemCount: items, withItems: version >= 5)
            self.categoryPopularity[category] = counter
        }
        for _ in 0..<(try r.readCount(elementSize: 5)) {
            let item = Int32(bitPattern: try r.readUInt32())
            guard item >= 0, Int(item) < items else { throw .malformed }
            self.itemCategories[item] = try r.readString()
        }
        // At most one cluster per configured segment (a user's cluster indexes `segmentPopularity`), each with a
        // count of updates that can still grow.
        let centroids = try r.readFloats()
        var counts: [Int] = []
        for _ in 0..<(try r.readVarint(atMost: configuration.segments.clusters)) {
            counts.append(try r.readVarint(atMost: Int(Int32.max)))
        }
        guard centroids.count == counts.count * configuration.factors.dimensions else { throw .malformed }
        self.kmeans.restore(centroids: centroids, counts: counts)
        for _ in 0..<(try r.readCount(elementSize: 10)) {
            let session = try r.readString()
            let items = try r.readInt32s()
            guard items.allSatisfy({ $0 >= 0 && Int($0) < Int(itemCount) }) else { throw .malformed }
            self.sessions[session] = SessionState(items: items, lastActive: try r.readTime().milliseconds, sequence: 0)
        }
        // The iALS feedback: restored when this engine folds in; read past otherwise. An engine switched to iALS on
        // state written without it starts from an empty feedback matrix (its fold-ins see only new events).
        if version >= 3, try r.readUInt8() == 1 {
            let rowCount = try r.readCount(elementSize: 2)
            var rows: [ImplicitFeedback.Row] = []
            rows.reserveCapacity(rowCount)
            for _ in 0..<rowCount {
                let ids = try r.readInt32s()
                let signals = try r.readFloats()
                guard ids.count == signals.count, ids.allSatisfy({ $0 >= 0 && Int($0) < self.itemKeys.count }) else {
                    throw .malformed
                }
                rows.append(ImplicitFeedback.Row(ids: ids, signals: signals))
            }
            if let solver = self.implicitFoldIn?.solver {
                self.implicitFoldIn = ImplicitFoldIn(
                    solver: solver,
                    feedback: ImplicitFeedback(users: rows, itemCount: self.itemKeys.count)
                )
            }
        }
    }
}
