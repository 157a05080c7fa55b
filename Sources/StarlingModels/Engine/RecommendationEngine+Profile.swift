public import StarlingCore

// A user's versioned profile (``UserProfile``) lives in the engine's record of the user (``RecommendationEngine/
// UserState``), next to the models' per-user state, so that it is stored, published and checkpointed once.
//
// Compact form: the interacted items are the record's sorted dense item ids (`seen`); event types are interned to
// small ids (`eventTypes`); `history` holds, in one allocation,
//
// - first `typeKinds` words, one per event type the user has: `type id << 48 | count` (a count is kept below
//   2^48, ``RecommendationEngine/UserState/maxTypeCount``);
// - then the recent interactions, newest first, at most ``UserProfile/recentLimit``, two words each: the event
//   time in milliseconds (bit pattern), then `type id << 32 | dense item id`.

extension RecommendationEngine.UserState {
    /// The largest count by event type a record holds (48 bits); larger counts are stored as this.
    public static let maxTypeCount: UInt64 = (1 << 48) - 1

    /// Bytes of the packed profile history's allocation (for memory accounting).
    public var historyBytes: Int { self.history.capacity == 0 ? 0 : 32 + self.history.capacity * 8 }

    /// The number of recent interactions.
    var recentInteractionCount: Int { (self.history.count - Int(self.typeKinds)) / 2 }

    /// The `index`th recent interaction (0 is the newest): item id, type id, event time in milliseconds.
    func recentInteraction(_ index: Int) -> (item: Int32, type: UInt16, time: Int64) {
        let base = Int(self.typeKinds) + 2 * index
        let word = self.history[base + 1]
        return (Int32(bitPattern: UInt32(truncatingIfNeeded: word)), UInt16(truncatingIfNeeded: word >> 32), Int64(bitPattern: self.history[base]))
    }

    /// The counts by event type id.
    var typeCounts: some Sequence<(type: UInt16, count: UInt64)> {
        self.history.prefix(Int(self.typeKinds)).lazy.map { (UInt16(truncatingIfNeeded: $0 >> 48), $0 & Self.maxTypeCount) }
    }

    /// Moves the profile fields for one applied event (the rules of ``UserProfile/apply(_:)``): the version and
    /// counts move, and an interaction with an item slots into the recent ones by event time. `seen` already holds
    /// the item (the models' learning put it there).
    mutating func recordProfile(of event: Event, item: Int32?, type: UInt16) {
        let time = event.timestamp.milliseconds
        if self.eventCount == 0 || time < self.firstSeen { self.firstSeen = time }
        if time > self.lastSeen { self.lastSeen = time }
        self.version &+= 1
        self.eventCount &+= 1
        self.addTypeCount(type, 1)
        guard let item else { return }
        let count = self.recentInteractionCount
        var position = count
        for index in 0..<count where self.recentInteraction(index).time <= time {
            position = index
            break
        }
        guard position < UserProfile.recentLimit else { return }
        let base = Int(self.typeKinds) + 2 * position
        self.history.insert(UInt64(type) << 32 | UInt64(UInt32(bitPattern: item)), at: base)
        self.history.insert(UInt64(bitPattern: time), at: base)
        if count + 1 > UserProfile.recentLimit { self.history.removeLast(2) }
    }

    private mutating func addTypeCount(_ type: UInt16, _ count: UInt64) {
        for index in 0..<Int(self.typeKinds) where self.history[index] >> 48 == UInt64(type) {
            let stored = self.history[index] & Self.maxTypeCount
            self.history[index] = UInt64(type) << 48 | min(Self.maxTypeCount, stored &+ count)
            return
        }
        self.history.insert(UInt64(type) << 48 | min(Self.maxTypeCount, count), at: Int(self.typeKinds))
        self.typeKinds += 1
    }
}

