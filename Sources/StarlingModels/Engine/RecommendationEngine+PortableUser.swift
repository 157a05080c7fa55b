public import StarlingCore

extension RecommendationEngine {
    /// What the engine knows of one user, by item name rather than dense id, so that another process holding a
    /// snapshot of the engine (an API process serving from Redis) can recommend from a fresher state than its
    /// snapshot has.
    public struct PortableUser: Hashable, Sendable {
        /// Items the user interacted with.
        public var seen: [ItemKey]
        /// The latest positively chosen items, oldest first.
        public var recent: [ItemKey]
        /// Items the user disliked.
        public var disliked: [ItemKey]
        public var segment: Int16
        public var events: UInt32
        /// Event time of the user's latest event, in milliseconds.
        public var lastEvent: Int64
        /// The user's embedding.
        public var vector: [Float]
        /// The ``RecommendationEngine/modelVersion`` the embedding belongs to: after a retrain, vectors of another
        /// version live in a different space and are not used.
        public var modelVersion: UInt64

        public init(
            seen: [ItemKey] = [],
            recent: [ItemKey] = [],
            disliked: [ItemKey] = [],
            segment: Int16 = -1,
            events: UInt32 = 0,
            lastEvent: Int64 = 0,
            vector: [Float] = [],
            modelVersion: UInt64 = 0
        ) {
            self.seen = seen
            self.recent = recent
            self.disliked = disliked
            self.segment = segment
            self.events = events
            self.lastEvent = lastEvent
            self.vector = vector
            self.modelVersion = modelVersion
        }
    }

    /// The state of `user` in portable form, if the engine's models know the user (``knows(user:)``).
    public func portableUser(_ user: String) -> PortableUser? {
        guard let id = self.userID(user), self.users[Int(id)].events > 0 else { return nil }
        let state = self.users[Int(id)]
        return PortableUser(
            seen: state.seen.map { self.itemKey($0) },
            recent: state.recent.map { self.itemKey($0) },
            disliked: state.disliked.map { self.itemKey($0) },
            segment: state.segment,
            events: state.events,
            lastEvent: state.lastEvent,
            vector: Array(self.factors.userVector(id)),
            modelVersion: self.modelVersion
        )
    }

    /// The engine's view of a published user: items this engine does not know yet are left out (they cannot be
    /// scored here anyway), and the embedding is used only if it belongs to this engine's model version.
    func userState(resolving user: PortableUser) -> (state: UserState, vector: [Float]?) {
        func ids(_ keys: [ItemKey]) -> [Int32] { keys.compactMap { self.itemID($0) } }
        var state = UserState()
        state.seen = ids(user.seen).sorted()
        state.recent = ids(user.recent)
        state.disliked = ids(user.disliked).sorted()
        state.segment = self.segmentPopularity.indices.contains(Int(user.segment)) ? user.segment : -1
        state.events = user.events
        state.lastEvent = user.lastEvent
        let usable = user.modelVersion == self.modelVersion && user.vector.count == self.factors.configuration.dimensions
        return (state, usable ? user.vector : nil)
    }
}

extension RecommendationEngine.PortableUser {
    /// Appends the binary form.
    public func encode(into w: inout BinaryWriter) {
        for list in [self.seen, self.recent, self.disliked] {
            w.writeVarint(UInt64(list.count))
            for item in list { w.write(item.name) }
        }
        w.writeVarint(UInt64(UInt16(bitPattern: self.segment)))
        w.writeVarint(UInt64(self.events))
        w.write(self.lastEvent)
        w.write(floats: self.vector)
        w.write(self.modelVersion)
    }

    /// Reads what ``encode(into:)`` wrote.
    public init(decoding r: inout BinaryReader) throws(BinaryFormatError) {
        var lists: [[ItemKey]] = []
        for _ in 0..<3 {
            let count = try r.readCount()
            var list: [ItemKey] = []
            list.reserveCapacity(count)
            for _ in 0..<count { list.append(ItemKey(try r.readString())) }
            lists.append(list)
        }
        let segment = try r.readVarint()
        let events = try r.readVarint()
        guard segment <= UInt64(UInt16.max), events <= UInt64(UInt32.max) else { throw .malformed }
        self.init(
            seen: lists[0],
            recent: lists[1],
            disliked: lists[2],
            segment: Int16(bitPattern: UInt16(segment)),
            events: UInt32(events),
            lastEvent: try r.readTime().milliseconds,
            vector: try r.readFloats(),
            modelVersion: try r.readUInt64()
        )
    }
}
