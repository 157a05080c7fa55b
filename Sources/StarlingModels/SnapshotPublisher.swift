import StarlingCore

/// Holds the latest immutable snapshot of a model for readers on the request path.
///
/// The model's single writer calls ``publish(_:)``; readers call ``current``, which holds the lock only long
/// enough to copy a reference.
public final class SnapshotPublisher<Snapshot: Sendable>: Sendable {
    private let box: LockedBox<Snapshot>

    public init(_ initial: Snapshot) {
        self.box = LockedBox(initial)
    }

    /// The most recently published snapshot.
    public var current: Snapshot {
        self.box.value
    }

    /// Replaces the published snapshot.
    public func publish(_ snapshot: Snapshot) {
        self.box.withLock { $0 = snapshot }
    }
}
