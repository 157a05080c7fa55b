#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One segment file of a partition.
///
/// The file descriptor is closed when the last reference goes, so a consumer that is reading a segment while
/// retention deletes it finishes its read safely.
final class Segment: @unchecked Sendable {
    // @unchecked: `fd`, `path` and `baseOffset` are immutable; every `var` is read and written only while holding
    // the owning SegmentedEventLog's lock.

    /// A sparse index entry: the record with `offset` starts at byte `position`.
    struct IndexEntry {
        var offset: Int64
        var position: Int
    }

    /// Distance in bytes between sparse index entries.
    static let indexInterval = 64 * 1_024

    let baseOffset: Int64
    let path: String
    let fd: Int32
    /// Bytes of complete, durable records: what readers may read.
    var size: Int
    /// The offset after the last durable record.
    var nextOffset: Int64
    /// Sparse offset index, ascending.
    var index: [IndexEntry]
    /// Append time (wall-clock ns) of the newest record, for age-based retention.
    var newestAppendNanoseconds: Int64

    init(baseOffset: Int64, path: String, fd: Int32) {
        self.baseOffset = baseOffset
        self.path = path
        self.fd = fd
        self.size = 0
        self.nextOffset = baseOffset
        self.index = []
        self.newestAppendNanoseconds = 0
    }

    deinit {
        close(self.fd)
    }

    static func fileName(baseOffset: Int64) -> String {
        let digits = String(baseOffset)
        return String(repeating: "0", count: max(0, 20 - digits.count)) + digits + ".log"
    }

    static func baseOffset(fromFileName name: String) -> Int64? {
        guard name.hasSuffix(".log") else { return nil }
        return Int64(name.dropLast(4))
    }

    /// The position to start scanning from to find `offset`.
    func startPosition(for offset: Int64) -> Int {
        var low = 0
        var high = self.index.count
        while low < high {
            let mid = (low + high) / 2
            if self.index[mid].offset <= offset { low = mid + 1 } else { high = mid }
        }
        return low == 0 ? 0 : self.index[low - 1].position
    }
}
