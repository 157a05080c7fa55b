// The RESP2 codec: pure byte manipulation, no I/O and no NIO, so that it is tested on its own.

/// A streaming decoder of RESP2 values.
///
/// Feed it bytes as they arrive with ``append(_:)``, in pieces of any size, then call ``next()`` until it returns
/// `nil` (a value is not complete yet). Partially received nested arrays are kept between calls, so a large reply
/// arriving in many reads is parsed once, not again for every read.
///
/// ```swift
/// var decoder = RESPDecoder()
/// decoder.append(Array("*2\r\n$3\r\nfoo\r\n:4".utf8))
/// try decoder.next()  // nil: the integer is not terminated yet
/// decoder.append(Array("2\r\n".utf8))
/// try decoder.next()  // .array([.bulkString(Array("foo".utf8)), .integer(42)])
/// ```
///
/// Sizes are bounded by ``Limits``. Malformed input throws ``RedisError/protocolError`` with the byte offset in
/// the stream; after that the decoder keeps throwing the same error (the stream cannot be resynchronised).
public struct RESPDecoder: Sendable {
    /// Bounds on what the decoder accepts, so that a bad peer cannot make it buffer without limit.
    public struct Limits: Hashable, Sendable {
        /// The longest line (simple string, error, integer or length header) in bytes, CRLF excluded. Default 64 KiB.
        public var maximumLineLength: Int
        /// The longest bulk string in bytes. Default 512 MiB, Redis's own `proto-max-bulk-len`.
        public var maximumBulkLength: Int
        /// The most elements in one array. Default 16 Mi.
        public var maximumArrayCount: Int
        /// The deepest nesting of arrays (an array directly holding scalars has depth 1). Default 64.
        public var maximumDepth: Int

        public init(
            maximumLineLength: Int = 64 * 1024,
            maximumBulkLength: Int = 512 * 1024 * 1024,
            maximumArrayCount: Int = 16 * 1024 * 1024,
            maximumDepth: Int = 64
        ) {
            precondition(maximumLineLength > 0 && maximumBulkLength >= 0 && maximumArrayCount >= 0)
            precondition(maximumDepth > 0)
            self.maximumLineLength = maximumLineLength
            self.maximumBulkLength = maximumBulkLength
            self.maximumArrayCount = maximumArrayCount
            self.maximumDepth = maximumDepth
        }
    }

    /// An array whose elements are still arriving.
    private struct OpenArray: Sendable {
        var remaining: Int
        var elements: [RESPValue]
    }

    /// One unit of the stream: a complete scalar value or the header of a non-empty array.
    private enum Token {
        case value(RESPValue)
        case arrayHeader(count: Int)
    }

    /// The limits in force.
    public let limits: Limits
    private var buffer: [UInt8] = []
    /// Where the next unread token starts in `buffer`.
    private var readIndex = 0
    /// How many bytes of the stream were dropped from the front of `buffer` (for error offsets).
    private var discarded = 0
    /// How far past `readIndex` a CRLF was already searched for without success, so that a long line arriving in
    /// small pieces is scanned once.
    private var scannedWithoutLineEnd = 0
    private var openArrays: [OpenArray] = []
    private var failure: RedisError?

    public init(limits: Limits = Limits()) {
        self.limits = limits
    }

    /// Adds received bytes to the end of the stream.
    public mutating func append(_ bytes: some Sequence<UInt8>) {
        self.buffer.append(contentsOf: bytes)
    }

    /// Adds received bytes to the end of the stream.
    public mutating func append(_ bytes: UnsafeRawBufferPointer) {
        self.buffer.append(contentsOf: bytes)
    }

    /// Whether part of a value has been received but not all of it (so a connection closing now cut a reply).
    public var hasPartialValue: Bool {
        self.readIndex < self.buffer.count || !self.openArrays.isEmpty
    }

    /// The number of bytes received and not yet returned as part of a value.
    public var bufferedByteCount: Int { self.buffer.count - self.readIndex }

