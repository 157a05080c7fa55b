/// Where a streaming ``BinaryWriter`` hands its bytes, a chunk at a time.
///
/// A sink does not throw: one that fails (a full disk) remembers the failure, ignores what follows, and its owner
/// checks it once the writing is done.
public protocol BinaryWriterSink: AnyObject, Sendable {
    func consume(_ bytes: UnsafeRawBufferPointer)
}

/// Appends little-endian binary values to a growable byte array.
///
/// The building block of every binary format Starling writes: log records, event payloads and checkpoints. A writer
/// made with ``init(streamingTo:chunkSize:)`` keeps at most about one chunk: ``flushIfFull()`` (called by encoders
/// between the elements of large collections) and the array writers hand what was written to its sink, so that
/// encoding a large state (a checkpoint) never holds the whole encoding in memory.
public struct BinaryWriter: Sendable {
    /// The bytes written so far (for a streaming writer: since the last hand-over to its sink).
    public var bytes: [UInt8]
    private let sink: (any BinaryWriterSink)?
    private let chunkSize: Int

    /// Creates a writer, reserving `capacity` bytes.
    public init(capacity: Int = 256) {
        self.bytes = []
        self.bytes.reserveCapacity(capacity)
        self.sink = nil
        self.chunkSize = .max
    }

    /// Creates a writer that hands its bytes to `sink` about every `chunkSize` bytes; ``flush()`` hands over the
    /// rest.
    public init(streamingTo sink: some BinaryWriterSink, chunkSize: Int = 1 << 20) {
        precondition(chunkSize > 0, "chunkSize must be positive")
        self.bytes = []
        self.bytes.reserveCapacity(chunkSize)
        self.sink = sink
        self.chunkSize = chunkSize
    }

    /// Hands the bytes written so far to the sink once they fill a chunk; does nothing without a sink.
    @inline(__always)
    public mutating func flushIfFull() {
        if self.bytes.count >= self.chunkSize { self.flush() }
    }

    /// Hands every byte written so far to the sink; does nothing without a sink.
    public mutating func flush() {
        guard let sink = self.sink, !self.bytes.isEmpty else { return }
        self.bytes.withUnsafeBytes { sink.consume($0) }
        self.bytes.removeAll(keepingCapacity: true)
    }

    /// Appends `raw`; a streaming writer hands a run of at least a chunk straight to its sink, uncopied.
    private mutating func append(run raw: UnsafeRawBufferPointer) {
        if let sink = self.sink, raw.count >= self.chunkSize {
            self.flush()
            sink.consume(raw)
        } else {
            self.bytes.append(contentsOf: raw)
            self.flushIfFull()
        }
    }

    public mutating func write(_ value: UInt8) {
        self.bytes.append(value)
    }

    public mutating func write(_ value: UInt32) {
        withUnsafeBytes(of: value.littleEndian) { self.bytes.append(contentsOf: $0) }
    }

    public mutating func write(_ value: UInt64) {
        withUnsafeBytes(of: value.littleEndian) { self.bytes.append(contentsOf: $0) }
    }

    public mutating func write(_ value: Int64) {
        self.write(UInt64(bitPattern: value))
    }

    public mutating func write(_ value: Double) {
        self.write(value.bitPattern)
    }

    public mutating func write(_ value: Float) {
        self.write(value.bitPattern)
    }

    /// Writes an unsigned LEB128 varint.
    public mutating func writeVarint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            self.bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        self.bytes.append(UInt8(v))
    }

    /// Writes a varint length followed by the UTF-8 bytes.
    public mutating func write(_ string: String) {
        var s = string
        s.withUTF8 { utf8 in
            self.writeVarint(UInt64(utf8.count))
            self.bytes.append(contentsOf: utf8)
        }
    }

    /// Writes a presence byte, then the string if present.
    public mutating func write(optional string: String?) {
        if let string {
            self.write(UInt8(1))
            self.write(string)
        } else {
            self.write(UInt8(0))
        }
    }

    /// Writes a varint count followed by the values' little-endian bytes (one copy).
    public mutating func write(floats: [Float]) {
        self.writeVarint(UInt64(floats.count))
        floats.withUnsafeBytes { self.append(run: $0) }
    }

    /// Writes a varint count followed by the values' little-endian bytes (one copy).
    public mutating func write(doubles: [Double]) {
        self.writeVarint(UInt64(doubles.count))
        doubles.withUnsafeBytes { self.append(run: $0) }
    }

    /// Writes a varint count followed by the values' little-endian bytes (one copy).
    public mutating func write(int32s: [Int32]) {
        self.writeVarint(UInt64(int32s.count))
        int32s.withUnsafeBytes { self.append(run: $0) }
    }

    /// Writes the bytes as they are, without a length: what follows must tell where they end.
    public mutating func write(unprefixed raw: UnsafeRawBufferPointer) {
        self.append(run: raw)
    }

    /// Writes a varint length followed by the raw bytes.
    public mutating func write(lengthPrefixed raw: some Collection<UInt8>) {
        self.writeVarint(UInt64(raw.count))
        self.bytes.append(contentsOf: raw)
    }
}

/// Reads what a ``BinaryWriter`` wrote, checking bounds on every read.
///
/// - Important: The reader does not own its buffer; use it only while the buffer is valid.
public struct BinaryReader {
    private let buffer: UnsafeRawBufferPointer
    /// The read position.
    public private(set) var position: Int

