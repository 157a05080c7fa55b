public import NIOCore

/// Writes compact JSON straight into a `ByteBuffer`.
///
/// Response bodies are small and shaped by hand, so a writer beats `JSONEncoder` on the request hot path by a wide
/// margin and needs no `Codable` DTOs.
public struct JSONWriter {
    public private(set) var buffer: ByteBuffer
    private var needsComma: [Bool] = [false]

    public init(capacity: Int = 512) {
        self.buffer = ByteBufferAllocator().buffer(capacity: capacity)
    }

    private mutating func separator() {
        if self.needsComma[self.needsComma.count - 1] {
            self.buffer.writeInteger(UInt8(ascii: ","))
        }
        self.needsComma[self.needsComma.count - 1] = true
    }

    public mutating func beginObject() {
        self.separator()
        self.buffer.writeInteger(UInt8(ascii: "{"))
        self.needsComma.append(false)
    }

    public mutating func endObject() {
        self.needsComma.removeLast()
        self.buffer.writeInteger(UInt8(ascii: "}"))
    }

    public mutating func beginArray() {
        self.separator()
        self.buffer.writeInteger(UInt8(ascii: "["))
        self.needsComma.append(false)
    }

    public mutating func endArray() {
        self.needsComma.removeLast()
        self.buffer.writeInteger(UInt8(ascii: "]"))
    }

    /// Writes a key; the next value call writes its value.
    public mutating func key(_ key: String) {
        self.separator()
        self.writeEscaped(key)
        self.buffer.writeInteger(UInt8(ascii: ":"))
        self.needsComma[self.needsComma.count - 1] = false
    }

    public mutating func value(_ string: String) {
        self.separator()
        self.writeEscaped(string)
    }

    public mutating func value(_ number: Int) {
        self.separator()
        self.buffer.writeString(String(number))
    }

    public mutating func value(_ number: UInt64) {
        self.separator()
        self.buffer.writeString(String(number))
    }

    public mutating func value(_ number: Int64) {
        self.separator()
        self.buffer.writeString(String(number))
    }

    public mutating func value(_ number: Double) {
        self.separator()
        if number.isFinite {
            self.buffer.writeString(number.description)
        } else {
            self.buffer.writeString("null")
        }
    }

    public mutating func value(_ bool: Bool) {
        self.separator()
        self.buffer.writeString(bool ? "true" : "false")
    }

    public mutating func null() {
        self.separator()
        self.buffer.writeString("null")
    }

    /// Writes `"key": value` pairs in one call.
    public mutating func field(_ key: String, _ value: String) {
        self.key(key)
        self.value(value)
    }

    public mutating func field(_ key: String, _ value: Int) {
        self.key(key)
        self.value(value)
    }

    public mutating func field(_ key: String, _ value: UInt64) {
        self.key(key)
        self.value(value)
    }

    public mutating func field(_ key: String, _ value: Double) {
        self.key(key)
        self.value(value)
    }

    private static let hex: [UInt8] = Array("0123456789abcdef".utf8)

    private mutating func writeEscaped(_ string: String) {
        self.buffer.writeInteger(UInt8(ascii: "\""))
        var s = string
        s.withUTF8 { utf8 in
            var runStart = 0
            for (k, byte) in utf8.enumerated() where byte < 0x20 || byte == 0x22 || byte == 0x5C {
                self.buffer.writeBytes(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(utf8)[runStart..<k]))
                runStart = k + 1
                switch byte {
                case 0x22: self.buffer.writeString("\\\"")
                case 0x5C: self.buffer.writeString("\\\\")
                case 0x0A: self.buffer.writeString("\\n")
                case 0x0D: self.buffer.writeString("\\r")
                case 0x09: self.buffer.writeString("\\t")
                default:
                    self.buffer.writeString("\\u00")
                    self.buffer.writeInteger(Self.hex[Int(byte >> 4)])
                    self.buffer.writeInteger(Self.hex[Int(byte & 0xF)])
                }
            }
            self.buffer.writeBytes(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(utf8)[runStart...]))
        }
        self.buffer.writeInteger(UInt8(ascii: "\""))
    }
}
