/// FNV-1a, 64 bit: a hash that is the same in every process and on every machine.
///
/// Swift's `Hasher` is seeded per process, so it must never decide where data lives. Partitioning by user uses
/// this instead, so that a user's events always land in the same partition across restarts and machines.
public enum StableHash {
    /// Hashes the UTF-8 bytes of `string`.
    public static func fnv1a(_ string: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in string.utf8 {
            hash ^= UInt64(byte)
            hash &*= 0x0000_0100_0000_01b3
        }
        return hash
    }

    /// The partition, out of `count`, that `key` belongs to.
    public static func partition(for key: String, count: Int) -> Int {
        precondition(count > 0, "partition count must be positive")
        return Int(fnv1a(key) % UInt64(count))
    }
}
