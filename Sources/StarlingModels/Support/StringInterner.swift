/// Dense `Int32` ids for strings (user ids, item ids), assigned in first-seen order and never reused.
///
/// The learning path looks up a user and an item per event, so this lookup is on every event's path. Swift's
/// `Dictionary<String, Int32>` spends most of that time creating a seeded SipHash state and keeps a 16-byte `String`
/// per key; here every key lives in one arena as a record (its id, its length as a varint, its UTF-8 bytes), the table
/// holds each record's offset and 32 bits of its hash, and the hash is a wyhash-style multiply-mix over 8-byte words
/// (seeded per process, so that clients cannot choose colliding keys ahead of time). A lookup of a present key
/// touches one table slot and one record: two cache misses at most, where a large table is out of cache anyway.
///
/// No removal: ids index the owner's per-key arrays for the life of the process.
public struct StringInterner: Sendable {
    /// Every key's record, in id order: the id (4 bytes, little-endian), the length (varint), the UTF-8 bytes.
    private var records: [UInt8] = []
    /// Where each id's record starts in ``records``.
    private var offsets: [UInt32] = []
    /// Open addressing with linear probing: per slot, a record's offset and 32 bits of its key's hash.
    private var slots: [Slot]
    private var mask: Int
    private let seed: UInt64

    private struct Slot: Sendable {
        var offset: UInt32
        var tag: UInt32
        static let empty = Slot(offset: .max, tag: 0)
        var isEmpty: Bool { self.offset == .max }
    }

    /// - Parameter seed: The hash seed; random by default. Layout only: ids do not depend on it.
    public init(seed: UInt64 = UInt64.random(in: .min ... .max), minimumCapacity: Int = 16) {
        var capacity = 16
        while capacity * 3 < minimumCapacity * 4 { capacity *= 2 }
        self.slots = [Slot](repeating: .empty, count: capacity)
        self.mask = capacity - 1
        self.seed = seed
    }

    /// The number of keys.
    public var count: Int { self.offsets.count }

    /// The id of `key`, if it has one.
    public func id(of key: String) -> Int32? {
        Self.withUTF8(key) { key in
            let hash = Self.hash(key, seed: self.seed)
            return self.find(key, hash: hash).id
        }
    }

    /// The id of `key`, assigning the next one if it has none.
    public mutating func intern(_ key: String) -> (id: Int32, inserted: Bool) {
        Self.withUTF8(key) { key in
            let hash = Self.hash(key, seed: self.seed)
            let found = self.find(key, hash: hash)
            if let id = found.id { return (id, false) }
            precondition(self.count < Int(Int32.max), "too many keys")
            let id = Int32(self.count)
            let offset = self.records.count
            withUnsafeBytes(of: UInt32(id).littleEndian) { self.records.append(contentsOf: $0) }
            var length = UInt(key.count)
            while length >= 0x80 {
                self.records.append(UInt8(truncatingIfNeeded: length) | 0x80)
                length >>= 7
            }
            self.records.append(UInt8(length))
            self.records.append(contentsOf: key)
            precondition(self.records.count < Int(UInt32.max), "key arena full")
            self.offsets.append(UInt32(offset))
            self.slots[found.slot] = Slot(offset: UInt32(offset), tag: UInt32(truncatingIfNeeded: hash >> 32))
            if self.count * 4 > self.slots.count * 3 { self.grow() }
            return (id, true)
        }
    }

    /// The key of `id` (which must have been returned by ``intern(_:)``).
    public func key(_ id: Int32) -> String {
        self.records.withUnsafeBytes { records in
            let (start, length) = Self.key(at: Int(self.offsets[Int(id)]), in: records)
            return String(decoding: UnsafeRawBufferPointer(rebasing: records[start..<(start + length)]), as: UTF8.self)
        }
    }

    /// Where the key of the record at `offset` starts, and its length.
    @inline(__always)
    private static func key(at offset: Int, in records: UnsafeRawBufferPointer) -> (start: Int, length: Int) {
        var position = offset + 4
        var length = 0
        var shift = 0
        while true {
            let byte = records[position]
            position += 1
            length |= Int(byte & 0x7F) << shift
            if byte < 0x80 { return (position, length) }
            shift += 7
        }
    }

