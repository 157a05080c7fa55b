import StarlingCore
import Testing

struct StableHashTests {
    /// Published FNV-1a 64-bit test vectors.
    @Test(arguments: [
        ("", UInt64(0xcbf2_9ce4_8422_2325)),
        ("a", UInt64(0xaf63_dc4c_8601_ec8c)),
        ("foobar", UInt64(0x8594_4171_f739_67e8)),
    ])
    func fnv1aMatchesPublishedVectors(input: String, expected: UInt64) {
        #expect(StableHash.fnv1a(input) == expected)
    }

    @Test func hashesUTF8BytesNotCharacters() {
        // "é" precomposed (U+00E9) and decomposed (e + U+0301) are equal Swift strings but different bytes.
        #expect("\u{E9}" == "e\u{301}")
        #expect(StableHash.fnv1a("\u{E9}") != StableHash.fnv1a("e\u{301}"))
    }

    @Test(arguments: [1, 2, 3, 7, 8, 64, 1_000])
    func partitionStaysInRangeAndIsTheHashModuloCount(count: Int) {
        for i in 0..<2_000 {
            let key = "user-\(i)"
            let partition = StableHash.partition(for: key, count: count)
            #expect((0..<count).contains(partition))
            #expect(UInt64(partition) == StableHash.fnv1a(key) % UInt64(count))
        }
    }

    @Test func partitionOfAKeyIsStable() {
        // The value is fixed by the algorithm, so it must be the same in every process and on every machine.
        #expect(StableHash.partition(for: "a", count: 16) == Int(UInt64(0xaf63_dc4c_8601_ec8c) % 16))
        #expect(StableHash.partition(for: "user-42", count: 8) == StableHash.partition(for: "user-42", count: 8))
    }

    @Test func spreadsKeysEvenlyAcrossPartitions() {
        var counts = [Int](repeating: 0, count: 8)
        for i in 0..<10_000 { counts[StableHash.partition(for: "user-\(i)", count: 8)] += 1 }
        // 1,250 expected per partition; FNV-1a gives 1,248-1,253 for these keys.
        #expect(counts.allSatisfy { (1_150...1_350).contains($0) }, "\(counts)")
    }
}
