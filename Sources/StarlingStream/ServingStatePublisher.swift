public import StarlingCore
public import StarlingModels

/// What the processor shares of one user with serving processes elsewhere: the profile and the engine's state of
/// the user, both as of the same applied event.
public struct PublishedUser: Hashable, Sendable {
    public var profile: UserProfile
    public var model: RecommendationEngine.PortableUser

    public init(profile: UserProfile, model: RecommendationEngine.PortableUser) {
        self.profile = profile
        self.model = model
    }
}

extension PublishedUser {
    private static let formatVersion: UInt8 = 2

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
                guard r.remaining == 0 else { throw .malformed }
                return PublishedUser(profile: profile, model: model)
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
                let count = try r.readVarint()
                guard count <= UInt64(r.remaining) else { throw .truncated }
                var items: [ItemKey] = []
                for _ in 0..<count { items.append(ItemKey(try r.readString())) }
                guard r.remaining == 0 else { throw .malformed }
                return items
            }
        }
        return try result.get()
    }
}

/// Receives the serving state the processor changes, to share it with serving processes elsewhere.
///
/// Both methods are called on the processor's path and must not block: implementations queue and write in the
/// background, keeping only the latest state per user.
public protocol ServingStatePublisher: Sendable {
    /// The users one write slice changed, after their profiles moved.
    func publish(users: [PublishedUser])
    /// The anonymous sessions one write slice changed.
    func publish(sessions: [PublishedSession])
    /// A catalogue change the processor applied.
    func publish(catalogChange: CatalogChange)
}