    /// Every key, in id order.
    public var keys: [String] {
        (0..<Int32(self.count)).map(self.key)
    }

    /// Bytes held, for memory accounting.
    public var memoryBytes: Int {
        self.records.capacity + self.offsets.capacity * 4 + self.slots.count * MemoryLayout<Slot>.stride
    }

    /// The slot holding `key`'s id, or the empty slot where it would go.
    private func find(_ key: UnsafeRawBufferPointer, hash: UInt64) -> (id: Int32?, slot: Int) {
        let tag = UInt32(truncatingIfNeeded: hash >> 32)
        var index = Int(truncatingIfNeeded: hash) & self.mask
        return self.slots.withUnsafeBufferPointer { slots in
            self.records.withUnsafeBytes { records in
                while true {
                    let slot = slots[index]
                    if slot.isEmpty { return (nil, index) }
                    if slot.tag == tag {
                        let offset = Int(slot.offset)
                        let (start, length) = Self.key(at: offset, in: records)
                        if length == key.count, length == 0 || equalBytes(records.baseAddress! + start, key.baseAddress!, length) {
                            return (Int32(littleEndian: records.loadUnaligned(fromByteOffset: offset, as: Int32.self)), index)
                        }
                    }
                    index = (index + 1) & self.mask
                }
            }
        }
    }

    private mutating func grow() {
        let capacity = self.slots.count * 2
        var slots = [Slot](repeating: .empty, count: capacity)
        let mask = capacity - 1
        self.records.withUnsafeBytes { records in
            for offset in self.offsets {
                let (start, length) = Self.key(at: Int(offset), in: records)
                let hash = Self.hash(UnsafeRawBufferPointer(rebasing: records[start..<(start + length)]), seed: self.seed)
                var index = Int(truncatingIfNeeded: hash) & mask
                while !slots[index].isEmpty { index = (index + 1) & mask }
                slots[index] = Slot(offset: offset, tag: UInt32(truncatingIfNeeded: hash >> 32))
            }
        }
        self.slots = slots
        self.mask = mask
    }

    @inline(__always)
    private static func withUTF8<R>(_ key: String, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        if let result = key.utf8.withContiguousStorageIfAvailable({ body(UnsafeRawBufferPointer($0)) }) {
            return result
        }
        var copy = key
        return copy.withUTF8 { body(UnsafeRawBufferPointer($0)) }
    }

    /// A wyhash-style hash: each 8-byte word is mixed by a 64×64→128-bit multiply whose halves are folded.
    @inline(__always)
    static func hash(_ key: UnsafeRawBufferPointer, seed: UInt64) -> UInt64 {
        @inline(__always) func mix(_ a: UInt64, _ b: UInt64) -> UInt64 {
            let product = a.multipliedFullWidth(by: b)
            return product.high ^ product.low
        }
        let p0: UInt64 = 0xA076_1D64_78BD_642F
        let p1: UInt64 = 0xE703_7ED1_A0B4_28DB
        var h = seed ^ p0 ^ UInt64(key.count)
        var offset = 0
        while offset + 8 <= key.count {
            h = mix(h ^ key.loadUnaligned(fromByteOffset: offset, as: UInt64.self), p1)
            offset += 8
        }
        if offset < key.count {
            var tail: UInt64 = 0
            for k in offset..<key.count { tail |= UInt64(key[k]) << (8 * UInt64(k - offset)) }
            h = mix(h ^ tail, p1)
        }
        return mix(h, p0 ^ UInt64(key.count))
    }
}

@inline(__always)
private func equalBytes(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, _ count: Int) -> Bool {
    var k = 0
    while k + 8 <= count {
        if a.loadUnaligned(fromByteOffset: k, as: UInt64.self) != b.loadUnaligned(fromByteOffset: k, as: UInt64.self) {
            return false
        }
        k += 8
    }
    while k < count {
        if a.load(fromByteOffset: k, as: UInt8.self) != b.load(fromByteOffset: k, as: UInt8.self) { return false }
        k += 1
    }
    return true
}
