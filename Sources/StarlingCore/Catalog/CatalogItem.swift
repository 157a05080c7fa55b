/// What the catalogue knows about one item: used to filter and shape recommendations.
///
/// Items need not be in the catalogue to be recommended: an item seen only in events is recommendable. A catalogue
/// entry can make an item unavailable, expired or deleted, which removes it from every list at once.
public struct CatalogItem: Hashable, Sendable {
    public var id: String
    public var category: String?
    public var tags: [String]
    /// When the item was published; recent items feed cold-start lists.
    public var publishedAt: EventTime?
    /// After this time the item is never recommended.
    public var expiresAt: EventTime?
    /// `false` hides the item from every list.
    public var available: Bool
    /// Free attributes, for boost and bury rules.
    public var attributes: [String: ContextValue]
    /// Server time of the last change.
    public var updatedAt: EventTime

    public init(
        id: String,
        category: String? = nil,
        tags: [String] = [],
        publishedAt: EventTime? = nil,
        expiresAt: EventTime? = nil,
        available: Bool = true,
        attributes: [String: ContextValue] = [:],
        updatedAt: EventTime
    ) {
        self.id = id
        self.category = category
        self.tags = tags
        self.publishedAt = publishedAt
        self.expiresAt = expiresAt
        self.available = available
        self.attributes = attributes
        self.updatedAt = updatedAt
    }

    /// Whether the item may be recommended at wall-clock time `now`.
    public func isRecommendable(at now: EventTime) -> Bool {
        guard self.available else { return false }
        if let expiresAt = self.expiresAt, expiresAt <= now { return false }
        return true
    }
}

/// A change to the catalogue, as written to the log's `catalog` topic.
public enum CatalogChange: Hashable, Sendable {
    case upsert(CatalogItem)
    case delete(id: String, at: EventTime)

    public var itemID: String {
        switch self {
        case .upsert(let item): item.id
        case .delete(let id, _): id
        }
    }
}

extension CatalogChange {
    private static let formatVersion: UInt8 = 1

    /// The binary payload for the log.
    public func encoded() -> [UInt8] {
        var w = BinaryWriter(capacity: 128)
        w.write(Self.formatVersion)
        switch self {
        case .delete(let id, let time):
            w.write(UInt8(0))
            w.write(id)
            w.write(time.milliseconds)
        case .upsert(let item):
            w.write(UInt8(1))
            w.write(item.id)
            w.write(optional: item.category)
            w.writeVarint(UInt64(item.tags.count))
            for tag in item.tags { w.write(tag) }
            for time in [item.publishedAt, item.expiresAt] {
                if let time {
                    w.write(UInt8(1))
                    w.write(time.milliseconds)
                } else {
                    w.write(UInt8(0))
                }
            }
            w.write(UInt8(item.available ? 1 : 0))
            w.writeVarint(UInt64(item.attributes.count))
            for (key, value) in item.attributes.sorted(by: { $0.key < $1.key }) {
                w.write(key)
                switch value {
                case .string(let s):
                    w.write(UInt8(0))
                    w.write(s)
                case .number(let d):
                    w.write(UInt8(1))
                    w.write(d)
                case .bool(let b):
                    w.write(UInt8(b ? 3 : 2))
                }
            }
            w.write(item.updatedAt.milliseconds)
        }
        return w.bytes
    }

    /// Decodes a payload written by ``encoded()``.
    public init(decoding bytes: [UInt8]) throws(BinaryFormatError) {
        let result = bytes.withUnsafeBytes { raw in
            Result { () throws(BinaryFormatError) -> CatalogChange in
                var r = BinaryReader(raw)
                guard try r.readUInt8() == Self.formatVersion else { throw .malformed }
                switch try r.readUInt8() {
                case 0:
                    let id = try r.readString()
                    return .delete(id: id, at: EventTime(milliseconds: try r.readInt64()))
                case 1:
                    var item = CatalogItem(id: try r.readString(), updatedAt: EventTime(milliseconds: 0))
                    item.category = try r.readOptionalString()
                    for _ in 0..<(try r.readVarint()) { item.tags.append(try r.readString()) }
                    item.publishedAt = try r.readUInt8() == 1 ? EventTime(milliseconds: try r.readInt64()) : nil
                    item.expiresAt = try r.readUInt8() == 1 ? EventTime(milliseconds: try r.readInt64()) : nil
                    item.available = try r.readUInt8() == 1
                    for _ in 0..<(try r.readVarint()) {
                        let key = try r.readString()
                        switch try r.readUInt8() {
                        case 0: item.attributes[key] = .string(try r.readString())
                        case 1: item.attributes[key] = .number(try r.readDouble())
                        case 2: item.attributes[key] = .bool(false)
                        case 3: item.attributes[key] = .bool(true)
                        default: throw .malformed
                        }
                    }
                    item.updatedAt = EventTime(milliseconds: try r.readInt64())
                    guard r.remaining == 0 else { throw .malformed }
                    return .upsert(item)
                default:
                    throw .malformed
                }
            }
        }
        self = try result.get()
    }
}
