import StarlingRedis
import Testing

private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }
private func bulk(_ text: String) -> RESPValue { .bulkString(Array(text.utf8)) }

/// Decodes `input` fed in the given pieces; fails the test on an error.
private func decode(_ pieces: [[UInt8]], limits: RESPDecoder.Limits = .init()) throws -> [RESPValue] {
    var decoder = RESPDecoder(limits: limits)
    var values: [RESPValue] = []
    for piece in pieces {
        decoder.append(piece)
        values += try decoder.decodeAll()
    }
    #expect(!decoder.hasPartialValue)
    return values
}

/// The error decoding `input` throws.
private func decodingError(_ input: String, limits: RESPDecoder.Limits = .init()) -> RedisError? {
    var decoder = RESPDecoder(limits: limits)
    decoder.append(bytes(input))
    do {
        _ = try decoder.decodeAll()
        return nil
    } catch {
        return error
    }
}

struct RESPCodecTests {
    static let scalars: [(String, RESPValue)] = [
        ("+OK\r\n", .simpleString("OK")),
        ("+\r\n", .simpleString("")),
        ("-ERR unknown command 'FOO'\r\n", .error("ERR unknown command 'FOO'")),
        (":0\r\n", .integer(0)),
        (":-42\r\n", .integer(-42)),
        (":9223372036854775807\r\n", .integer(.max)),
        (":-9223372036854775808\r\n", .integer(.min)),
        ("$5\r\nhello\r\n", bulk("hello")),
        ("$0\r\n\r\n", .bulkString([])),
        ("$-1\r\n", .bulkString(nil)),
        ("$4\r\na\r\nb\r\n", bulk("a\r\nb")),
        ("*-1\r\n", .array(nil)),
        ("*0\r\n", .array([])),
        ("*2\r\n$3\r\nfoo\r\n:7\r\n", .array([bulk("foo"), .integer(7)])),
    ]

    @Test(arguments: RESPCodecTests.scalars)
    func decodesEachType(input: String, expected: RESPValue) throws {
        #expect(try decode([bytes(input)]) == [expected])
    }

    /// A stream exercising every type, nesting, nulls, binary payloads and several values in a row.
    static let stream: [RESPValue] = [
        .simpleString("OK"),
        .error("WRONGTYPE Operation against a key holding the wrong kind of value"),
        .integer(-1),
        .bulkString(Array(0...255)),
        .bulkString(nil),
        .array(nil),
        .array([]),
        .array([
            .integer(1),
            .array([bulk("nested"), .array([.bulkString(nil), .array([]), .simpleString("deep")])]),
            .array(nil),
            .error("ERR inside"),
        ]),
        .bulkString([]),
        .array([.array([.array([.integer(3)])])]),
        .simpleString("last"),
    ]

    static var streamBytes: [UInt8] {
        var buffer: [UInt8] = []
        for value in stream { RESPEncoder.encode(value, into: &buffer) }
        return buffer
    }

    @Test func decodesAStreamSplitAtEveryByte() throws {
        let input = Self.streamBytes
        for split in 0...input.count {
            let values = try decode([Array(input[..<split]), Array(input[split...])])
            #expect(values == Self.stream, "split at byte \(split)")
        }
    }

    @Test func decodesAStreamSplitInThreeAtManyPoints() throws {
        let input = Self.streamBytes
        for first in stride(from: 0, through: input.count, by: 7) {
            for second in stride(from: first, through: input.count, by: 13) {
                let pieces = [Array(input[..<first]), Array(input[first..<second]), Array(input[second...])]
                #expect(try decode(pieces) == Self.stream, "split at \(first) and \(second)")
            }
        }
    }

    @Test func decodesAStreamFedOneByteAtATime() throws {
        let input = Self.streamBytes
        var decoder = RESPDecoder()
        var values: [RESPValue] = []
        for byte in input {
            decoder.append([byte])
            values += try decoder.decodeAll()
        }
        #expect(values == Self.stream)
        #expect(!decoder.hasPartialValue)
        #expect(decoder.bufferedByteCount == 0)
    }