extension RecommendationEngine {
    /// The small id of an event type, creating it.
    mutating func internEventType(_ type: EventType) -> UInt16 {
        if let id = self.eventTypeIDs[type.name] { return id }
        precondition(self.eventTypes.count <= Int(UInt16.max), "more than 65,536 event types")
        let id = UInt16(self.eventTypes.count)
        self.eventTypes.append(type)
        self.eventTypeIDs[type.name] = id
        return id
    }

    /// The versioned profile of `user`, built from the user's record; `nil` when the engine has no record of them.
    public func profile(of user: String) -> UserProfile? {
        guard let id = self.userID(user) else { return nil }
        let state = self.users[Int(id)]
        var profile = UserProfile(user: user)
        profile.version = state.version
        profile.eventCount = state.eventCount
        profile.firstSeen = EventTime(milliseconds: state.firstSeen)
        profile.lastSeen = EventTime(milliseconds: state.lastSeen)
        profile.recent.reserveCapacity(state.recentInteractionCount)
        for index in 0..<state.recentInteractionCount {
            let (item, type, time) = state.recentInteraction(index)
            profile.recent.append(
                Interaction(item: self.itemKey(item).name, type: self.eventTypes[Int(type)], timestamp: EventTime(milliseconds: time))
            )
        }
        profile.interacted.reserveCapacity(state.seen.count)
        for item in state.seen { profile.interacted.insert(self.itemKey(item)) }
        for (type, count) in state.typeCounts { profile.typeCounts[self.eventTypes[Int(type)].name] = count }
        return profile
    }

    /// The version of `user`'s profile, 0 for a user the engine has no record of.
    public func profileVersion(of user: String) -> UInt64 {
        self.userID(user).map { self.users[Int($0)].version } ?? 0
    }

    /// Stores `profile` in its user's record if the record's version is still `expectedVersion` (0 for a user the
    /// engine has no record of): the compare-and-swap of ``ProfileStore``.
    ///
    /// - Returns: Whether the profile was stored.
    public mutating func compareAndSwap(_ profile: UserProfile, expectedVersion: UInt64) -> Bool {
        guard self.profileVersion(of: profile.user) == expectedVersion else { return false }
        self.replaceProfile(with: profile)
        return true
    }

    /// Replaces the profile fields of `profile`'s user with it, creating the user's record when there is none.
    ///
    /// The record's seen items become the profile's interacted items (items and event types new to the engine are
    /// interned); the models' state (embedding, recent window, rating mean, segment) is left as it is. At most
    /// ``UserProfile/recentLimit`` recent interactions are kept, and counts by type are capped at
    /// ``UserState/maxTypeCount``. Used by ``compareAndSwap(_:expectedVersion:)`` and to adopt the profiles of a
    /// checkpoint written before the profile moved into the engine.
    public mutating func replaceProfile(with profile: UserProfile) {
        let user = self.internUser(profile.user)
        var seen = profile.interacted.map { self.internItem($0) }
        seen.sort()
        var history: [UInt64] = []
        history.reserveCapacity(profile.typeCounts.count + 2 * min(profile.recent.count, UserProfile.recentLimit))
        for (type, count) in profile.typeCounts.sorted(by: { $0.key < $1.key }) {
            history.append(UInt64(self.internEventType(EventType(type))) << 48 | min(UserState.maxTypeCount, count))
        }
        for interaction in profile.recent.prefix(UserProfile.recentLimit) {
            let item = self.internItem(named: interaction.item)
            let type = self.internEventType(interaction.type)
            history.append(UInt64(bitPattern: interaction.timestamp.milliseconds))
            history.append(UInt64(type) << 32 | UInt64(UInt32(bitPattern: item)))
        }
        self.users[Int(user)].seen = seen
        self.users[Int(user)].version = profile.version
        self.users[Int(user)].eventCount = profile.eventCount
        self.users[Int(user)].firstSeen = profile.firstSeen.milliseconds
        self.users[Int(user)].lastSeen = profile.lastSeen.milliseconds
        self.users[Int(user)].typeKinds = UInt16(profile.typeCounts.count)
        self.users[Int(user)].history = history
    }
}
