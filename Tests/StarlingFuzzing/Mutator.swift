import StarlingModels

/// Derives hostile inputs from valid ones, repeatably: the same seed gives the same mutations.
///
/// Each mutant applies one to four of: bit flips, byte overwrites with boundary values, truncation, inserted and
/// deleted runs, a duplicated run, length-field inflation (a varint, a 32-bit or 64-bit little-endian integer or
/// a run of ASCII digits replaced by a huge or negative value) and a splice with another sample of the corpus.
package struct Mutator {
    private var random: SplitMix64

    package init(seed: UInt64) {
        self.random = SplitMix64(seed: seed)
    }

    private mutating func next() -> UInt64 {
        self.random.next()
    }

    /// A number in `0..<bound` (`bound` > 0).
    private mutating func below(_ bound: Int) -> Int {
        Int(self.next() % UInt64(bound))
    }

    /// A mutant of `input`; `others` are candidates for a splice.
    package mutating func mutate(_ input: [UInt8], others: [[UInt8]]) -> [UInt8] {
        var bytes = input
        for _ in 0...self.below(4) {
            self.mutateOnce(&bytes, others: others)
        }
        return bytes
    }

    private static let boundaryBytes: [UInt8] = [0x00, 0x01, 0x7F, 0x80, 0xFE, 0xFF, 0x22, 0x5C, 0x0A, 0x0D, 0x2D]
    private static let hugeNumbers = ["99999999999999999999", "9223372036854775807", "-1", "-9223372036854775808", "4294967296", "1e400"]

    private mutating func mutateOnce(_ bytes: inout [UInt8], others: [[UInt8]]) {
        guard !bytes.isEmpty else {
            bytes = (0..<self.below(16)).map { _ in UInt8(truncatingIfNeeded: self.next()) }
            return
        }
        let at = self.below(bytes.count)
        switch self.below(11) {
        case 0:
            bytes[at] ^= 1 << UInt8(self.below(8))
        case 1:
            bytes[at] = Self.boundaryBytes[self.below(Self.boundaryBytes.count)]
        case 2:
            bytes.removeSubrange(self.below(bytes.count + 1)...)
        case 3:
            let count = 1 + self.below(8)
            bytes.insert(contentsOf: (0..<count).map { _ in UInt8(truncatingIfNeeded: self.next()) }, at: at)
        case 4:
            bytes.removeSubrange(at..<min(bytes.count, at + 1 + self.below(16)))
        case 5:
            let run = Array(bytes[at..<min(bytes.count, at + 1 + self.below(32))])
            bytes.insert(contentsOf: run, at: self.below(bytes.count + 1))
        case 6:
            // A varint claiming an enormous length or count.
            let varint: [UInt8] = [[0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01], [0xFF, 0xFF, 0xFF, 0xFF, 0x0F], [0x80, 0x80, 0x80, 0x80, 0x01]][self.below(3)]
            bytes.replaceSubrange(at..<min(bytes.count, at + 1 + self.below(3)), with: varint)
        case 7:
            let value: UInt32 = [UInt32.max, 0x8000_0000, 0x0100_0000, 0x7FFF_FFFF][self.below(4)]
            withUnsafeBytes(of: value.littleEndian) { bytes.replaceSubrange(at..<min(bytes.count, at + 4), with: $0) }
        case 8:
            let value: UInt64 = [UInt64.max, 1 << 63, 1 << 62, UInt64(Int64.max)][self.below(4)]
            withUnsafeBytes(of: value.littleEndian) { bytes.replaceSubrange(at..<min(bytes.count, at + 8), with: $0) }
        case 9:
            // A decimal number (a RESP length, a JSON number or timestamp) replaced by a huge or negative one.
            let isDigit = { (byte: UInt8) in byte >= 0x30 && byte <= 0x39 }
            guard let start = bytes[at...].firstIndex(where: isDigit) ?? bytes.firstIndex(where: isDigit) else {
                bytes[at] ^= 0xFF
                return
            }
            let end = bytes[start...].firstIndex(where: { !isDigit($0) }) ?? bytes.count
            bytes.replaceSubrange(start..<end, with: Array(Self.hugeNumbers[self.below(Self.hugeNumbers.count)].utf8))
        default:
            guard let other = others.isEmpty ? nil : others[self.below(others.count)], !other.isEmpty else {
                bytes.swapAt(at, self.below(bytes.count))
                return
            }
            let from = self.below(other.count)
            let piece = other[from..<min(other.count, from + 1 + self.below(64))]
            bytes.replaceSubrange(at..<min(bytes.count, at + piece.count), with: piece)
        }
    }
}