    @Test func returnsNilAndKeepsPartialValuesUntilComplete() throws {
        var decoder = RESPDecoder()
        decoder.append(bytes("*2\r\n$3\r\nfoo\r\n:4"))
        #expect(try decoder.next() == nil)
        #expect(decoder.hasPartialValue)
        decoder.append(bytes("2\r\n+extra"))
        #expect(try decoder.next() == .array([bulk("foo"), .integer(42)]))
        #expect(try decoder.next() == nil)
        decoder.append(bytes("\r\n"))
        #expect(try decoder.next() == .simpleString("extra"))
        #expect(!decoder.hasPartialValue)
    }

    @Test func decodesALargeArrayArrivingInSmallPieces() throws {
        let elements = (0..<20_000).map { RESPValue.bulkString(bytes("value-\($0)")) }
        var input: [UInt8] = []
        RESPEncoder.encode(.array(elements), into: &input)
        var pieces: [[UInt8]] = []
        var start = 0
        while start < input.count {
            let end = min(start + 1000, input.count)
            pieces.append(Array(input[start..<end]))
            start = end
        }
        #expect(try decode(pieces) == [.array(elements)])
    }

    @Test func decodesALargeBulkStringArrivingInPieces() throws {
        let payload = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        var input: [UInt8] = []
        RESPEncoder.encode(.bulkString(payload), into: &input)
        let pieces = stride(from: 0, to: input.count, by: 65_536).map {
            Array(input[$0..<min($0 + 65_536, input.count)])
        }
        #expect(try decode(pieces) == [.bulkString(payload)])
    }

    @Test(arguments: RESPCodecTests.stream)
    func encodesEveryValueSoThatItDecodesBack(value: RESPValue) throws {
        var buffer: [UInt8] = []
        RESPEncoder.encode(value, into: &buffer)
        #expect(try decode([buffer]) == [value])
    }

    @Test func encodesCommandsAsArraysOfBulkStrings() {
        #expect(
            RESPEncoder.command(["SET", "key", "value"]) == bytes("*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n")
        )
        #expect(RESPEncoder.command(["PING"]) == bytes("*1\r\n$4\r\nPING\r\n"))
        #expect(RESPEncoder.command(["ECHO", ""]) == bytes("*2\r\n$4\r\nECHO\r\n$0\r\n\r\n"))
        #expect(RESPEncoder.command(["ECHO", "é"]) == bytes("*2\r\n$4\r\nECHO\r\n$2\r\né\r\n"))

