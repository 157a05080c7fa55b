import StarlingCore
import StarlingEventLog
import StarlingStream
import StarlingTestSupport
import Synchronization
import Testing

/// The real log, with appends held at a gate the test opens, or failed on demand.
private final class GatedLog: EventLog {
    let log: SegmentedEventLog
    private let gate = Mutex<(held: [CheckedContinuation<Bool, Never>], arrived: Int)>(([], 0))

    init(_ log: SegmentedEventLog) {
        self.log = log
    }

    var topics: [String] { self.log.topics }
    func partitionCount(of topic: String) -> Int { self.log.partitionCount(of: topic) }
    func endOffsets() -> [TopicPartition: Int64] { self.log.endOffsets() }
    func makeConsumer(group: String, topics: [String]) async throws -> SegmentedEventLog.Consumer {
        try await self.log.makeConsumer(group: group, topics: topics)
    }

    /// Appends that reached the gate.
    var arrived: Int { self.gate.withLock { $0.arrived } }

    /// Lets every held append through (`true`) or fails it (`false`).
    func open(succeed: Bool) {
        for waiter in self.gate.withLock({ gate in defer { gate.held = [] }; return gate.held }) {
            waiter.resume(returning: succeed)
        }
    }

    func append(_ records: [LogAppend]) async throws -> [LogPosition] {
        let proceed = await withCheckedContinuation { continuation in
            self.gate.withLock { gate in
                gate.held.append(continuation)
                gate.arrived += 1
            }
        }
        guard proceed else { throw EventLogError.io("injected failure") }
        return try await self.log.append(records)
    }
}

struct DeduplicationTests {
    private func event(id: String) -> IngestBatchDecoder.Entry {
        .success(Event(type: .click, user: "u", item: "i", id: id, timestamp: .now()))
    }

    @Test func aRetryWhileTheOriginalIsInFlightWaitsForItAndIsThenADuplicate() async throws {
        let directory = TemporaryDirectory()
        let log = GatedLog(try openLog(directory.path))
        let service = IngestService(log: log, deduplication: DeduplicationIndex(), decoder: IngestBatchDecoder())
        let original = Task { try await service.ingest([self.event(id: "e-1")], receivedAt: .now()) }
        try await eventually("log.arrived == 1") { log.arrived == 1 }
        let retry = Task { try await service.ingest([self.event(id: "e-1")], receivedAt: .now()) }
        // The retry does not answer while the original's append is undecided (it never reaches the log either).
        for _ in 0..<100 { await Task.yield() }
        #expect(log.arrived == 1)
        log.open(succeed: true)
        #expect(try await original.value.accepted == 1)
        let answer = try await retry.value
        #expect(answer.duplicates == 1 && answer.accepted == 0)
        #expect(log.endOffsets().values.reduce(0, +) == 1, "appended once")
    }

    @Test func aRetryWhoseOriginalFailsAppendsTheEventItself() async throws {
        let directory = TemporaryDirectory()
        let log = GatedLog(try openLog(directory.path))
        let service = IngestService(log: log, deduplication: DeduplicationIndex(), decoder: IngestBatchDecoder())
        let original = Task { try await service.ingest([self.event(id: "e-2")], receivedAt: .now()) }
        try await eventually("log.arrived == 1") { log.arrived == 1 }
        let retry = Task { try await service.ingest([self.event(id: "e-2")], receivedAt: .now()) }
        for _ in 0..<100 { await Task.yield() }
        log.open(succeed: false)
        await #expect(throws: EventLogError.self) { try await original.value }
        // The retry reserved the id after the failure and appended the event.
        try await eventually("log.arrived == 2") { log.arrived == 2 }
        log.open(succeed: true)
        #expect(try await retry.value.accepted == 1)
        #expect(log.endOffsets().values.reduce(0, +) == 1)
    }

    @Test func theSameIdTwiceInOneBatchIsAppendedOnce() async throws {
        let directory = TemporaryDirectory()
        let log = GatedLog(try openLog(directory.path))
        let service = IngestService(log: log, deduplication: DeduplicationIndex(), decoder: IngestBatchDecoder())
        let batch = Task { try await service.ingest([self.event(id: "e-3"), self.event(id: "e-3")], receivedAt: .now()) }
        try await eventually("log.arrived == 1") { log.arrived == 1 }
        log.open(succeed: true)
        let result = try await batch.value
        #expect(result.accepted == 1 && result.duplicates == 1)
    }

    @Test func beyondMaxIDsTheOldestAppliedIdsAreEvictedAndInFlightOnesKept() {
        let index = DeduplicationIndex(maxIDs: 320)  // 10 per shard
        for k in 0..<1_000 {
            #expect(index.reserve("applied-\(k)", at: .seconds(Int64(k))) == .reserved)
            index.commit("applied-\(k)")
            #expect(index.markApplied("applied-\(k)", at: .seconds(Int64(k))))
        }
        for k in 0..<50 {
            #expect(index.reserve("committed-\(k)", at: .seconds(0)) == .reserved)
            index.commit("committed-\(k)")
        }

        let evicted = index.prune(now: .seconds(1_000))

        #expect(index.count <= 320 + 50)
        #expect(evicted == 1_050 - index.count)
        #expect(evicted >= 1_000 - 320)
        // Events in the log but not applied keep their ids, however old: a retry of one is still a duplicate.
        for k in 0..<50 { #expect(index.reserve("committed-\(k)", at: .seconds(1_000)) == .duplicate) }
        // The newest applied id is kept; the oldest went, so its retry would be taken as new.
        #expect(index.reserve("applied-999", at: .seconds(1_000)) == .duplicate)
        #expect(index.reserve("applied-0", at: .seconds(1_000)) == .reserved)
    }
}
