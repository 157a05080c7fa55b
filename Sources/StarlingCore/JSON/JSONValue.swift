/// A parsed JSON value.
///
/// Objects keep their members in document order as an array of pairs: the ingest path never needs key look-up
/// by hash, and arrays of pairs are far cheaper to build than dictionaries.
public enum JSONValue: Hashable, Sendable {
    case null
    case bool(Bool)
    /// A number, with its exact integer value when it was written without fraction or exponent and fits 64 bits.
    case number(Double, integer: Int64?)
    case string(String)
    case array([JSONValue])
    case object([JSONMember])

    /// A short name of the value's JSON type, for error messages.
    public var typeName: String {
        switch self {
        case .null: "null"
        case .bool: "a boolean"
        case .number: "a number"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }

    /// The member named `key`, if this is an object that has one.
    public subscript(key: String) -> JSONValue? {
        guard case .object(let members) = self else { return nil }
        return members.first(where: { $0.key == key })?.value
    }

    /// The text, if this is a string.
    public var string: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    /// The elements, if this is an array.
    public var array: [JSONValue]? {
        if case .array(let a) = self { return a }
        return nil
    }

    /// The exact integer, if this is a number written as an integer that fits `Int`.
    public var bool: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }

    public var int: Int? {
        if case .number(_, let integer?) = self { return Int(exactly: integer) }
        return nil
    }
}

/// One `"key": value` member of a JSON object.
public struct JSONMember: Hashable, Sendable {
    public var key: String
    public var value: JSONValue

    public init(key: String, value: JSONValue) {
        self.key = key
        self.value = value
    }
}

/// A JSON document that does not parse, with where it failed.
public struct JSONSyntaxError: Error, Hashable, Sendable, CustomStringConvertible {
    /// Zero-based byte offset of the failure.
    public var offset: Int
    /// One-based line of the failure.
    public var line: Int
    /// One-based column (in bytes) of the failure.
    public var column: Int
    /// What was wrong there.
    public var message: String

    public var description: String {
        "invalid JSON at line \(self.line), column \(self.column): \(self.message)"
    }
}
