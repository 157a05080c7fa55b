public import NIOCore

/// Writes compact JSON into a byte array, handed to NIO as one `ByteBuffer` at the end.
///
/// Response bodies are small and shaped by hand, so a writer beats `JSONEncoder` on the request hot path by a wide
/// margin and needs no `Codable` DTOs. Bytes go to a plain array (appending a byte is a few instructions) rather
/// than to a `ByteBuffer` byte by byte (each write checks exclusive access and uniqueness).
public struct JSONWriter {
    private var output: [UInt8]
    /// Per nesting level (bit `depth`): whether the next value needs a comma first. A bit set rather than an
    /// array of flags, so that no write touches the heap beyond the bytes.
    private var needsComma: UInt64 = 0
    private var depth = 0

    public init(capacity: Int = 512) {
        self.output = []
        self.output.reserveCapacity(capacity)
    }

    /// The document written so far.
    public var buffer: ByteBuffer {
        ByteBuffer(bytes: self.output)
    }

    /// The document written so far, as bytes.
    public var bytes: [UInt8] {
        self.output
    }

    /// Writes a value that is already JSON (one complete value, as another writer produced it).
    public mutating func raw(_ json: [UInt8]) {
        self.separator()
        self.output.append(contentsOf: json)
    }

    private mutating func separator() {
        let bit: UInt64 = 1 << UInt64(self.depth)
        if self.needsComma & bit != 0 {
            self.output.append(UInt8(ascii: ","))
        }
        self.needsComma |= bit
    }

    private mutating func open(_ bracket: UInt8) {
        self.separator()
        self.output.append(bracket)
        self.depth += 1
        precondition(self.depth < 64, "JSON nested deeper than 63 levels")
        self.needsComma &= ~(1 << UInt64(self.depth))
    }

    private mutating func close(_ bracket: UInt8) {
        self.depth -= 1
        self.output.append(bracket)
    }

    public mutating func beginObject() {
        self.open(UInt8(ascii: "{"))
    }

    public mutating func endObject() {
        self.close(UInt8(ascii: "}"))
    }

    public mutating func beginArray() {
        self.open(UInt8(ascii: "["))
    }

    public mutating func endArray() {
        self.close(UInt8(ascii: "]"))
    }

    /// Writes a key; the next value call writes its value.
    public mutating func key(_ key: String) {
        self.separator()
        self.writeEscaped(key)
        self.output.append(UInt8(ascii: ":"))
        self.needsComma &= ~(1 << UInt64(self.depth))
    }

    public mutating func value(_ string: String) {
        self.separator()
        self.writeEscaped(string)
    }

    public mutating func value(_ number: Int) {
        self.value(Int64(number))
    }

    public mutating func value(_ number: UInt64) {
        self.separator()
        self.appendDigits(number)
    }

    public mutating func value(_ number: Int64) {
        self.separator()
        if number < 0 { self.output.append(UInt8(ascii: "-")) }
        self.appendDigits(number.magnitude)
    }

    /// Writes a finite number with at most six decimal places (`null` when not finite). Numbers below 0.001 or
    /// above 10^9 in magnitude keep Swift's shortest exact representation.
    public mutating func value(_ number: Double) {
        self.separator()
        guard number.isFinite else {
            self.output.append(contentsOf: "null".utf8)
            return
        }
        let magnitude = Swift.abs(number)
        guard magnitude == 0 || (magnitude >= 0.001 && magnitude < 1e9) else {
            self.output.append(contentsOf: number.description.utf8)
            return
        }
        if number < 0 { self.output.append(UInt8(ascii: "-")) }
        let scaled = UInt64((magnitude * 1_000_000).rounded())
        self.appendDigits(scaled / 1_000_000)
        var fraction = scaled % 1_000_000
        guard fraction != 0 else { return }
        self.output.append(UInt8(ascii: "."))
        var width = 6
        while fraction % 10 == 0 {
            fraction /= 10
            width -= 1
        }
        var divisor: UInt64 = 1
        for _ in 1..<width { divisor *= 10 }
        while divisor > 0 {
            self.output.append(UInt8(ascii: "0") + UInt8(fraction / divisor % 10))
            divisor /= 10
        }
    }

    private mutating func appendDigits(_ value: UInt64) {
        var divisor: UInt64 = 1
        while value / divisor >= 10 { divisor *= 10 }
        var rest = value
        while divisor > 0 {
            self.output.append(UInt8(ascii: "0") + UInt8(rest / divisor))
            rest %= divisor
            divisor /= 10
        }
    }

    public mutating func value(_ bool: Bool) {
        self.separator()
        self.output.append(contentsOf: (bool ? "true" : "false").utf8)
    }

    public mutating func null() {
        self.separator()
        self.output.append(contentsOf: "null".utf8)
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

    public mutating func field(_ key: String, _ value: Bool) {
        self.key(key)
        self.value(value)
    }

    private static let hex: [UInt8] = Array("0123456789abcdef".utf8)

    private mutating func writeEscaped(_ string: String) {
        self.output.append(UInt8(ascii: "\""))
        // Native strings expose their bytes without a copy; others (bridged) are made contiguous first.
        if string.utf8.withContiguousStorageIfAvailable({ self.appendEscaped($0) }) == nil {
            var s = string
            s.withUTF8 { self.appendEscaped($0) }
        }
        self.output.append(UInt8(ascii: "\""))
    }

    private mutating func appendEscaped(_ utf8: UnsafeBufferPointer<UInt8>) {
        // Fast path: most ids and keys need no escaping at all.
        guard utf8.contains(where: { $0 < 0x20 || $0 == 0x22 || $0 == 0x5C }) else {
            self.output.append(contentsOf: utf8)
            return
        }
        var runStart = 0
        for k in 0..<utf8.count {
            let byte = utf8[k]
            guard byte < 0x20 || byte == 0x22 || byte == 0x5C else { continue }
            self.output.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart..<k]))
            runStart = k + 1
            switch byte {
            case 0x22: self.output.append(contentsOf: "\\\"".utf8)
            case 0x5C: self.output.append(contentsOf: "\\\\".utf8)
            case 0x0A: self.output.append(contentsOf: "\\n".utf8)
            case 0x0D: self.output.append(contentsOf: "\\r".utf8)
            case 0x09: self.output.append(contentsOf: "\\t".utf8)
            default:
                self.output.append(contentsOf: "\\u00".utf8)
                self.output.append(Self.hex[Int(byte >> 4)])
                self.output.append(Self.hex[Int(byte & 0xF)])
            }
        }
        self.output.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart...]))
    }
}
