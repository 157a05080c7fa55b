
/// A ``ProfileStore`` in process memory, sharded by a stable hash of the user id so that readers and the writer
/// rarely contend.
public final class MemoryProfileStore: ProfileStore {
    private let shards: [LockedBox<[String: UserProfile]>]

    /// Creates an empty store.
    ///
    /// - Parameter shardCount: Number of independently locked shards. Defaults to 64.
    public init(shardCount: Int = 64) {
        precondition(shardCount > 0, "shardCount must be positive")
        self.shards = (0..<shardCount).map { _ in LockedBox([:]) }
    }

    @inline(__always)
    private func shard(for user: String) -> LockedBox<[String: UserProfile]> {
        self.shards[StableHash.partition(for: user, count: self.shards.count)]
    }

    public func profile(for user: String) -> UserProfile? {
        self.shard(for: user).withLock { $0[user] }
    }

    public func compareAndSwap(_ profile: UserProfile, expectedVersion: UInt64) -> Bool {
        self.shard(for: profile.user).withLock { profiles in
            guard (profiles[profile.user]?.version ?? 0) == expectedVersion else { return false }
            profiles[profile.user] = profile
            return true
        }
    }

    /// Applies `body` to `user`'s profile atomically under the shard lock: the fast path of the single writer.
    @discardableResult
    public func modify<R>(_ user: String, _ body: (inout UserProfile) -> R) -> R {
        self.shard(for: user).withLock { profiles in
            body(&profiles[user, default: UserProfile(user: user)])
        }
    }

    /// The number of stored profiles.
    public var count: Int {
        self.shards.reduce(0) { total, shard in total + shard.withLock { $0.count } }
    }

    /// A consistent copy of every shard, cheap to take: the dictionaries are copied on write, so the cost falls on
    /// the next writer to each shard, once.
    public func snapshot() -> [[String: UserProfile]] {
        self.shards.map { shard in shard.withLock { $0 } }
    }

    /// Replaces the whole contents (used when restoring a checkpoint).
    public func replaceAll(with profiles: some Sequence<UserProfile>) {
        var buckets = [[String: UserProfile]](repeating: [:], count: self.shards.count)
        for profile in profiles {
            buckets[StableHash.partition(for: profile.user, count: self.shards.count)][profile.user] = profile
        }
        for (shard, bucket) in zip(self.shards, buckets) {
            shard.withLock { $0 = bucket }
        }
    }
}
