import StarlingCore
import Testing

struct BinaryCodingTests {
    @Test func writesLittleEndianIntegers() {
        var writer = BinaryWriter()
        writer.write(UInt8(0xAB))
        writer.write(UInt32(0x0102_0304))
        writer.write(UInt64(0x0102_0304_0506_0708))
        writer.write(Int64(-2))
        #expect(
            writer.bytes == [0xAB, 4, 3, 2, 1, 8, 7, 6, 5, 4, 3, 2, 1] + [0xFE] + [UInt8](repeating: 0xFF, count: 7)
        )
    }

    @Test(arguments: [
        (UInt64(0), [UInt8(0x00)]),
        (UInt64(1), [UInt8(0x01)]),
        (UInt64(127), [UInt8(0x7F)]),
        (UInt64(128), [UInt8(0x80), 0x01]),
        (UInt64(300), [UInt8(0xAC), 0x02]),
        (UInt64(16_384), [UInt8(0x80), 0x80, 0x01]),
        (UInt64.max, [UInt8](repeating: 0xFF, count: 9) + [0x01]),
    ])
    func varintsUseLEB128(value: UInt64, encoding: [UInt8]) throws {
        var writer = BinaryWriter()
        writer.writeVarint(value)
        #expect(writer.bytes == encoding)
        let decoded = try writer.bytes.withUnsafeBytes { raw throws -> UInt64 in
            var reader = BinaryReader(raw)
            let value = try reader.readVarint()
            #expect(reader.remaining == 0)
            return value
        }
        #expect(decoded == value)
    }

    @Test func roundTripsEveryValueKind() throws {
        var writer = BinaryWriter()
        writer.write(UInt8(7))
        writer.write(UInt32.max)
        writer.write(UInt64(12_345_678_901))
        writer.write(Int64.min)
        writer.write(Double.pi)
        writer.write(Float(-1.5))
        writer.write("héllo")
        writer.write(optional: nil)
        writer.write(optional: "x")
        writer.write(lengthPrefixed: [UInt8]([9, 8, 7]))
        writer.writeVarint(1_000_000)
        let bytes = writer.bytes
        try bytes.withUnsafeBytes { raw throws in
            var reader = BinaryReader(raw)
            #expect(try reader.readUInt8() == 7)
            #expect(try reader.readUInt32() == .max)
            #expect(try reader.readUInt64() == 12_345_678_901)
            #expect(try reader.readInt64() == .min)
            #expect(try reader.readDouble() == .pi)
            #expect(try reader.readFloat() == -1.5)
            #expect(try reader.readString() == "héllo")
            #expect(try reader.readOptionalString() == nil)
            #expect(try reader.readOptionalString() == "x")
            #expect(try reader.readBytes() == [9, 8, 7])
            #expect(try reader.readVarint() == 1_000_000)
            #expect(reader.remaining == 0)
            #expect(reader.position == bytes.count)
            #expect(throws: BinaryFormatError.truncated) { try reader.readUInt8() }
        }
    }

    @Test func readerChecksBoundsOnEveryRead() {
        let bytes: [UInt8] = [1, 2, 3]
        bytes.withUnsafeBytes { raw in
            var reader = BinaryReader(raw)
            #expect(throws: BinaryFormatError.truncated) { try reader.readUInt32() }
            #expect(throws: BinaryFormatError.truncated) { try reader.readUInt64() }
            // A failed read consumes nothing.
            #expect(reader.remaining == 3)
        }
        // A string whose length runs past the end.
        [UInt8]([5, 0x61, 0x62]).withUnsafeBytes { raw in
            var reader = BinaryReader(raw)
            #expect(throws: BinaryFormatError.truncated) { try reader.readString() }
        }
        // A presence byte other than 0 or 1.
        [UInt8]([2]).withUnsafeBytes { raw in
            var reader = BinaryReader(raw)
            #expect(throws: BinaryFormatError.malformed) { try reader.readOptionalString() }
        }
        // A varint longer than 64 bits.
        [UInt8](repeating: 0x80, count: 11).withUnsafeBytes { raw in
            var reader = BinaryReader(raw)
            #expect(throws: BinaryFormatError.malformed) { try reader.readVarint() }
        }
        // A varint cut short.
        [UInt8]([0x80, 0x80]).withUnsafeBytes { raw in
            var reader = BinaryReader(raw)
            #expect(throws: BinaryFormatError.truncated) { try reader.readVarint() }
        }
    }

    @Test func countsIndexesAndTimesAreCheckedBeforeUse() throws {
        // A count of 3 and 6 bytes after it: room for 3 elements of 2 bytes, not of 4.
        let counted: [UInt8] = [3, 0, 0, 0, 0, 0, 0]
        counted.withUnsafeBytes { raw in
            var reader = BinaryReader(raw)
            #expect(throws: BinaryFormatError.truncated) { try reader.readCount(elementSize: 4) }
        }
        try counted.withUnsafeBytes { raw throws in
            var reader = BinaryReader(raw)
            #expect(try reader.readCount(elementSize: 2) == 3)
        }
        // A varint over Int.max, then 5.
        try [UInt8]([0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01, 0x05]).withUnsafeBytes { raw throws in
            var reader = BinaryReader(raw)
            #expect(throws: BinaryFormatError.malformed) { try reader.readVarint(atMost: .max) }
            #expect(try reader.readVarint(atMost: 5) == 5)
        }
        var times = BinaryWriter()
        times.write(EventTime.storableMilliseconds.upperBound)
        times.write(Int64.max)
        try times.bytes.withUnsafeBytes { raw throws in
            var reader = BinaryReader(raw)
            #expect(try reader.readTime() == EventTime(milliseconds: EventTime.storableMilliseconds.upperBound))
            #expect(throws: BinaryFormatError.malformed) { try reader.readTime() }
        }
    }
}