    /// Returns the next complete value, or `nil` when more bytes are needed.
    ///
    /// - Throws: ``RedisError/protocolError`` on malformed input or input over the ``limits``.
    public mutating func next() throws(RedisError) -> RESPValue? {
        if let failure = self.failure { throw failure }
        do throws(RedisError) {
            let value = try self.decodeNext()
            self.compact()
            return value
        } catch {
            self.failure = error
            throw error
        }
    }

    /// Returns every complete value received so far.
    public mutating func decodeAll() throws(RedisError) -> [RESPValue] {
        var values: [RESPValue] = []
        while let value = try self.next() { values.append(value) }
        return values
    }

    private mutating func decodeNext() throws(RedisError) -> RESPValue? {
        while true {
            guard let (token, end) = try self.parseToken(at: self.readIndex) else { return nil }
            self.readIndex = end
            self.scannedWithoutLineEnd = 0
            var completed: RESPValue
            switch token {
            case .arrayHeader(let count):
                guard self.openArrays.count < self.limits.maximumDepth else {
                    throw self.error("arrays nested deeper than \(self.limits.maximumDepth) levels", at: end)
                }
                // Reserve little up front: the count is the peer's claim, not yet backed by bytes.
                var elements: [RESPValue] = []
                elements.reserveCapacity(min(count, 1024))
                self.openArrays.append(OpenArray(remaining: count, elements: elements))
                continue
            case .value(let value):
                completed = value
            }
            // Fold the completed value into the open arrays, closing every array it completes.
            while !self.openArrays.isEmpty {
                let last = self.openArrays.count - 1
                self.openArrays[last].elements.append(completed)
                self.openArrays[last].remaining -= 1
                guard self.openArrays[last].remaining == 0 else { break }
                completed = .array(self.openArrays.removeLast().elements)
            }
            if self.openArrays.isEmpty { return completed }
        }
    }

