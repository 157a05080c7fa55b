#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The one live ``RecommendationEngine``, shared by the stream processor (its only writer) and request handlers.
///
/// The engine's embeddings and co-occurrence tables are large, so publishing a fresh immutable copy after every
/// batch would copy them each time. Instead readers and the writer share the value under a reader-writer lock
/// that prefers writers: any number of requests read at once, and the processor takes the lock for short slices
/// (a few hundred events at most), so neither side waits long. See `docs/decisions/0002-engine-behind-a-reader-writer-lock.md`.
public final class EngineStore: @unchecked Sendable {
    // @unchecked: `engine` is only touched inside `read` (shared lock) or `write` (exclusive lock).
    private var engine: RecommendationEngine
    private let lock: UnsafeMutablePointer<pthread_rwlock_t>
    /// Increments with every write, so readers can tell whether anything changed.
    public private(set) var version: UInt64 = 0

    public init(_ engine: RecommendationEngine) {
        self.engine = engine
        self.lock = .allocate(capacity: 1)
        #if canImport(Glibc)
        var attributes = pthread_rwlockattr_t()
        pthread_rwlockattr_init(&attributes)
        pthread_rwlockattr_setkind_np(&attributes, Int32(PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP))
        pthread_rwlock_init(self.lock, &attributes)
        pthread_rwlockattr_destroy(&attributes)
        #else
        pthread_rwlock_init(self.lock, nil)
        #endif
    }

    deinit {
        pthread_rwlock_destroy(self.lock)
        self.lock.deallocate()
    }

    /// Runs `body` with shared read access.
    public func read<R>(_ body: (borrowing RecommendationEngine) throws -> R) rethrows -> R {
        pthread_rwlock_rdlock(self.lock)
        defer { pthread_rwlock_unlock(self.lock) }
        return try body(self.engine)
    }

    /// Runs `body` with exclusive write access.
    public func write<R>(_ body: (inout RecommendationEngine) throws -> R) rethrows -> R {
        pthread_rwlock_wrlock(self.lock)
        defer { pthread_rwlock_unlock(self.lock) }
        self.version &+= 1
        return try body(&self.engine)
    }

    /// A copy of the engine (cheap: its arrays are copied on the next write that touches them).
    public func snapshot() -> RecommendationEngine {
        self.read { copy $0 }
    }
}
