import StarlingCore
public import StarlingStream

/// The users' published states an API process fetched most recently, kept so that while the shared store is
/// unreachable it still serves each user from the latest state it saw rather than from its older model snapshot.
///
/// Bounded: when a shard is full, an arbitrary half of it is dropped.
public final class RecentUsers: Sendable {
    private let shards: [LockedBox<[String: PublishedUser]>]
    private let perShard: Int

    /// - Parameter capacity: Users kept, in all.
    public init(capacity: Int = 50_000) {
        precondition(capacity > 0, "capacity must be positive")
        self.shards = (0..<16).map { _ in LockedBox([:]) }
        self.perShard = max(1, capacity / 16)
    }

    private func shard(_ user: String) -> LockedBox<[String: PublishedUser]> {
        self.shards[StableHash.partition(for: user, count: self.shards.count)]
    }

    /// Remembers `state` as the latest of its user.
    public func remember(_ state: PublishedUser) {
        self.shard(state.profile.user).withLock { users in
            if users.count >= self.perShard, users[state.profile.user] == nil {
                for key in users.keys.prefix(users.count / 2) { users[key] = nil }
            }
            users[state.profile.user] = state
        }
    }

    /// The latest state remembered of `user`.
    public func state(of user: String) -> PublishedUser? {
        self.shard(user).withLock { $0[user] }
    }
}