        var binary: [UInt8] = []
        RESPEncoder.encodeCommand([bytes("SET"), [0, 13, 10, 255]], into: &binary)
        #expect(binary == bytes("*2\r\n$3\r\nSET\r\n$4\r\n") + [0, 13, 10, 255] + bytes("\r\n"))
    }

    @Test func encodesIntegersOfEverySize() throws {
        for value: Int64 in [0, 7, -7, 10, 99, 100, -100, 1_234_567_890, .max, .min] {
            var buffer: [UInt8] = []
            RESPEncoder.encode(.integer(value), into: &buffer)
            #expect(buffer == bytes(":\(value)\r\n"))
        }
    }

    static let malformed: [(input: String, message: String)] = [
        ("?\r\n", "unexpected byte '?' (0x3F) where a type marker (+ - : $ *) was expected"),
        ("%1\r\n", "a RESP3 type, which this RESP2 client does not speak"),
        ("_\r\n", "a RESP3 type"),
        (":12a\r\n", "integer '12a' is not a decimal integer"),
        (":\r\n", "empty integer"),
        (":-\r\n", "empty integer"),
        (":9223372036854775808\r\n", "does not fit in 64 bits"),
        (":99999999999999999999\r\n", "does not fit in 64 bits"),
        ("$-2\r\n", "negative bulk string length -2"),
        ("$x\r\n", "bulk string length 'x' is not a decimal integer"),
        ("$3\r\nabcd\r\n", "bulk string of 3 bytes is not followed by CRLF"),
        ("*-5\r\n", "negative array length -5"),
        ("*1x\r\n", "array length '1x' is not a decimal integer"),
        ("+OK\rX", "CR not followed by LF"),
        ("+OK\n", "LF without CR before it"),
        ("\r\n", "unexpected byte 0x0D"),
    ]

    @Test(arguments: RESPCodecTests.malformed)
    func rejectsMalformedInputWithAClearError(input: String, message: String) {
        let error = decodingError(input)
        #expect(error == .protocolError)
        #expect(error?.message.contains(message) == true, "\(String(describing: error))")
        #expect(error?.message.contains("at byte") == true)
    }

    @Test func errorNamesTheOffsetInTheWholeStream() {
        var decoder = RESPDecoder()
        decoder.append(bytes("+OK\r\n:1\r\n"))
        #expect(throws: Never.self) { try decoder.decodeAll() }
        decoder.append(bytes("!oops\r\n"))
        let error = #expect(throws: RedisError.self) { try decoder.next() }
        #expect(error?.message.contains("at byte 9: unexpected byte '!'") == true, "\(String(describing: error))")
    }

    @Test func keepsFailingAfterAnError() {
        var decoder = RESPDecoder()
        decoder.append(bytes("?\r\n"))
        #expect(throws: RedisError.protocolError) { try decoder.next() }
        decoder.append(bytes("+OK\r\n"))
        #expect(throws: RedisError.protocolError) { try decoder.next() }
    }

    @Test func enforcesTheLimits() {
        let limits = RESPDecoder.Limits(
            maximumLineLength: 8,
            maximumBulkLength: 4,
            maximumArrayCount: 2,
            maximumDepth: 2
        )
        #expect(decodingError("+12345678\r\n", limits: limits) == nil)
        #expect(decodingError("+123456789\r\n", limits: limits)?.message.contains("line longer than 8 bytes") == true)
        // Also when the CRLF has not arrived yet: the decoder must not buffer a line without limit.
        #expect(decodingError("+123456789", limits: limits)?.message.contains("line longer than 8 bytes") == true)
        #expect(decodingError("$4\r\nabcd\r\n", limits: limits) == nil)
        #expect(
            decodingError("$5\r\n", limits: limits)?.message.contains("bulk string of 5 bytes is over the limit of 4")
                == true
        )
        #expect(decodingError("*2\r\n:1\r\n:2\r\n", limits: limits) == nil)
        #expect(
            decodingError("*3\r\n", limits: limits)?.message.contains("array of 3 elements is over the limit of 2")
                == true
        )
        #expect(decodingError("*1\r\n*1\r\n:1\r\n", limits: limits) == nil)
        #expect(
            decodingError("*1\r\n*1\r\n*1\r\n", limits: limits)?.message.contains("nested deeper than 2 levels") == true
        )
    }

    @Test func aHugeArrayCountDoesNotAllocateUpFront() throws {
        var decoder = RESPDecoder()
        decoder.append(bytes("*16000000\r\n:1\r\n"))
        #expect(try decoder.next() == nil)
        #expect(decoder.hasPartialValue)
    }

    @Test func valueAccessors() {
        #expect(bulk("12").integer == 12)
        #expect(RESPValue.integer(5).integer == 5)
        #expect(RESPValue.simpleString("OK").string == "OK")
        #expect(bulk("x").bytes == [UInt8(ascii: "x")])
        #expect(RESPValue.bulkString(nil).isNull)
        #expect(RESPValue.array(nil).isNull)
        #expect(!RESPValue.array([]).isNull)
        #expect(RESPValue.array([.integer(1)]).array == [.integer(1)])
        #expect(RESPValue.error("ERR x").errorMessage == "ERR x")
        #expect(
            RESPValue.array([bulk("a"), .bulkString(nil), .integer(2)]).description == "[\"a\", (nil), (integer) 2]"
        )
    }
}
