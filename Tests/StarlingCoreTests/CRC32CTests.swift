import StarlingCore
import Testing

/// Bit-at-a-time CRC-32C, the textbook definition the table-driven implementation must match.
private func referenceCRC32C(_ bytes: [UInt8]) -> UInt32 {
    var crc: UInt32 = 0xFFFF_FFFF
    for byte in bytes {
        crc ^= UInt32(byte)
        for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1 }
    }
    return ~crc
}

/// A deterministic pseudo-random byte sequence (xorshift64).
private func pseudoRandomBytes(_ count: Int, seed: UInt64) -> [UInt8] {
    var state = seed
    return (0..<count).map { _ in
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        return UInt8(truncatingIfNeeded: state)
    }
}

struct CRC32CTests {
    @Test func standardCheckValueOf123456789() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
    }

    @Test func emptyInputChecksumsToZero() {
        #expect(CRC32C.checksum([UInt8]()) == 0)
    }

    /// Test vectors from RFC 3720 (iSCSI), appendix B.4.
    @Test func rfc3720TestVectors() {
        #expect(CRC32C.checksum([UInt8](repeating: 0x00, count: 32)) == 0x8A91_36AA)
        #expect(CRC32C.checksum([UInt8](repeating: 0xFF, count: 32)) == 0x62A8_AB43)
        #expect(CRC32C.checksum((0..<32).map { UInt8($0) }) == 0x46DD_794E)
        #expect(CRC32C.checksum((0..<32).map { UInt8(31 - $0) }) == 0x113F_DB5C)
    }

    @Test func everySingleBitFlipChangesTheChecksum() {
        let original = Array("123456789".utf8)
        let crc = CRC32C.checksum(original)
        for index in original.indices {
            for bit in 0..<8 {
                var flipped = original
                flipped[index] ^= 1 << bit
                #expect(CRC32C.checksum(flipped) != crc, "byte \(index) bit \(bit)")
            }
        }
    }

    @Test(arguments: [0, 1, 7, 8, 9, 15, 16, 17, 63, 64, 65, 1_000, 4_099])
    func matchesBitwiseReferenceForEveryLength(length: Int) {
        let bytes = pseudoRandomBytes(length, seed: 0x9E37_79B9_7F4A_7C15 &+ UInt64(length))
        #expect(CRC32C.checksum(bytes) == referenceCRC32C(bytes))
    }

    @Test func unalignedSlicesMatchReference() {
        let bytes = pseudoRandomBytes(200, seed: 42)
        for start in 0..<9 {
            let slice = bytes[start..<(start + 150)]
            #expect(CRC32C.checksum(slice) == referenceCRC32C(Array(slice)), "slice starting at \(start)")
        }
    }

    @Test func continuingAcrossChunksEqualsOneShot() {
        let bytes = pseudoRandomBytes(1_000, seed: 7)
        let whole = CRC32C.checksum(bytes)
        for split in [0, 1, 5, 8, 13, 500, 999, 1_000] {
            let first = CRC32C.checksum(bytes[0..<split])
            let combined = bytes[split...].withUnsafeBytes { CRC32C.checksum($0, continuing: first) }
            #expect(combined == whole, "split at \(split)")
        }
    }
}