    /// Parses the token starting at `start`; `nil` when it is not complete yet.
    private mutating func parseToken(at start: Int) throws(RedisError) -> (Token, end: Int)? {
        guard start < self.buffer.count else { return nil }
        let marker = self.buffer[start]
        switch marker {
        case UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: ":"), UInt8(ascii: "$"), UInt8(ascii: "*"):
            break
        default:
            // Checked before waiting for the line, so that a peer that is not Redis is caught at once.
            let resp3: [UInt8] = Array("_,#!=(%~>|".utf8)
            let kind = resp3.contains(marker) ? " (a RESP3 type, which this RESP2 client does not speak)" : ""
            throw self.error(
                "unexpected byte \(Self.show(marker)) where a type marker (+ - : $ *) was expected\(kind)",
                at: start
            )
        }
        guard let lineEnd = try self.findLineEnd(from: start + 1) else { return nil }
        let lineStart = start + 1
        let afterLine = lineEnd + 2
        switch marker {
        case UInt8(ascii: "+"):
            return (.value(.simpleString(self.text(lineStart..<lineEnd))), afterLine)
        case UInt8(ascii: "-"):
            return (.value(.error(self.text(lineStart..<lineEnd))), afterLine)
        case UInt8(ascii: ":"):
            return (.value(.integer(try self.integer(lineStart..<lineEnd, what: "integer"))), afterLine)
        case UInt8(ascii: "$"):
            let length = try self.integer(lineStart..<lineEnd, what: "bulk string length")
            if length == -1 { return (.value(.bulkString(nil)), afterLine) }
            guard length >= 0 else {
                throw self.error("negative bulk string length \(length) (only -1, for null, is allowed)", at: start)
            }
            guard length <= self.limits.maximumBulkLength else {
                throw self.error(
                    "bulk string of \(length) bytes is over the limit of \(self.limits.maximumBulkLength)",
                    at: start
                )
            }
            let payloadEnd = afterLine + Int(length)
            guard payloadEnd + 2 <= self.buffer.count else { return nil }
            guard self.buffer[payloadEnd] == UInt8(ascii: "\r"), self.buffer[payloadEnd + 1] == UInt8(ascii: "\n")
            else {
                throw self.error("bulk string of \(length) bytes is not followed by CRLF", at: payloadEnd)
            }
            return (.value(.bulkString(Array(self.buffer[afterLine..<payloadEnd]))), payloadEnd + 2)
        case UInt8(ascii: "*"):
            let count = try self.integer(lineStart..<lineEnd, what: "array length")
            if count == -1 { return (.value(.array(nil)), afterLine) }
            if count == 0 { return (.value(.array([])), afterLine) }
            guard count > 0 else {
                throw self.error("negative array length \(count) (only -1, for null, is allowed)", at: start)
            }
            guard count <= self.limits.maximumArrayCount else {
                throw self.error(
                    "array of \(count) elements is over the limit of \(self.limits.maximumArrayCount)",
                    at: start
                )
            }
            return (.arrayHeader(count: Int(count)), afterLine)
        default:
            preconditionFailure("unreachable: the marker was checked above")
        }
    }

    /// The index of the CR of the CRLF ending the line that starts at `from`; `nil` if it has not arrived.
    private mutating func findLineEnd(from: Int) throws(RedisError) -> Int? {
        var index = max(from, self.readIndex + self.scannedWithoutLineEnd)
        let limit = min(self.buffer.count, from + self.limits.maximumLineLength + 1)
        while index < limit {
            switch self.buffer[index] {
            case UInt8(ascii: "\r"):
                guard index + 1 < self.buffer.count else {
                    self.scannedWithoutLineEnd = index - self.readIndex
                    return nil
                }
                guard self.buffer[index + 1] == UInt8(ascii: "\n") else {
                    throw self.error("CR not followed by LF", at: index)
                }
                return index
            case UInt8(ascii: "\n"):
                throw self.error("LF without CR before it", at: index)
            default:
                index += 1
            }
        }
        if index - from > self.limits.maximumLineLength {
            throw self.error("line longer than \(self.limits.maximumLineLength) bytes without CRLF", at: from - 1)
        }
        self.scannedWithoutLineEnd = index - self.readIndex
        return nil
    }

    private func text(_ range: Range<Int>) -> String {
        String(decoding: self.buffer[range], as: UTF8.self)
    }

    private func integer(_ range: Range<Int>, what: String) throws(RedisError) -> Int64 {
        var index = range.lowerBound
        let negative = index < range.upperBound && self.buffer[index] == UInt8(ascii: "-")
        if negative { index += 1 }
        guard index < range.upperBound else {
            throw self.error("empty \(what)", at: range.lowerBound)
        }
        var value: Int64 = 0
        while index < range.upperBound {
            let byte = self.buffer[index]
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else {
                throw self.error("\(what) '\(self.text(range))' is not a decimal integer", at: range.lowerBound)
            }
            let digit = Int64(byte - UInt8(ascii: "0"))
            let (shifted, overflow1) = value.multipliedReportingOverflow(by: 10)
            // Accumulate negatively so that Int64.min parses.
            let (next, overflow2) = shifted.subtractingReportingOverflow(digit)
            guard !overflow1, !overflow2 else {
                throw self.error("\(what) '\(self.text(range))' does not fit in 64 bits", at: range.lowerBound)
            }
            value = next
            index += 1
        }
        if negative { return value }
        guard value != .min else {
            throw self.error("\(what) '\(self.text(range))' does not fit in 64 bits", at: range.lowerBound)
        }
        return -value
    }

    private func error(_ message: String, at index: Int) -> RedisError {
        .protocolError("invalid RESP2 reply at byte \(self.discarded + index): \(message)")
    }

    private static func show(_ byte: UInt8) -> String {
        let hex = String(byte, radix: 16, uppercase: true)
        let code = "0x" + (hex.count == 1 ? "0" + hex : hex)
        guard byte >= 0x20, byte < 0x7F else { return code }
        return "'\(Character(Unicode.Scalar(byte)))' (\(code))"
    }

    /// Drops consumed bytes from the front of the buffer once they are most of it.
    private mutating func compact() {
        if self.readIndex == self.buffer.count {
            self.discarded += self.readIndex
            self.buffer.removeAll(keepingCapacity: self.buffer.capacity <= 1 << 20)
            self.readIndex = 0
        } else if self.readIndex >= 4096, self.readIndex * 2 >= self.buffer.count {
            self.discarded += self.readIndex
            self.buffer.removeSubrange(0..<self.readIndex)
            self.readIndex = 0
        }
    }
}

