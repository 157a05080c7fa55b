/// A hand-written, allocation-light JSON reader over a byte buffer.
///
/// It reads one value at a time so that callers (the ingest decoder) can walk a batch element by element, and it
/// reports the exact line and column of any syntax error. Nesting depth is bounded to keep hostile input from
/// exhausting the stack.
public struct JSONScanner {
    private let bytes: UnsafeBufferPointer<UInt8>
    /// The read position, a byte offset into the buffer.
    public private(set) var position: Int
    private let maxDepth: Int

    /// Creates a scanner over `bytes`.
    ///
    /// - Important: The scanner does not own the buffer; use it only while the buffer is valid.
    public init(_ bytes: UnsafeBufferPointer<UInt8>, maxDepth: Int = 64) {
        self.bytes = bytes
        self.position = 0
        self.maxDepth = maxDepth
    }

    /// Parses a whole document holding exactly one value.
    public static func parse(_ bytes: [UInt8]) throws(JSONSyntaxError) -> JSONValue {
        let result = bytes.withUnsafeBufferPointer { buffer in
            Result { () throws(JSONSyntaxError) in
                var scanner = JSONScanner(buffer)
                let value = try scanner.readValue()
                try scanner.expectEnd()
                return value
            }
        }
        return try result.get()
    }

    /// Parses a whole document holding exactly one value.
    public static func parse(_ string: String) throws(JSONSyntaxError) -> JSONValue {
        try parse(Array(string.utf8))
    }

    // MARK: - Structure

    /// Skips spaces, tabs, carriage returns and newlines.
    public mutating func skipWhitespace() {
        while self.position < self.bytes.count {
            switch self.bytes[self.position] {
            case 0x20, 0x09, 0x0A, 0x0D: self.position += 1
            default: return
            }
        }
    }

    /// The next non-whitespace byte, without consuming it.
    public mutating func peek() -> UInt8? {
        self.skipWhitespace()
        return self.position < self.bytes.count ? self.bytes[self.position] : nil
    }

    /// Consumes `byte` (after whitespace) or throws.
    public mutating func expect(_ byte: UInt8, _ what: String) throws(JSONSyntaxError) {
        guard self.peek() == byte else {
            throw self.error("expected \(what)\(self.foundDescription())")
        }
        self.position += 1
    }

    /// Consumes `byte` (after whitespace) if it is next.
    public mutating func consume(_ byte: UInt8) -> Bool {
        guard self.peek() == byte else { return false }
        self.position += 1
        return true
    }

    /// Throws unless only whitespace remains.
    public mutating func expectEnd() throws(JSONSyntaxError) {
        if self.peek() != nil {
            throw self.error("unexpected data after the end of the document")
        }
    }

    /// Iterates over an object's members: calls `body` with each key while the scanner sits on its value, which
    /// `body` must consume.
    public mutating func readObject(
        _ body: (inout JSONScanner, String) throws(JSONSyntaxError) -> Void
    ) throws(JSONSyntaxError) {
        try self.expect(UInt8(ascii: "{"), "'{'")
        if self.consume(UInt8(ascii: "}")) { return }
        while true {
            guard self.peek() == UInt8(ascii: "\"") else {
                throw self.error("expected a string key\(self.foundDescription())")
            }
            let key = try self.readString()
            try self.expect(UInt8(ascii: ":"), "':' after an object key")
            try body(&self, key)
            if self.consume(UInt8(ascii: ",")) { continue }
            try self.expect(UInt8(ascii: "}"), "',' or '}' in an object")
            return
        }
    }

    /// Iterates over an array's elements: calls `body` with each index while the scanner sits on the element,
    /// which `body` must consume.
    public mutating func readArray(
        _ body: (inout JSONScanner, Int) throws(JSONSyntaxError) -> Void
    ) throws(JSONSyntaxError) {
        try self.expect(UInt8(ascii: "["), "'['")
        if self.consume(UInt8(ascii: "]")) { return }
        var index = 0
        while true {
            try body(&self, index)
            index += 1
            if self.consume(UInt8(ascii: ",")) { continue }
            try self.expect(UInt8(ascii: "]"), "',' or ']' in an array")
            return
        }
    }

    // MARK: - Values

    /// Reads any value.
    public mutating func readValue() throws(JSONSyntaxError) -> JSONValue {
        try self.readValue(depth: 0)
    }

