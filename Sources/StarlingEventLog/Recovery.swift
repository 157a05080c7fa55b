#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Logging
import StarlingCore

/// Opening a partition: every segment is scanned and every record's length, checksum and offset verified. One
/// damaged record never costs the records after it:
///
/// - A torn tail of the newest segment (a record cut short by a crash, with nothing intact after it) is truncated.
/// - Any other damage — a record whose checksum, length or offset is wrong, garbage between records, a corrupt tail —
///   is *quarantined*: the damaged bytes are copied to
///   `<log>/_quarantine/<topic>/<partition>/<segment file>.<byte position>.damaged`, cut out of the segment (rewritten
///   atomically: temporary file, sync, rename, directory sync), and the scan resumes at the next intact record (the
///   next position whose length, offset and CRC-32C all check out). Later segments are kept.
/// - Records missing in place of the damage, or between two segments (a lost segment file), are put back from the
///   commit journal when it still holds every one of them; otherwise they are lost, the partition's offsets have a
///   gap there, and recovery says so (an error log and `starling_log_lost_records_total`).
enum Recovery {
    /// What recovery found in one partition.
    struct Report {
        /// Damaged bytes moved to the quarantine directory.
        var quarantinedBytes = 0
        /// Records damaged or missing that the journal could not restore.
        var lostRecords: Int64 = 0
        /// Records damaged or missing that the journal restored.
        var repairedRecords: Int64 = 0
    }

    /// The smallest framed record: header, offset and append time, no payload.
    private static let minimumRecordSize = RecordCodec.headerSize + RecordCodec.bodyPrefixSize

    static func recoverPartition(
        directory: String,
        topicPartition: TopicPartition,
        quarantineDirectory: String,
        journal: [Journal.Chunk],
        report: inout Report,
        logger: Logger
    ) throws -> [Segment] {
        try FileIO.makeDirectories(directory)
        let names = FileIO.listDirectory(directory)
        // A repair interrupted before its rename: the original segment is still in place.
        for name in names where name.hasSuffix(".log.tmp") { FileIO.remove("\(directory)/\(name)") }
        let bases = names.compactMap(Segment.baseOffset(fromFileName:)).sorted()
        var segments: [Segment] = []
        for (k, base) in bases.enumerated() {
            let path = "\(directory)/\(Segment.fileName(baseOffset: base))"
            let limit = k + 1 < bases.count ? bases[k + 1] : nil
            let bytes = try FileIO.readFile(path)
            var scan = Scan(
                bytes: bytes,
                base: base,
                limit: limit,
                path: path,
                topicPartition: topicPartition,
                quarantineDirectory: quarantineDirectory,
                journal: journal,
                logger: logger
            )
            try scan.run(report: &report)
            if scan.rewrite {
                try FileIO.writeFileAtomically(path, scan.kept, sync: true)
            } else if scan.kept.count < bytes.count {
                let fd = try FileIO.openForAppend(path)
                defer { close(fd) }
                try FileIO.truncate(fd, to: scan.kept.count, path: path)
                try FileIO.syncData(fd, path: path)
            }
            let segment = Segment(baseOffset: base, path: path, fd: try FileIO.openForAppend(path))
            Self.index(segment, bytes: scan.kept)
            segments.append(segment)
        }
        if segments.isEmpty {
            let path = "\(directory)/\(Segment.fileName(baseOffset: 0))"
            segments.append(Segment(baseOffset: 0, path: path, fd: try FileIO.openForAppend(path)))
            try FileIO.syncDirectory(directory)
        }
        return segments
    }

    /// Fills a segment's size, next offset, newest append time and sparse index from its verified records.
    private static func index(_ segment: Segment, bytes: [UInt8]) {
        var lastIndexed: Int?
        var position = 0
        bytes.withUnsafeBytes { raw in
            while position < raw.count, case .frame(let frame) = RecordCodec.decode(raw, at: position, verify: false) {
                if lastIndexed == nil || position - lastIndexed! >= Segment.indexInterval {
                    segment.index.append(Segment.IndexEntry(offset: frame.offset, position: position))
                    lastIndexed = position
                }
                segment.newestAppendNanoseconds = max(segment.newestAppendNanoseconds, frame.appendedAt)
                segment.nextOffset = frame.offset + 1
                position += frame.size
            }
        }
        segment.size = position
    }

    /// One segment's scan: the intact records it keeps, in order, with damage cut out and journal records put back.
    private struct Scan {
        let bytes: [UInt8]
        let base: Int64
        /// The next segment's base offset: every record here must lie below it. `nil` for the newest segment.
        let limit: Int64?
        let path: String
        let topicPartition: TopicPartition
        let quarantineDirectory: String
        let journal: [Journal.Chunk]
        let logger: Logger
        /// The records kept, as they will be on disk.
        var kept: [UInt8] = []
        /// Whether the file must be rewritten (more than a cut tail changed).
        var rewrite = false

