public import StarlingCore
public import StarlingModels

/// The ``ProfileStore`` of a process that runs the stream processor: the profiles live in the engine's record of
/// each user (`RecommendationEngine+Profile.swift`), so they are stored and checkpointed once, with the models.
///
/// A read builds the ``UserProfile`` under the engine's shared lock; ``compareAndSwap(_:expectedVersion:)`` takes
/// the write lock, so it is atomic with respect to the processor, which moves a user's profile in the same hold of
/// the lock in which the models learn the event. A reader that sees version V therefore sees every model update of
/// the user's events up to V.
public struct EngineProfileStore: ProfileStore {
    /// The engine whose records hold the profiles.
    public let engine: EngineStore

    public init(engine: EngineStore) {
        self.engine = engine
    }

    public func profile(for user: String) -> UserProfile? {
        self.engine.read { $0.profile(of: user) }
    }

    public func compareAndSwap(_ profile: UserProfile, expectedVersion: UInt64) -> Bool {
        self.engine.write { $0.compareAndSwap(profile, expectedVersion: expectedVersion) }
    }

    /// The number of users with a record.
    public var count: Int {
        self.engine.read { $0.userCount }
    }
}
