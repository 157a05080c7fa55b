/// A store of versioned user profiles, read on the request path and written by the stream processor.
///
/// Writes are compare-and-swap on ``UserProfile/version``, so concurrent writers never lose an update.
/// Adapters for external systems live in their own modules; ``MemoryProfileStore`` lives here.
public protocol ProfileStore: Sendable {
    /// The profile of `user`, or `nil` when the user is unknown.
    func profile(for user: String) async throws -> UserProfile?

    /// Stores `profile` if the stored version is still `expectedVersion` (0 for a user not yet stored).
    ///
    /// - Returns: Whether the profile was stored.
    func compareAndSwap(_ profile: UserProfile, expectedVersion: UInt64) async throws -> Bool
}

extension ProfileStore {
    /// Reads, modifies and writes `user`'s profile, retrying on a concurrent change until it succeeds.
    ///
    /// - Returns: The stored profile.
    @discardableResult
    public func update(_ user: String, _ body: (inout UserProfile) -> Void) async throws -> UserProfile {
        while true {
            let current = try await self.profile(for: user) ?? UserProfile(user: user)
            var next = current
            body(&next)
            if try await self.compareAndSwap(next, expectedVersion: current.version) { return next }
        }
    }
}
