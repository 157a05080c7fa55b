public import Foundation

#if canImport(Glibc)
import Glibc
#endif

// Waiting in tests without holding one of the few threads of Swift's cooperative pool (two on a two-core machine):
// a test that blocks one — a spinning `Process.waitUntilExit()`, a blocking `recv` — starves every other test running
// beside it, and their own waits then time out.

/// Polls `condition` every `interval` until it holds; throws when `timeout` passes first.
///
/// It throws rather than records an issue and returns, so that a test whose wait failed stops there instead of
/// going on into a wait that can never end (a step the condition was guarding has not happened). The time-out is
/// generous because a satisfied condition returns at once: only a failing test pays it.
public func eventually(
    _ what: String,
    timeout: Duration = .seconds(30),
    interval: Duration = .milliseconds(5),
    _ condition: () async throws -> Bool
) async throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: interval)
    }
    throw TestSupportError("timed out after \(timeout) waiting for \(what)")
}

/// Waits until `process` has exited, polling without blocking a thread; throws after `timeout`.
public func waitForExit(of process: Process, timeout: Duration = .seconds(60)) async throws {
    try await eventually("process \(process.processIdentifier) to exit", timeout: timeout) { !process.isRunning }
}

/// Runs blocking work (a `recv` with a time-out, a synchronous pipe read) on a thread of its own, so that the
/// cooperative pool keeps running other tests meanwhile.
public func onOwnThread<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        let thread = Thread { continuation.resume(returning: work()) }
        thread.start()
    }
}
