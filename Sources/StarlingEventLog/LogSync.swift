import StarlingCore
import Synchronization

/// How the log makes data durable: every `fdatasync` of a segment or journal file and every `fsync` of a directory
/// goes through here, so that tests can make one fail the way a disk whose write-back failed does, without a broken
/// disk (``FileSyncFaults``).
struct LogSync: Sendable {
    let faults: FileSyncFaults?

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
