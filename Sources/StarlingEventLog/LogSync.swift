import StarlingCore
import Synchronization

/// How the log stores data and makes it durable: every write of a segment or journal file during a commit, every
/// `fdatasync` of one and every `fsync` of a directory goes through here, so that tests can make one fail the way a
/// full disk (``FileWriteFaults``) or a disk whose write-back failed (``FileSyncFaults``) does, without such a disk.
struct LogSync: Sendable {
    let faults: FileSyncFaults?
    var writeFaults: FileWriteFaults? = nil

    /// Writes all of `bytes` at `offset` (``FileIO/write(_:_:at:path:)``): a full disk throws
    /// ``EventLogError/diskFull(_:)``, possibly after writing part of `bytes`.
    func write(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, at offset: Int, path: String) throws {
        if let written = self.writeFaults?.check(path) {
            // What a disk that fills up part-way through does: a short write, then ENOSPC.
            let count = min(written, bytes.count)
            if count > 0 { try FileIO.write(fd, UnsafeRawBufferPointer(rebasing: bytes[0..<count]), at: offset, path: path) }
            throw EventLogError.diskFull("cannot write \(path): No space left on device (injected)")
        }
        try FileIO.write(fd, bytes, at: offset, path: path)
    }

    func data(_ fd: Int32, path: String) throws {
        try self.faults?.check(path)
        try FileIO.syncData(fd, path: path)
    }

    func directory(_ path: String) throws {
        try self.faults?.check(path)
        try FileIO.syncDirectory(path)
    }
}

/// Scripted `fsync` failures for tests (``SegmentedEventLog/Configuration/syncFaults``).
///
/// Linux reports a failed write-back once: the failing `fdatasync` returns `EIO`, the dirty pages are marked clean,
/// and the next sync of the same file succeeds although the data never reached the disk. ``failNext(_:where:)``
/// scripts exactly that: the next `count` syncs of a matching path throw, later ones succeed.
///
/// ```swift
/// let faults = FileSyncFaults()
/// faults.failNext(where: { $0.hasSuffix(".log") })  // the next partition-file sync fails, once
/// ```
package final class FileSyncFaults: Sendable {
    private struct Rule {
        var matches: @Sendable (String) -> Bool
        var remaining: Int
    }

    private struct State {
        var rules: [Rule] = []
        var failed: [String] = []
    }

    private let state = Mutex(State())

    package init() {}

    /// Makes the next `count` syncs of a path for which `matches` is true fail with an I/O error.
    package func failNext(_ count: Int = 1, where matches: @escaping @Sendable (String) -> Bool) {
        self.state.withLock { $0.rules.append(Rule(matches: matches, remaining: count)) }
    }

    /// The paths whose sync was made to fail, oldest first.
    package var failedPaths: [String] {
        self.state.withLock { $0.failed }
    }

    func check(_ path: String) throws {
        let fail = self.state.withLock { state -> Bool in
            guard let k = state.rules.firstIndex(where: { $0.remaining > 0 && $0.matches(path) }) else { return false }
            state.rules[k].remaining -= 1
            state.failed.append(path)
            return true
        }
        if fail { throw EventLogError.io("cannot sync \(path): Input/output error (injected)") }
    }
}

/// Scripted full-disk write failures for tests (``SegmentedEventLog/Configuration/writeFaults``).
///
/// A write to a full disk stores what fits and then fails with `ENOSPC`; ``failNext(_:afterWriting:where:)`` scripts
/// that: the next `count` writes to a matching path store their first `bytes` bytes, then throw
/// ``EventLogError/diskFull(_:)``. Later writes succeed, as they do once space is freed.
///
/// ```swift
/// let faults = FileWriteFaults()
/// faults.failNext(afterWriting: 7, where: { $0.hasSuffix(".journal") })  // 7 bytes of the next chunk, then ENOSPC
/// ```
package final class FileWriteFaults: Sendable {
    private struct Rule {
        var matches: @Sendable (String) -> Bool
        var remaining: Int
        var bytes: Int
    }

    private struct State {
        var rules: [Rule] = []
        var failed: [String] = []
    }

    private let state = Mutex(State())

    package init() {}

    /// Makes the next `count` writes to a path for which `matches` is true store `bytes` bytes and fail as on a full
    /// disk.
    package func failNext(
        _ count: Int = 1,
        afterWriting bytes: Int = 0,
        where matches: @escaping @Sendable (String) -> Bool
    ) {
        self.state.withLock { $0.rules.append(Rule(matches: matches, remaining: count, bytes: bytes)) }
    }

    /// The paths whose write was made to fail, oldest first.
    package var failedPaths: [String] {
        self.state.withLock { $0.failed }
    }

    /// How many bytes the write to `path` stores before it fails, or `nil` when it does not fail.
    func check(_ path: String) -> Int? {
        self.state.withLock { state -> Int? in
            guard let k = state.rules.firstIndex(where: { $0.remaining > 0 && $0.matches(path) }) else { return nil }
            state.rules[k].remaining -= 1
            state.failed.append(path)
            return state.rules[k].bytes
        }
    }
}
