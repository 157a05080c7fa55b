/// An item id together with its precomputed hash.
///
/// Item ids are strings chosen by clients, and serving checks many of them against sets (items the user has seen,
/// excluded items) on every request. Hashing a `String` walks its bytes with SipHash each time; an `ItemKey`
/// hashes its bytes once, with FNV-1a, when it is created, and after that hashes and compares as one integer
/// (the string is compared only when the integers match).
public struct ItemKey: Hashable, Comparable, Sendable, CustomStringConvertible, ExpressibleByStringLiteral {
    /// The item id as the client sent it.
    public let name: String
    /// FNV-1a of ``name``.
    public let stableHash: UInt64

    public init(_ name: String) {
        self.name = name
        self.stableHash = StableHash.fnv1a(name)
    }

    public init(stringLiteral value: String) {
        self.init(value)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(self.stableHash)
    }

    public static func == (lhs: ItemKey, rhs: ItemKey) -> Bool {
        lhs.stableHash == rhs.stableHash && lhs.name == rhs.name
    }

    public static func < (lhs: ItemKey, rhs: ItemKey) -> Bool {
        lhs.name < rhs.name
    }

    public var description: String { self.name }
}
