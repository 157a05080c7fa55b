/// Parsing of the field kinds shared by events and catalogue items, with errors that name the field.
package enum FieldParsing {
    /// An id (user, item, session, event id, category, tag): a string of 1 to `maxLength` characters and at most
    /// 4 × `maxLength` bytes of UTF-8. The HTTP API applies the same rule to the ids in its paths.
    package static func identifier(_ json: JSONValue, field: String, maxLength: Int) throws(EventValidationError)
        -> String
    {
        guard case .string(let string) = json else {
            throw EventValidationError(field: field, "must be a string, found \(json.typeName)")
        }
        // Count characters only when the byte count leaves doubt: ASCII ids are the common case.
        let bytes = string.utf8.count
        // At most four bytes per character (the longest scalar); checked first, so that a huge id is refused
        // without walking it.
        let maxBytes = 4 * maxLength
        guard bytes <= maxBytes else {
            throw EventValidationError(field: field, "must be at most \(maxBytes) bytes of UTF-8, found \(bytes)")
        }
        // Characters are Unicode code points, as JSON Schema's maxLength (and the API's OpenAPI document) counts
        // them: a grapheme with many combining marks or emoji modifiers counts each of them.
        let length = bytes <= maxLength ? bytes : string.unicodeScalars.count
        guard length >= 1 else { throw EventValidationError(field: field, "must not be empty") }
        guard length <= maxLength else {
            throw EventValidationError(field: field, "must be at most \(maxLength) characters, found \(length)")
        }
        return string
    }

    /// An RFC 3339 string or integer epoch milliseconds, within the years RFC 3339 can write and not before 1970
    /// unless `allowBeforeEpoch`; `nil` for JSON null.
    static func time(_ json: JSONValue, field: String, allowBeforeEpoch: Bool = false) throws(EventValidationError)
        -> EventTime?
    {
        let time: EventTime
        switch json {
        case .null:
            return nil
        case .number(_, let integer?):
            time = EventTime(milliseconds: integer)
        case .string(let string):
            do throws(RFC3339.ParseError) {
                time = try RFC3339.parse(string)
            } catch {
                throw EventValidationError(
                    field: field,
                    "'\(Self.truncated(string))' is not an RFC 3339 date-time: \(error.description)"
                )
            }
        default:
            throw EventValidationError(
                field: field,
                "must be an RFC 3339 string or integer epoch milliseconds, found \(json.typeName)"
            )
        }
        // A time is written back as RFC 3339 (`GET /v1/items/{item}`, profiles): it must have a four-digit year.
        guard RFC3339.representable.contains(time) else {
            throw EventValidationError(
                field: field,
                "must be from 0000-01-01T00:00:00Z to 9999-12-31T23:59:59.999Z (epoch milliseconds "
                    + "\(RFC3339.representable.lowerBound.milliseconds) to \(RFC3339.representable.upperBound.milliseconds))"
            )
        }
        guard time.milliseconds >= 0 || allowBeforeEpoch else {
            throw EventValidationError(field: field, "must not be before 1970-01-01T00:00:00Z")
        }
        return time
    }

    /// An object whose values are strings, numbers or booleans, at most `maxBytes` counting keys and string values
    /// in UTF-8 and 8 bytes per number or boolean; empty for JSON null.
    static func flatObject(_ json: JSONValue, field: String, maxBytes: Int) throws(EventValidationError)
        -> [(key: String, value: ContextValue)]
    {
        switch json {
        case .null:
            return []
        case .object(let members):
            var size = 0
            var result: [(key: String, value: ContextValue)] = []
            result.reserveCapacity(members.count)
            for member in members {
                guard !member.key.isEmpty else { throw EventValidationError(field: field, "keys must not be empty") }
                size += member.key.utf8.count
                switch member.value {
                case .string(let s):
                    size += s.utf8.count
                    result.append((member.key, .string(s)))
                case .number(let d, _):
                    size += 8
                    result.append((member.key, .number(d)))
                case .bool(let b):
                    size += 8
                    result.append((member.key, .bool(b)))
                default:
                    throw EventValidationError(
                        field: "\(field).\(Self.truncated(member.key))",
                        "must be a string, number or boolean, found \(member.value.typeName)"
                    )
                }
            }
            guard size <= maxBytes else {
                throw EventValidationError(field: field, "is \(size) bytes, more than the limit of \(maxBytes)")
            }
            return result
        default:
            throw EventValidationError(field: field, "must be an object, found \(json.typeName)")
        }
    }

    static func truncated(_ string: String) -> String {
        string.count <= 64 ? string : String(string.prefix(64)) + "…"
    }
}
