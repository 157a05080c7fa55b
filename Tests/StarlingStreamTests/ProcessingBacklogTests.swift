import StarlingCore
import StarlingEventLog
import StarlingStream
import StarlingTestSupport
import Synchronization
import Testing

/// A timeout that elapses only when the test says so.
private final class ManualTimeouts: Sendable {
    private let pending = Mutex<[CheckedContinuation<Void, Never>]>([])

    var sleep: @Sendable (Duration) async -> Void {
        { _ in await withCheckedContinuation { continuation in self.pending.withLock { $0.append(continuation) } } }
    }

    var count: Int { self.pending.withLock { $0.count } }

    func elapseAll() {
        for continuation in self.pending.withLock({ pending in defer { pending = [] }; return pending }) {
            continuation.resume()
        }
    }
}

struct ProcessingBacklogTests {
    @Test func aBatchIsAdmittedAtOnceWhileTheProcessorIsWithinTheLimit() async {
        let backlog = ProcessingBacklog(configuration: .init(maxLag: 100), lag: { 100 })
        #expect(await backlog.admit(events: 50))
        #expect(backlog.waiting == 0)
    }

    @Test func aBatchWaitsUntilTheProcessorCatchesUp() async throws {
        let lag = Atomic<Int64>(500)
        let timeouts = ManualTimeouts()
        let backlog = ProcessingBacklog(configuration: .init(maxLag: 100), lag: { lag.load(ordering: .relaxed) }, sleep: timeouts.sleep)
        async let admitted = backlog.admit(events: 50)
        try await eventually("backlog.waiting == 1") { backlog.waiting == 1 }
        backlog.advanced()  // still 500 behind: nothing moves
        #expect(backlog.waiting == 1)
        lag.store(60, ordering: .relaxed)
        backlog.advanced()
        #expect(await admitted)
        #expect(backlog.waiting == 0)
    }

    @Test func aBatchIsRefusedWhenTheProcessorStaysBehindPastTheTimeout() async throws {
        let timeouts = ManualTimeouts()
        let backlog = ProcessingBacklog(configuration: .init(maxLag: 100), lag: { 5_000 }, sleep: timeouts.sleep)
        async let admitted = backlog.admit(events: 10)
        try await eventually("timeouts.count == 1") { timeouts.count == 1 }
        timeouts.elapseAll()
        #expect(await admitted == false)
        #expect(backlog.waiting == 0)
    }

    @Test func aBatchBeyondTheWaitingLimitIsRefusedAtOnce() async throws {
        let lag = Atomic<Int64>(500)
        let timeouts = ManualTimeouts()
        let backlog = ProcessingBacklog(
            configuration: .init(maxLag: 100, maxWaiting: 150),
            lag: { lag.load(ordering: .relaxed) },
            sleep: timeouts.sleep
        )
        let first = Task { await backlog.admit(events: 100) }
        try await eventually("the first batch's timeout started") { backlog.waiting == 1 && timeouts.count == 1 }
        // 100 + 100 events would wait: refused without waiting (no timeout started), whatever the processor does next.
        #expect(await backlog.admit(events: 100) == false)
        #expect(timeouts.count == 1)
        // A batch that fits still waits.
        let second = Task { await backlog.admit(events: 50) }
        try await eventually("backlog.waiting == 2") { backlog.waiting == 2 }
        #expect(backlog.waitingEvents == 150)
        lag.store(0, ordering: .relaxed)
        backlog.advanced()  // room for the first (100 of 100): the second waits for the next batch applied
        #expect(await first.value)
        backlog.advanced()
        #expect(await second.value)
        #expect(backlog.waitingEvents == 0)
        // With nothing waiting, one batch may wait however large it is.
        lag.store(500, ordering: .relaxed)
        let large = Task { await backlog.admit(events: 1_000) }
        try await eventually("the large batch's timeout started") { timeouts.count == 3 }
        timeouts.elapseAll()
        #expect(await large.value == false)
        #expect(backlog.waitingEvents == 0)
    }

    @Test func waitingBatchesAreAdmittedOldestFirstAsFarAsTheyFit() async throws {
        let lag = Atomic<Int64>(10_000)
        let timeouts = ManualTimeouts()
        let backlog = ProcessingBacklog(configuration: .init(maxLag: 5_000), lag: { lag.load(ordering: .relaxed) }, sleep: timeouts.sleep)
        let first = Task { await backlog.admit(events: 3_000) }
        try await eventually("backlog.waiting == 1") { backlog.waiting == 1 }
        let second = Task { await backlog.admit(events: 3_000) }
        try await eventually("backlog.waiting == 2") { backlog.waiting == 2 }
        lag.store(0, ordering: .relaxed)
        backlog.advanced()
        #expect(await first.value)
        #expect(backlog.waiting == 1, "3,000 + 3,000 would overshoot the limit of 5,000")
        lag.store(6_000, ordering: .relaxed)  // the first batch landed, and more; the processor is behind again
        backlog.advanced()
        #expect(backlog.waiting == 1)
        lag.store(3_000, ordering: .relaxed)  // within the limit: the oldest waiting batch goes, even if it overshoots
        backlog.advanced()
        #expect(await second.value)
    }

    @Test func ingestRefusesABatchTheProcessorCannotTakeAndAcknowledgesNothing() async throws {
        let directory = TemporaryDirectory()
        let log = try openLog(directory.path)
        let timeouts = ManualTimeouts()
        let backlog = ProcessingBacklog(configuration: .init(maxLag: 1), lag: { 1_000 }, sleep: timeouts.sleep)
        let service = IngestService(log: log, deduplication: DeduplicationIndex(), decoder: IngestBatchDecoder(), backlog: backlog)
        let event = Event(type: .click, user: "u", item: "i", id: "e-1", timestamp: .now())
        let result = Task { try await service.ingest([.success(event)], receivedAt: .now()) }
        try await eventually("timeouts.count == 1") { timeouts.count == 1 }
        timeouts.elapseAll()
        await #expect(throws: EventLogError.overloaded) { try await result.value }
        #expect(log.endOffsets().values.reduce(0, +) == 0, "nothing was appended")
    }
}