    private mutating func readValue(depth: Int) throws(JSONSyntaxError) -> JSONValue {
        guard depth < self.maxDepth else { throw self.error("nesting deeper than \(self.maxDepth) levels") }
        guard let byte = self.peek() else { throw self.error("unexpected end of input, expected a value") }
        switch byte {
        case UInt8(ascii: "\""):
            return .string(try self.readString())
        case UInt8(ascii: "{"):
            var members: [JSONMember] = []
            try self.readObject { scanner, key throws(JSONSyntaxError) in
                members.append(JSONMember(key: key, value: try scanner.readValue(depth: depth + 1)))
            }
            return .object(members)
        case UInt8(ascii: "["):
            var elements: [JSONValue] = []
            try self.readArray { scanner, _ throws(JSONSyntaxError) in
                elements.append(try scanner.readValue(depth: depth + 1))
            }
            return .array(elements)
        case UInt8(ascii: "t"):
            try self.readLiteral("true")
            return .bool(true)
        case UInt8(ascii: "f"):
            try self.readLiteral("false")
            return .bool(false)
        case UInt8(ascii: "n"):
            try self.readLiteral("null")
            return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return try self.readNumber()
        default:
            throw self.error("unexpected \(self.foundDescription(bare: true)), expected a value")
        }
    }

    private mutating func readLiteral(_ literal: StaticString) throws(JSONSyntaxError) {
        let count = literal.utf8CodeUnitCount
        let start = literal.utf8Start
        guard self.position + count <= self.bytes.count else { throw self.error("unexpected end of input") }
        for k in 0..<count where self.bytes[self.position + k] != start[k] {
            throw self.error("invalid literal, expected '\(literal)'")
        }
        self.position += count
    }

    /// Reads a number.
    public mutating func readNumber() throws(JSONSyntaxError) -> JSONValue {
        self.skipWhitespace()
        let start = self.position
        var negative = false
        if self.position < self.bytes.count, self.bytes[self.position] == UInt8(ascii: "-") {
            negative = true
            self.position += 1
        }
        var integer: UInt64 = 0
        var overflow = false
        let intStart = self.position
        while self.position < self.bytes.count, let d = Self.digit(self.bytes[self.position]) {
            let (m, o1) = integer.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(UInt64(d))
            overflow = overflow || o1 || o2
            integer = a
            self.position += 1
        }
        let intDigits = self.position - intStart
        guard intDigits > 0 else { throw self.error("expected digits in a number") }
        if intDigits > 1, self.bytes[intStart] == UInt8(ascii: "0") {
            throw self.error("numbers may not have leading zeros")
        }
        var isInteger = true
        if self.position < self.bytes.count, self.bytes[self.position] == UInt8(ascii: ".") {
            isInteger = false
            self.position += 1
            let fracStart = self.position
            while self.position < self.bytes.count, Self.digit(self.bytes[self.position]) != nil { self.position += 1 }
            guard self.position > fracStart else { throw self.error("expected digits after the decimal point") }
        }
        if self.position < self.bytes.count, self.bytes[self.position] | 0x20 == UInt8(ascii: "e") {
            isInteger = false
            self.position += 1
            if self.position < self.bytes.count,
                self.bytes[self.position] == UInt8(ascii: "+") || self.bytes[self.position] == UInt8(ascii: "-")
            {
                self.position += 1
            }
            let expStart = self.position
            while self.position < self.bytes.count, Self.digit(self.bytes[self.position]) != nil { self.position += 1 }
            guard self.position > expStart else { throw self.error("expected digits in the exponent") }
        }
        if isInteger, !overflow, integer <= UInt64(Int64.max) {
            let value = negative ? -Int64(integer) : Int64(integer)
            return .number(Double(value), integer: value)
        }
        let text = String(decoding: UnsafeBufferPointer(rebasing: self.bytes[start..<self.position]), as: UTF8.self)
        guard let value = Double(text), value.isFinite else {
            throw JSONSyntaxError.at(start, in: self.bytes, "number out of range")
        }
        return .number(value, integer: nil)
    }

    @inline(__always)
    private static func digit(_ byte: UInt8) -> UInt8? {
        byte >= 0x30 && byte <= 0x39 ? byte - 0x30 : nil
    }

