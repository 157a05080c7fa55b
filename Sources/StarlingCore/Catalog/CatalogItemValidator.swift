/// Turns one JSON catalogue entry into a ``CatalogItem``, or says which field is wrong.
///
/// Fields (all optional but `id` in bulk requests, where it names the item):
/// `category` (1–256 characters), `tags` (up to 100 strings of 1–128 characters), `published_at` and `expires_at`
/// (RFC 3339 or epoch milliseconds), `available` (boolean, default `true`), `attributes` (an object of string,
/// number and boolean values, at most 4 KB). Unknown fields are ignored.
public struct CatalogItemValidator: Sendable {
    public init() {}

    /// Validates `json` as the entry of `id` (from the path), or of its own `id` field when `id` is `nil`.
    public func validate(_ json: JSONValue, id: String?, now: EventTime) -> Result<CatalogItem, EventValidationError> {
        do throws(EventValidationError) {
            return .success(try self.item(json, id: id, now: now))
        } catch {
            return .failure(error)
        }
    }

    private func item(_ json: JSONValue, id pathID: String?, now: EventTime) throws(EventValidationError) -> CatalogItem {
        guard case .object(let members) = json else {
            throw EventValidationError(field: nil, "each item must be a JSON object, found \(json.typeName)")
        }
        var item = CatalogItem(id: pathID ?? "", updatedAt: now)
        var seen = Set<String>()
        var sawID = false
        for member in members {
            guard seen.insert(member.key).inserted else {
                throw EventValidationError(field: member.key, "appears more than once")
            }
            switch member.key {
            case "id":
                let id = try FieldParsing.identifier(member.value, field: "id", maxLength: 256)
                if let pathID, id != pathID {
                    throw EventValidationError(field: "id", "'\(FieldParsing.truncated(id))' does not match the item in the path")
                }
                item.id = id
                sawID = true
            case "category":
                if member.value != .null {
                    item.category = try FieldParsing.identifier(member.value, field: "category", maxLength: 256)
                }
            case "tags":
                guard case .array(let values) = member.value else {
                    if member.value == .null { continue }
                    throw EventValidationError(field: "tags", "must be an array of strings, found \(member.value.typeName)")
                }
                guard values.count <= 100 else { throw EventValidationError(field: "tags", "must hold at most 100 tags") }
                item.tags = []
                for value in values {
                    item.tags.append(try FieldParsing.identifier(value, field: "tags", maxLength: 128))
                }
            case "published_at":
                item.publishedAt = try FieldParsing.time(member.value, field: "published_at", allowBeforeEpoch: true)
            case "expires_at":
                item.expiresAt = try FieldParsing.time(member.value, field: "expires_at")
            case "available":
                switch member.value {
                case .bool(let available): item.available = available
                case .null: break
                default: throw EventValidationError(field: "available", "must be a boolean, found \(member.value.typeName)")
                }
            case "attributes":
                let attributes = try FieldParsing.flatObject(member.value, field: "attributes", maxBytes: 4_096)
                item.attributes = Dictionary(attributes.map { ($0.key, $0.value) }, uniquingKeysWith: { $1 })
            default:
                continue
            }
        }
        if pathID == nil, !sawID { throw EventValidationError(field: "id", "is required") }
        return item
    }
}
