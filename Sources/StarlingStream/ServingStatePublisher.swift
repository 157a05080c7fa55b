public import StarlingCore
public import StarlingModels

/// What the processor shares of one user with serving processes elsewhere: the profile and the engine's state of
/// the user, both as of the same applied event.
public struct PublishedUser: Hashable, Sendable {
    public var profile: UserProfile
    public var model: RecommendationEngine.PortableUser
    /// How far the processor had applied the partitions holding the user's records (next offset) when this state
    /// was taken: a reader compares it with the positions of the user's acknowledged events (read-your-writes).
    public var applied: [TopicPartition: Int64]

    public init(profile: UserProfile, model: RecommendationEngine.PortableUser, applied: [TopicPartition: Int64] = [:]) {
        self.profile = profile
        self.model = model
        self.applied = applied
    }
}

extension PublishedUser {
    private static let formatVersion: UInt8 = 3

    /// The binary form: a format version, the profile, the engine state.
    ///
    /// The profile's set of interacted items is the engine's `seen` list by another name, so it is written once
    /// (in the engine state) and rebuilt from it when read.
    public func encoded() -> [UInt8] {
        var w = BinaryWriter(capacity: 512)
        w.write(Self.formatVersion)
        var profile = self.profile
        profile.interacted = []
        profile.encode(into: &w)
        self.model.encode(into: &w)
        w.writeVarint(UInt64(self.applied.count))
        for (partition, next) in self.applied.sorted(by: { $0.key < $1.key }) {
            w.write(partition.topic)
            w.writeVarint(UInt64(partition.partition))
            w.write(next)
        }
        return w.bytes
    }

    /// Reads what ``encoded()`` wrote.
    public init(decoding bytes: [UInt8]) throws(BinaryFormatError) {
        let result = bytes.withUnsafeBytes { raw in
            Result { () throws(BinaryFormatError) -> PublishedUser in
                var r = BinaryReader(raw)
                guard try r.readUInt8() == Self.formatVersion else { throw .malformed }
                var profile = try UserProfile(decoding: &r)
                let model = try RecommendationEngine.PortableUser(decoding: &r)
                profile.interacted = Set(model.seen)
                var applied: [TopicPartition: Int64] = [:]
                for _ in 0..<(try r.readCount(elementSize: 10)) {
                    let topic = try r.readString()
                    let partition = try r.readVarint(atMost: 1 << 20)
                    applied[TopicPartition(topic: topic, partition: partition)] = try r.readInt64()
                }
                guard r.remaining == 0 else { throw .malformed }
                return PublishedUser(profile: profile, model: model, applied: applied)
            }
        }
        self = try result.get()
    }
}

/// An anonymous session's recent items (oldest first), as the processor shares it with serving processes.
public struct PublishedSession: Hashable, Sendable {
    public var id: String
    public var items: [ItemKey]

    public init(id: String, items: [ItemKey]) {
        self.id = id
        self.items = items
    }

    /// The binary form of the items.
    public func encodedItems() -> [UInt8] {
        var w = BinaryWriter(capacity: 16 + self.items.count * 16)
        w.writeVarint(UInt64(self.items.count))
        for item in self.items { w.write(item.name) }
        return w.bytes
    }

    /// Reads what ``encodedItems()`` wrote.
    public static func decodeItems(_ bytes: [UInt8]) throws(BinaryFormatError) -> [ItemKey] {
        let result = bytes.withUnsafeBytes { raw in
            Result { () throws(BinaryFormatError) -> [ItemKey] in
                var r = BinaryReader(raw)
                var items: [ItemKey] = []
                for _ in 0..<(try r.readCount()) { items.append(ItemKey(try r.readString())) }
                guard r.remaining == 0 else { throw .malformed }
                return items
            }
        }
        return try result.get()
    }
}

/// Receives the serving state the processor changes, to share it with serving processes elsewhere.
///
/// Every method is called on the processor's path and must not block: implementations queue and write in the
/// background, keeping only the latest state per user.
public protocol ServingStatePublisher: Sendable {
    /// The users one write slice changed, after their profiles moved.
    func publish(users: [PublishedUser])
    /// The anonymous sessions one write slice changed.
    func publish(sessions: [PublishedSession])
    /// A catalogue change the processor applied.
    func publish(catalogChange: CatalogChange)
    /// The events of one write slice, in order, for model replicas elsewhere.
    func publish(applied: AppliedSlice)
}

/// The serving state as it is now, for a publisher that has to publish all of it again: its store lost what it
/// held (Redis restarted empty), or it dropped queued state to stay within its bounds.
public protocol ServingStateSource: Sendable {
    /// The published state of the users with dense ids `start..<start + limit`, and the first id after them
    /// (`nil` once every user is covered).
    func publishedUsers(from start: Int, limit: Int) -> (users: [PublishedUser], next: Int?)
    /// The recent items of every anonymous session the engine keeps.
    func publishedSessions() -> [PublishedSession]
}

/// The events of one write slice, in the order the processor applied them, for model replicas elsewhere: event
/// number `firstSequence` (the engine's ``RecommendationEngine/eventCount`` after learning it) is the first.
public struct AppliedSlice: Sendable {
    public var firstSequence: UInt64
    public var events: [Event]

    public init(firstSequence: UInt64, events: [Event]) {
        self.firstSequence = firstSequence
        self.events = events
    }

    /// The sequence number of the last event.
    public var lastSequence: UInt64 { self.firstSequence + UInt64(self.events.count) - 1 }

    private static let formatVersion: UInt8 = 1

    /// The binary form: a format version, the first sequence number, and each event's binary form.
    public func encoded() -> [UInt8] {
        var w = BinaryWriter(capacity: 16 + self.events.count * 96)
        w.write(Self.formatVersion)
        w.write(self.firstSequence)
        w.writeVarint(UInt64(self.events.count))
        for event in self.events { w.write(lengthPrefixed: event.encoded()) }
        return w.bytes
    }

    /// Reads what ``encoded()`` wrote.
    public init(decoding bytes: [UInt8]) throws(BinaryFormatError) {
        let result = bytes.withUnsafeBytes { raw in
            Result { () throws(BinaryFormatError) -> AppliedSlice in
                var r = BinaryReader(raw)
                guard try r.readUInt8() == Self.formatVersion else { throw .malformed }
                let first = try r.readUInt64()
                // An event takes at least its length and the 24 bytes of the shortest payload.
                let count = try r.readCount(elementSize: 25)
                // The sequence numbers run from `first` to `lastSequence`, which must exist.
                guard first > 0, count > 0, first <= UInt64.max - UInt64(count) + 1 else { throw .malformed }
                var events: [Event] = []
                events.reserveCapacity(count)
                for _ in 0..<count { events.append(try Event(decoding: try r.readBytes())) }
                guard r.remaining == 0 else { throw .malformed }
                return AppliedSlice(firstSequence: first, events: events)
            }
        }
        self = try result.get()
    }
}
