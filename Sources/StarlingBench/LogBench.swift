import ArgumentParser
import Foundation
import Logging
import StarlingCore
import StarlingEventLog

/// Appends synthetic events to the embedded log from concurrent tasks and reports events per second.
struct LogBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "log", abstract: "Event log append throughput.")

    @Option(help: "fsync or buffered.")
    var durability = "fsync"
    @Option(help: "Concurrent appending tasks.")
    var writers = 64
    @Option(help: "Events per append call.")
    var batch = 100
    @Option(help: "Seconds to run.")
    var seconds = 10.0
    @Option(help: "Partitions per topic.")
    var partitions = 4
    @Option(help: "Directory for the log (removed afterwards).")
    var directory = "/tmp/starling-bench-log"

    func run() async throws {
        try? FileManager.default.removeItem(atPath: self.directory)
        defer { try? FileManager.default.removeItem(atPath: self.directory) }
        let schema = EventSchema()
        let log = try SegmentedEventLog.open(
            configuration: .init(
                directory: self.directory,
                topics: Dictionary(uniqueKeysWithValues: schema.topics.map { ($0, self.partitions) }),
                durability: self.durability == "fsync" ? .fsync : .buffered,
                maxPendingBytes: 512 << 20
            ),
            logger: Logger(label: "bench")
        )
        // Pre-encode a pool of records so the benchmark measures the log, not event generation.
        var traffic = SyntheticTraffic()
        let pool: [LogAppend] = (0..<20_000).map { k in
            let event = traffic.event(at: EventTime(milliseconds: 1_700_000_000_000 + Int64(k)))
            return LogAppend(topic: schema.topic(for: event.type)!, key: event.user, payload: event.encoded())
        }
        let payloadBytes = pool.reduce(0) { $0 + $1.payload.count } / pool.count
        let deadline = ContinuousClock.now + .milliseconds(Int(self.seconds * 1_000))
        let start = ContinuousClock.now
        let total = try await withThrowingTaskGroup(of: Int.self) { group in
            for writer in 0..<self.writers {
                group.addTask {
                    var appended = 0
                    var cursor = (writer * 997) % pool.count
                    while ContinuousClock.now < deadline {
                        var records: [LogAppend] = []
                        records.reserveCapacity(self.batch)
                        for _ in 0..<self.batch {
                            records.append(pool[cursor])
                            cursor = (cursor + 1) % pool.count
                        }
                        _ = try await log.append(records)
                        appended += records.count
                    }
                    return appended
                }
            }
            return try await group.reduce(0, +)
        }
        let elapsed = (ContinuousClock.now - start)
        let secondsElapsed = elapsed.fractionalSeconds
        await log.close()
        let rate = Double(total) / secondsElapsed
        print(
            "log durability=\(self.durability) writers=\(self.writers) batch=\(self.batch) partitions=\(self.partitions)"
                + " payload_bytes=\(payloadBytes) events=\(total) seconds=\(String(format: "%.2f", secondsElapsed))"
                + " events_per_second=\(Int(rate))"
                + " MB_per_second=\(String(format: "%.1f", rate * Double(payloadBytes + 24) / 1e6))"
        )
    }
}
