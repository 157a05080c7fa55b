#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Logging
import StarlingCore
import StarlingEventLog

/// Feeds a segment or journal file to the embedded log the way a restart does: the file is put in an otherwise
/// empty log directory, the log is opened (recovery scans segments and replays the journal), and a consumer reads
/// every record back and decodes its payload.
package enum LogFiles {
    /// The topic the files belong to, with one partition.
    package static let topic = "views"
    static let segmentName = "00000000000000000000.log"
    static let journalName = "00000000000000000001.journal"

    /// Opens a log whose only segment holds `segment`.
    static func recover(segment: [UInt8]) async throws(FuzzFinding) -> FuzzOutcome {
        try await self.recover(files: ["\(topic)/0/\(segmentName)": segment])
    }

    /// Opens an empty log whose journal holds `journal`.
    static func recover(journal: [UInt8]) async throws(FuzzFinding) -> FuzzOutcome {
        try await self.recover(files: ["_journal/\(journalName)": journal])
    }

    private static func recover(files: [String: [UInt8]]) async throws(FuzzFinding) -> FuzzOutcome {
        let directory = Self.makeDirectory()
        defer {
            Self.removeTree(directory)
            rmdir(Self.base)  // once no other run uses it
        }
        do {
            try FileIO.makeDirectories("\(directory)/\(topic)/0")
            try FileIO.makeDirectories("\(directory)/_journal")
            try FileIO.writeFileAtomically("\(directory)/\(topic)/partitions", Array("1\n".utf8), sync: false)
            for (path, bytes) in files { try FileIO.writeFileAtomically("\(directory)/\(path)", bytes, sync: false) }
        } catch {
            preconditionFailure("cannot prepare \(directory): \(error)")
        }
        let log: SegmentedEventLog
        do {
            log = try SegmentedEventLog.open(
                configuration: .init(directory: directory, topics: [topic: 1], durability: .buffered),
                logger: Logger(label: "fuzz", factory: { _ in SwiftLogNoOpLogHandler() })
            )
        } catch {
            return .rejected
        }
        var outcome = FuzzOutcome.accepted
        do {
            let consumer = try await log.makeConsumer(group: "fuzz", topics: [topic])
            var read: Int64 = 0
            let end = log.endOffsets().values.reduce(0, +)
            while consumer.lag() > 0 {
                for record in try await consumer.poll(maxRecords: 256) {
                    read += 1
                    if (try? Event(decoding: record.payload)) == nil { outcome = .rejected }
                }
            }
            // Offsets are dense except where recovery quarantined damaged records: never more records than offsets.
            guard read <= end else {
                await log.close()
                throw FuzzFinding("the log ends at offset \(end) but the consumer read \(read) records")
            }
        } catch let finding as FuzzFinding {
            throw finding
        } catch {
            // Recovery keeps only records that passed their checksum and offset checks: reading them must work.
            await log.close()
            throw FuzzFinding("a recovered log cannot be read: \(error)")
        }
        await log.close()
        return outcome
    }

    private static let base: String = {
        let root = FileIO.exists("/dev/shm") ? "/dev/shm" : "/tmp"
        return "\(root)/starling-fuzz-\(getpid())"
    }()
    private static let counter = LockedBox(0)

    private static func makeDirectory() -> String {
        let n = self.counter.withLock { value -> Int in
            value += 1
            return value
        }
        return "\(self.base)/\(n)"
    }

    /// Removes a directory and everything in it (the log's files and folders only; no links are followed).
    static func removeTree(_ path: String) {
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        if info.st_mode & S_IFMT == S_IFDIR {
            for name in FileIO.listDirectory(path) { self.removeTree("\(path)/\(name)") }
            rmdir(path)
        } else {
            unlink(path)
        }
    }
}