    /// Reads from `buffer`, starting at its first byte.
    public init(_ buffer: UnsafeRawBufferPointer) {
        self.buffer = buffer
        self.position = 0
    }

    /// Bytes left to read.
    public var remaining: Int { self.buffer.count - self.position }

    private mutating func take(_ count: Int) throws(BinaryFormatError) -> UnsafeRawBufferPointer {
        guard count >= 0, self.remaining >= count else { throw BinaryFormatError.truncated }
        let slice = UnsafeRawBufferPointer(rebasing: self.buffer[self.position..<self.position + count])
        self.position += count
        return slice
    }

    public mutating func readUInt8() throws(BinaryFormatError) -> UInt8 {
        try self.take(1)[0]
    }

    public mutating func readUInt32() throws(BinaryFormatError) -> UInt32 {
        UInt32(littleEndian: try self.take(4).loadUnaligned(as: UInt32.self))
    }

    public mutating func readUInt64() throws(BinaryFormatError) -> UInt64 {
        UInt64(littleEndian: try self.take(8).loadUnaligned(as: UInt64.self))
    }

    public mutating func readInt64() throws(BinaryFormatError) -> Int64 {
        Int64(bitPattern: try self.readUInt64())
    }

    public mutating func readDouble() throws(BinaryFormatError) -> Double {
        Double(bitPattern: try self.readUInt64())
    }

    public mutating func readFloat() throws(BinaryFormatError) -> Float {
        Float(bitPattern: try self.readUInt32())
    }

    public mutating func readVarint() throws(BinaryFormatError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let byte = try self.readUInt8()
            result |= UInt64(byte & 0x7F) << shift
            if byte < 0x80 { return result }
            shift += 7
            guard shift < 64 else { throw BinaryFormatError.malformed }
        }
    }

    /// Reads a varint that must be at most `limit` (an index, a size or a setting), as an `Int`.
    ///
    /// - Throws: ``BinaryFormatError/malformed`` for a larger value, which no `Int` conversion then traps on.
    public mutating func readVarint(atMost limit: Int) throws(BinaryFormatError) -> Int {
        let value = try self.readVarint()
        guard value <= UInt64(max(limit, 0)) else { throw BinaryFormatError.malformed }
        return Int(value)
    }

    /// Reads the varint count of a list whose elements take at least `elementSize` bytes each, refusing a count
    /// that the remaining bytes cannot hold, so that a corrupt count never sizes an allocation or a loop.
    public mutating func readCount(elementSize: Int = 1) throws(BinaryFormatError) -> Int {
        let count = try self.readVarint()
        guard count <= UInt64(self.remaining / max(elementSize, 1)) else { throw BinaryFormatError.truncated }
        return Int(count)
    }

    /// Reads a time in milliseconds written as an `Int64`, refusing one outside ``EventTime/storableMilliseconds``.
    public mutating func readTime() throws(BinaryFormatError) -> EventTime {
        let milliseconds = try self.readInt64()
        guard EventTime.storableMilliseconds.contains(milliseconds) else { throw BinaryFormatError.malformed }
        return EventTime(milliseconds: milliseconds)
    }

    public mutating func readString() throws(BinaryFormatError) -> String {
        let length = try self.readVarint()
        guard length <= UInt64(self.remaining) else { throw BinaryFormatError.truncated }
        return String(decoding: try self.take(Int(length)), as: UTF8.self)
    }

    public mutating func readOptionalString() throws(BinaryFormatError) -> String? {
        switch try self.readUInt8() {
        case 0: return nil
        case 1: return try self.readString()
        default: throw BinaryFormatError.malformed
        }
    }

    private mutating func readArray<T>(of type: T.Type) throws(BinaryFormatError) -> [T] {
        let count = try self.readVarint()
        let size = MemoryLayout<T>.stride
        guard count <= UInt64(self.remaining / size) else { throw BinaryFormatError.truncated }
        let raw = try self.take(Int(count) * size)
        return [T](unsafeUninitializedCapacity: Int(count)) { buffer, initialized in
            UnsafeMutableRawBufferPointer(buffer).copyMemory(from: raw)
            initialized = Int(count)
        }
    }

    public mutating func readFloats() throws(BinaryFormatError) -> [Float] {
        try self.readArray(of: Float.self)
    }

    public mutating func readDoubles() throws(BinaryFormatError) -> [Double] {
        try self.readArray(of: Double.self)
    }

    public mutating func readInt32s() throws(BinaryFormatError) -> [Int32] {
        try self.readArray(of: Int32.self)
    }

    public mutating func readBytes() throws(BinaryFormatError) -> [UInt8] {
        let length = try self.readVarint()
        guard length <= UInt64(self.remaining) else { throw BinaryFormatError.truncated }
        return Array(try self.take(Int(length)))
    }

    /// Reads every byte up to the end of the buffer.
    public mutating func readRemainingBytes() -> [UInt8] {
        let rest = UnsafeRawBufferPointer(rebasing: self.buffer[self.position...])
        self.position = self.buffer.count
        return Array(rest)
    }
}

/// Binary data that does not decode.
public enum BinaryFormatError: Error, Sendable {
    /// The data ends before the value does.
    case truncated
    /// A tag or length is out of range.
    case malformed
}
