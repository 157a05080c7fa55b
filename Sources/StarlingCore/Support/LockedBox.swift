import Synchronization

/// A value behind a `Mutex`, in a class so that it can be stored in arrays and shared.
public final class LockedBox<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>

    public init(_ value: Value) {
        self.mutex = Mutex(value)
    }

    /// Runs `body` with exclusive access to the value.
    @inline(__always)
    public func withLock<R>(_ body: (inout sending Value) throws -> sending R) rethrows -> sending R {
        try self.mutex.withLock(body)
    }

    /// A copy of the value.
    public var value: Value {
        self.mutex.withLock { $0 }
    }
}