    /// Reads a string, decoding escapes and checking that it is valid UTF-8.
    public mutating func readString() throws(JSONSyntaxError) -> String {
        try self.expect(UInt8(ascii: "\""), "a string")
        let start = self.position
        // Fast path: no escapes.
        while self.position < self.bytes.count {
            let byte = self.bytes[self.position]
            if byte == UInt8(ascii: "\"") {
                let slice = UnsafeBufferPointer(rebasing: self.bytes[start..<self.position])
                self.position += 1
                guard let string = String(validating: slice, as: UTF8.self) else {
                    throw JSONSyntaxError.at(start, in: self.bytes, "string is not valid UTF-8")
                }
                return string
            }
            if byte == UInt8(ascii: "\\") { break }
            if byte < 0x20 { throw self.error("control character in a string must be escaped") }
            self.position += 1
        }
        var decoded = Array(self.bytes[start..<self.position])
        while self.position < self.bytes.count {
            let byte = self.bytes[self.position]
            switch byte {
            case UInt8(ascii: "\""):
                self.position += 1
                guard let string = String(validating: decoded, as: UTF8.self) else {
                    throw JSONSyntaxError.at(start, in: self.bytes, "string is not valid UTF-8")
                }
                return string
            case UInt8(ascii: "\\"):
                self.position += 1
                guard self.position < self.bytes.count else { break }
                let escape = self.bytes[self.position]
                self.position += 1
                switch escape {
                case UInt8(ascii: "\""): decoded.append(0x22)
                case UInt8(ascii: "\\"): decoded.append(0x5C)
                case UInt8(ascii: "/"): decoded.append(0x2F)
                case UInt8(ascii: "b"): decoded.append(0x08)
                case UInt8(ascii: "f"): decoded.append(0x0C)
                case UInt8(ascii: "n"): decoded.append(0x0A)
                case UInt8(ascii: "r"): decoded.append(0x0D)
                case UInt8(ascii: "t"): decoded.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try self.readHex4()
                    if (0xD800...0xDBFF).contains(scalar) {
                        guard self.position + 1 < self.bytes.count, self.bytes[self.position] == 0x5C,
                            self.bytes[self.position + 1] == UInt8(ascii: "u")
                        else { throw self.error("unpaired surrogate in \\u escape") }
                        self.position += 2
                        let low = try self.readHex4()
                        guard (0xDC00...0xDFFF).contains(low) else { throw self.error("invalid low surrogate") }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    } else if (0xDC00...0xDFFF).contains(scalar) {
                        throw self.error("unpaired surrogate in \\u escape")
                    }
                    guard let unicode = Unicode.Scalar(scalar) else { throw self.error("invalid \\u escape") }
                    decoded.append(contentsOf: String(Character(unicode)).utf8)
                default:
                    throw JSONSyntaxError.at(self.position - 1, in: self.bytes, "invalid escape sequence")
                }
            default:
                if byte < 0x20 { throw self.error("control character in a string must be escaped") }
                decoded.append(byte)
                self.position += 1
            }
        }
        throw self.error("unterminated string")
    }

    private mutating func readHex4() throws(JSONSyntaxError) -> UInt32 {
        guard self.position + 4 <= self.bytes.count else { throw self.error("incomplete \\u escape") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = self.bytes[self.position]
            let nibble: UInt32
            switch byte {
            case 0x30...0x39: nibble = UInt32(byte - 0x30)
            case 0x41...0x46: nibble = UInt32(byte - 0x41 + 10)
            case 0x61...0x66: nibble = UInt32(byte - 0x61 + 10)
            default: throw self.error("invalid hex digit in \\u escape")
            }
            value = value << 4 | nibble
            self.position += 1
        }
        return value
    }

    // MARK: - Errors

    private func foundDescription(bare: Bool = false) -> String {
        let prefix = bare ? "" : ", found "
        guard self.position < self.bytes.count else { return bare ? "end of input" : ", found end of input" }
        let byte = self.bytes[self.position]
        if byte >= 0x20, byte < 0x7F { return "\(prefix)'\(Character(Unicode.Scalar(byte)))'" }
        return "\(prefix)byte 0x\(String(byte, radix: 16))"
    }

    /// An error at the current position.
    public func error(_ message: String) -> JSONSyntaxError {
        JSONSyntaxError.at(self.position, in: self.bytes, message)
    }
}

extension JSONSyntaxError {
    static func at(_ offset: Int, in bytes: UnsafeBufferPointer<UInt8>, _ message: String) -> JSONSyntaxError {
        var line = 1
        var lineStart = 0
        for k in 0..<min(offset, bytes.count) where bytes[k] == 0x0A {
            line += 1
            lineStart = k + 1
        }
        return JSONSyntaxError(offset: offset, line: line, column: offset - lineStart + 1, message: message)
    }
}
