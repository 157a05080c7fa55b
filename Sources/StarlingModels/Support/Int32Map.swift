/// A small open-addressing hash map from non-negative `Int32` keys to `Int32` values.
///
/// Swift's `Dictionary` hashes every key with a seeded SipHash, which dominated the co-occurrence update path; a
/// Fibonacci (multiplicative) hash with linear probing does the same job in a few instructions. No removal: the
/// owner rebuilds the map when it prunes.
public struct Int32Map: Sendable {
    private var keys: [Int32]
    private var values: [Int32]
    private var shift: UInt32
    public private(set) var count = 0

    public init(minimumCapacity: Int = 8) {
        var capacity = 8
        while capacity < minimumCapacity * 2 { capacity *= 2 }
        self.keys = [Int32](repeating: -1, count: capacity)
        self.values = [Int32](repeating: 0, count: capacity)
        self.shift = UInt32(32 - capacity.trailingZeroBitCount)
    }

    @inline(__always)
    private func slot(for key: Int32) -> Int {
        Int((UInt32(bitPattern: key) &* 0x9E37_79B1) >> self.shift)
    }

    public subscript(key: Int32) -> Int32? {
        var k = self.slot(for: key)
        let mask = self.keys.count - 1
        while true {
            let stored = self.keys[k]
            if stored == key { return self.values[k] }
            if stored < 0 { return nil }
            k = (k + 1) & mask
        }
    }

    /// Inserts or replaces the value of `key` (≥ 0).
    public mutating func set(_ key: Int32, _ value: Int32) {
        precondition(key >= 0, "Int32Map keys must not be negative")
        if (self.count + 1) * 2 > self.keys.count { self.grow() }
        var k = self.slot(for: key)
        let mask = self.keys.count - 1
        while true {
            let stored = self.keys[k]
            if stored == key {
                self.values[k] = value
                return
            }
            if stored < 0 {
                self.keys[k] = key
                self.values[k] = value
                self.count += 1
                return
            }
            k = (k + 1) & mask
        }
    }

    private mutating func grow() {
        let oldKeys = self.keys
        let oldValues = self.values
        self = Int32Map(minimumCapacity: oldKeys.count)
        for (k, key) in oldKeys.enumerated() where key >= 0 { self.set(key, oldValues[k]) }
    }
}
