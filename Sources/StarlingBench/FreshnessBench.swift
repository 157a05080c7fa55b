import ArgumentParser
import Foundation
import Logging
import StarlingCore
import StarlingEventLog
import StarlingModels
import StarlingStream

/// Ingests synthetic events at a fixed rate through the ingest service, the durable log and the stream processor,
/// and reports the distribution of freshness: append accepted → effect visible to serving.
///
/// Beside that load, `--clients` clients each send one event of their own user and then wait, as a request for the
/// user's list does, until the processor has applied it (read-your-writes): the time from the acknowledgement to
/// the end of that wait is what the wait adds to such a request.
struct FreshnessBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "freshness",
        abstract: "Freshness at a sustained event rate (in-process: ingest service → log → processor)."
    )

    @Option(help: "Events per second to sustain.")
    var rate = 50_000
    @Option(help: "Events per ingest call (one HTTP request's batch).")
    var batch = 100
    @Option(help: "Seconds to measure (after a 2 s warm-up).")
    var seconds = 20.0
    @Option(help: "fsync or buffered.")
    var durability = "fsync"
    @Option(help: "Clients that post one event and then wait for it to be visible (read-your-writes), in a loop.")
    var clients = 4
    @Option(name: .customLong("read-your-writes-ms"), help: "The clients' longest wait, as `starling serve` bounds it.")
    var readYourWritesMilliseconds = 10
    @Option(help: "The processor's most records per poll (StreamProcessor.Configuration.pollBatch).")
    var pollBatch = StreamProcessor<SegmentedEventLog>.Configuration().pollBatch
    @Option(help: "The processor's most events per hold of the engine's write lock.")
    var writeSlice = StreamProcessor<SegmentedEventLog>.Configuration().writeSlice
    @Option(help: "Directory for the data (removed afterwards).")
    var directory = "/tmp/starling-bench-freshness"

    func run() async throws {
        try? FileManager.default.removeItem(atPath: self.directory)
        defer { try? FileManager.default.removeItem(atPath: self.directory) }
        let logger = Logger(label: "bench")
        let schema = EventSchema()
        let log = try SegmentedEventLog.open(
            configuration: .init(
                directory: "\(self.directory)/log",
                topics: Dictionary(uniqueKeysWithValues: schema.topics.map { ($0, 4) }),
                durability: self.durability == "fsync" ? .fsync : .buffered
            ),
            logger: logger
        )
        let samples = LockedBox<[Int64]>([])
        let measuring = LockedBox(false)
        samples.withLock { $0.reserveCapacity(Int(Double(self.rate) * self.seconds * 1.2)) }
        let dedup = DeduplicationIndex()
        let acknowledgements = AcknowledgedEvents()
        let waits = LockedBox<[Int64]>([])
        let timeouts = LockedBox(0)
        let bound = Duration.milliseconds(self.readYourWritesMilliseconds)
        let processor = StreamProcessor(
            log: log,
            deduplication: dedup,
            checkpoints: try FileCheckpointStore(directory: "\(self.directory)/checkpoints"),
            configuration: .init(pollBatch: self.pollBatch, writeSlice: self.writeSlice),
            logger: logger,
            freshnessObserver: { nanos in
                if measuring.value { samples.withLock { $0.append(nanos) } }
            },
            acknowledgements: acknowledgements
        )
        let ingest = IngestService(
            log: log,
            deduplication: dedup,
            decoder: IngestBatchDecoder(),
            acknowledgements: [acknowledgements],
            backlog: processor.backlog
        )
        var traffic = SyntheticTraffic()
        let requestsPerSecond = Double(self.rate) / Double(self.batch)
        let interval = Duration.nanoseconds(Int64(1e9 / requestsPerSecond))
        let total = Int((self.seconds + 2) * requestsPerSecond)
        var batches: [[IngestBatchDecoder.Entry]] = []
        for k in 0..<total {
            batches.append(
                (0..<self.batch).map { j in
                    .success(traffic.event(at: EventTime(milliseconds: 1_700_000_000_000 + Int64(k * self.batch + j))))
                }
            )
        }
        let ingested = LockedBox(0)
        let start = ContinuousClock.now
        let caughtUp = LockedBox(start)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await processor.run() }
            for client in 0..<self.clients {
                group.addTask {
                    var sent: Int64 = 0
                    while !Task.isCancelled {
                        sent += 1
                        let event = Event(
                            type: .click,
                            user: "rw-client-\(client)",
                            item: "item-\(sent % 1_000)",
                            timestamp: EventTime(milliseconds: 1_700_000_000_000 + sent)
                        )
                        guard (try? await ingest.ingest([.success(event)], receivedAt: .now())) != nil else { continue }
                        let acknowledged = ContinuousClock.now
                        let visible = await acknowledgements.waitUntilVisible("rw-client-\(client)", timeout: bound)
                        let waited = (ContinuousClock.now - acknowledged).wholeNanoseconds
                        if measuring.value {
                            waits.withLock { $0.append(waited) }
                            if !visible { timeouts.withLock { $0 += 1 } }
                        }
                        try? await Task.sleep(for: .milliseconds(1))
                    }
                }
            }
            // Open-loop pacing: request k starts at start + k·interval, whatever earlier requests are doing.
            try await withThrowingTaskGroup(of: Void.self) { senders in
                for (k, entries) in batches.enumerated() {
                    let due = start + interval * k
                    if ContinuousClock.now < due { try await Task.sleep(until: due, clock: .continuous) }
                    if k == Int(2 * requestsPerSecond) { measuring.withLock { $0 = true } }
                    senders.addTask {
                        _ = try await ingest.ingest(entries, receivedAt: .now())
                        ingested.withLock { $0 += entries.count }
                    }
                }
                try await senders.waitForAll()
            }
            while processor.appliedCount < UInt64(ingested.value) {
                try await Task.sleep(for: .milliseconds(10))
            }
            measuring.withLock { $0 = false }
            // Timed here: after cancelling, the group also waits for clients parked until their bound.
            caughtUp.withLock { $0 = ContinuousClock.now }
            group.cancelAll()
        }
        await log.close()
        let elapsed = caughtUp.value - start
        let achieved = Double(ingested.value) / elapsed.fractionalSeconds
        var sorted = samples.withLock { $0 }
        sorted.sort()
        func percentile(_ p: Double) -> String {
            guard !sorted.isEmpty else { return "n/a" }
            let value = sorted[min(sorted.count - 1, Int(p * Double(sorted.count)))]
            return String(format: "%.2f", Double(value) / 1e6)
        }
        print(
            "freshness durability=\(self.durability) target_rate=\(self.rate) achieved_rate=\(Int(achieved))"
                + " samples=\(sorted.count) p50_ms=\(percentile(0.5)) p90_ms=\(percentile(0.9))"
                + " p99_ms=\(percentile(0.99)) p999_ms=\(percentile(0.999)) max_ms=\(percentile(1.0))"
        )
        sorted = waits.withLock { $0 }
        sorted.sort()
        print(
            "read_your_writes_wait clients=\(self.clients) bound_ms=\(self.readYourWritesMilliseconds)"
                + " samples=\(sorted.count) timeouts=\(timeouts.value) p50_ms=\(percentile(0.5))"
                + " p90_ms=\(percentile(0.9)) p99_ms=\(percentile(0.99)) p999_ms=\(percentile(0.999))"
                + " max_ms=\(percentile(1.0))"
        )
    }
}