/// Encodes RESP2: commands as arrays of bulk strings, and any ``RESPValue``.
public enum RESPEncoder: Sendable {
    /// Appends a command (an array of bulk strings) to `buffer`.
    ///
    /// ```swift
    /// var bytes: [UInt8] = []
    /// RESPEncoder.encodeCommand(["SET", "key", "value"], into: &bytes)
    /// // "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n"
    /// ```
    public static func encodeCommand(_ arguments: [String], into buffer: inout [UInt8]) {
        buffer.append(UInt8(ascii: "*"))
        self.appendDecimal(Int64(arguments.count), to: &buffer)
        for argument in arguments {
            var argument = argument
            argument.withUTF8 { self.appendBulk($0, to: &buffer) }
        }
    }

    /// Appends a command of binary arguments (an array of bulk strings) to `buffer`.
    public static func encodeCommand(_ arguments: [[UInt8]], into buffer: inout [UInt8]) {
        buffer.append(UInt8(ascii: "*"))
        self.appendDecimal(Int64(arguments.count), to: &buffer)
        for argument in arguments {
            argument.withUnsafeBufferPointer { self.appendBulk($0, to: &buffer) }
        }
    }

    /// Appends any value in its RESP2 form (simple strings and errors must not contain CR or LF).
    public static func encode(_ value: RESPValue, into buffer: inout [UInt8]) {
        switch value {
        case .simpleString(let string):
            buffer.append(UInt8(ascii: "+"))
            buffer.append(contentsOf: string.utf8)
            buffer.append(contentsOf: [UInt8(ascii: "\r"), UInt8(ascii: "\n")])
        case .error(let message):
            buffer.append(UInt8(ascii: "-"))
            buffer.append(contentsOf: message.utf8)
            buffer.append(contentsOf: [UInt8(ascii: "\r"), UInt8(ascii: "\n")])
        case .integer(let integer):
            buffer.append(UInt8(ascii: ":"))
            self.appendDecimal(integer, to: &buffer)
        case .bulkString(nil):
            buffer.append(contentsOf: Array("$-1\r\n".utf8))
        case .bulkString(let bytes?):
            bytes.withUnsafeBufferPointer { self.appendBulk($0, to: &buffer) }
        case .array(nil):
            buffer.append(contentsOf: Array("*-1\r\n".utf8))
        case .array(let elements?):
            buffer.append(UInt8(ascii: "*"))
            self.appendDecimal(Int64(elements.count), to: &buffer)
            for element in elements { self.encode(element, into: &buffer) }
        }
    }

    /// The RESP2 form of a command.
    public static func command(_ arguments: [String]) -> [UInt8] {
        var buffer: [UInt8] = []
        self.encodeCommand(arguments, into: &buffer)
        return buffer
    }

    private static func appendBulk(_ bytes: UnsafeBufferPointer<UInt8>, to buffer: inout [UInt8]) {
        buffer.append(UInt8(ascii: "$"))
        self.appendDecimal(Int64(bytes.count), to: &buffer)
        buffer.append(contentsOf: bytes)
        buffer.append(contentsOf: [UInt8(ascii: "\r"), UInt8(ascii: "\n")])
    }

    /// Appends `value` in decimal, then CRLF.
    private static func appendDecimal(_ value: Int64, to buffer: inout [UInt8]) {
        if value < 0 { buffer.append(UInt8(ascii: "-")) }
        let first = buffer.count
        var magnitude = value.magnitude
        repeat {
            buffer.append(UInt8(ascii: "0") + UInt8(magnitude % 10))
            magnitude /= 10
        } while magnitude > 0
        buffer[first...].reverse()
        buffer.append(contentsOf: [UInt8(ascii: "\r"), UInt8(ascii: "\n")])
    }
}