        mutating func run(report: inout Report) throws {
            var position = 0
            var offset = self.base
            while position < self.bytes.count {
                let decoded = self.bytes.withUnsafeBytes { RecordCodec.decode($0, at: position, verify: true) }
                if case .frame(let frame) = decoded, frame.offset == offset, self.limit.map({ frame.offset < $0 }) ?? true {
                    self.kept += self.bytes[position..<(position + frame.size)]
                    position += frame.size
                    offset += 1
                    continue
                }
                let resume = self.nextIntactRecord(after: position, offset: offset)
                if resume == nil, self.limit == nil, case .incomplete = decoded {
                    // A record cut short by a crash, at the end of the log: never acknowledged with fsync durability.
                    self.logger.warning(
                        "Truncating torn segment tail",
                        metadata: [
                            "starling.log.segment": "\(self.path)",
                            "starling.log.valid_bytes": "\(position)",
                            "starling.log.dropped_bytes": "\(self.bytes.count - position)",
                        ]
                    )
                    return
                }
                let end = resume?.position ?? self.bytes.count
                try self.quarantine(position..<end, reason: Self.reason(decoded, expected: offset))
                report.quarantinedBytes += end - position
                self.rewrite = true
                position = end
                // The offsets the damage held, up to the next intact record; up to the next segment, below.
                if let resume {
                    self.restore(offset..<resume.offset, report: &report)
                    offset = resume.offset
                }
            }
            // Offsets missing between this segment's last record and the next segment: a damaged tail, or a lost
            // segment file.
            if let limit = self.limit, offset < limit {
                self.rewrite = self.restore(offset..<limit, report: &report) || self.rewrite
            }
        }

        /// Puts records `offsets` back from the journal when it holds them all; otherwise counts and reports them
        /// lost. Returns whether they were restored.
        @discardableResult
        private mutating func restore(_ offsets: Range<Int64>, report: inout Report) -> Bool {
            guard !offsets.isEmpty else { return false }
            if let records = Journal.records(of: self.topicPartition, offsets: offsets, in: self.journal) {
                self.kept += records
                report.repairedRecords += Int64(offsets.count)
                self.logger.warning(
                    "Restored damaged or missing records from the journal",
                    metadata: [
                        "starling.log.segment": "\(self.path)",
                        "starling.log.offsets": "\(offsets.lowerBound)..<\(offsets.upperBound)",
                    ]
                )
                return true
            }
            report.lostRecords += Int64(offsets.count)
            self.logger.error(
                "Records lost to damage: the partition continues after a gap in its offsets",
                metadata: [
                    "starling.log.segment": "\(self.path)",
                    "starling.log.partition": "\(self.topicPartition)",
                    "starling.log.offsets": "\(offsets.lowerBound)..<\(offsets.upperBound)",
                ]
            )
            return false
        }

        /// Copies damaged bytes aside, durably, before the segment is rewritten without them.
        private func quarantine(_ range: Range<Int>, reason: String) throws {
            let directory = "\(self.quarantineDirectory)/\(self.topicPartition.topic)/\(self.topicPartition.partition)"
            try FileIO.makeDirectories(directory)
            let name = self.path.split(separator: "/").last.map(String.init) ?? "segment"
            let path = "\(directory)/\(name).\(range.lowerBound).damaged"
            try FileIO.writeFileAtomically(path, Array(self.bytes[range]), sync: true)
            self.logger.error(
                "Quarantined damaged bytes of a segment",
                metadata: [
                    "starling.log.segment": "\(self.path)",
                    "starling.log.reason": "\(reason)",
                    "starling.log.position": "\(range.lowerBound)",
                    "starling.log.bytes": "\(range.count)",
                    "starling.log.quarantine": "\(path)",
                ]
            )
        }

        /// The next position after `position` where an intact record starts whose offset is at least `offset` and
        /// plausible: below the next segment's base, and no further on than the bytes left could hold. The offset
        /// is checked before the checksum, so scanning garbage costs one comparison per byte.
        private func nextIntactRecord(after position: Int, offset: Int64) -> (position: Int, offset: Int64)? {
            let bytes = self.bytes
            let limit = self.limit ?? (offset + Int64((bytes.count - position) / Recovery.minimumRecordSize) + 1)
            return bytes.withUnsafeBytes { raw -> (Int, Int64)? in
                var candidate = position + 1
                while candidate + Recovery.minimumRecordSize <= raw.count {
                    let claimed = Int64(littleEndian: raw.loadUnaligned(fromByteOffset: candidate + 8, as: Int64.self))
                    if claimed >= offset, claimed < limit,
                        case .frame(let frame) = RecordCodec.decode(raw, at: candidate, verify: true)
                    {
                        return (candidate, frame.offset)
                    }
                    candidate += 1
                }
                return nil
            }
        }

        private static func reason(_ decoded: RecordCodec.DecodeResult, expected offset: Int64) -> String {
            switch decoded {
            case .incomplete: "a record runs past the end of the segment"
            case .corrupt(let reason): reason
            case .frame(let frame): "offset \(frame.offset) where \(offset) was expected"
            }
        }
    }
}
