#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Logging
import StarlingCore

/// Opening a partition: every segment is scanned, checksums and offsets are verified, and a torn or corrupt tail
/// is truncated (with every later segment removed), so that the log always ends at its last intact record.
enum Recovery {
    static func recoverPartition(
        directory: String,
        topicPartition: TopicPartition,
        logger: Logger
    ) throws -> [Segment] {
        try FileIO.makeDirectories(directory)
        let bases = FileIO.listDirectory(directory).compactMap(Segment.baseOffset(fromFileName:)).sorted()
        var segments: [Segment] = []
        var expected: Int64? = nil
        var damaged = false
        for base in bases {
            let path = "\(directory)/\(Segment.fileName(baseOffset: base))"
            if damaged || (expected != nil && base != expected) {
                logger.warning(
                    "Removing segment after a damaged or missing one",
                    metadata: ["starling.log.segment": "\(path)"]
                )
                FileIO.remove(path)
                damaged = true
                continue
            }
            let fd = try FileIO.openForAppend(path)
            let segment = Segment(baseOffset: base, path: path, fd: fd)
            let intact = try self.scan(segment, logger: logger)
            segments.append(segment)
            expected = segment.nextOffset
            if !intact { damaged = true }
        }
        if segments.isEmpty {
            let path = "\(directory)/\(Segment.fileName(baseOffset: 0))"
            segments.append(Segment(baseOffset: 0, path: path, fd: try FileIO.openForAppend(path)))
            try FileIO.syncDirectory(directory)
        }
        return segments
    }

    /// Scans one segment, fills its size, next offset and index, and truncates a damaged tail.
    /// - Returns: Whether the segment was intact.
    private static func scan(_ segment: Segment, logger: Logger) throws -> Bool {
        let fileSize = FileIO.size(of: segment.fd)
        var bytes = [UInt8](repeating: 0, count: fileSize)
        let read = try bytes.withUnsafeMutableBytes { buffer in
            try FileIO.read(segment.fd, into: buffer, at: 0, path: segment.path)
        }
        var position = 0
        var offset = segment.baseOffset
        var problem: String?
        var lastIndexed: Int?
        bytes.withUnsafeBytes { raw in
            let raw = UnsafeRawBufferPointer(rebasing: raw[0..<read])
            while position < raw.count {
                switch RecordCodec.decode(raw, at: position, verify: true) {
                case .incomplete:
                    problem = "torn record at the end"
                    return
                case .corrupt(let reason):
                    problem = reason
                    return
                case .frame(let frame):
                    guard frame.offset == offset else {
                        problem = "offset \(frame.offset) where \(offset) was expected"
                        return
                    }
                    if lastIndexed == nil || position - lastIndexed! >= Segment.indexInterval {
                        segment.index.append(Segment.IndexEntry(offset: offset, position: position))
                        lastIndexed = position
                    }
                    segment.newestAppendNanoseconds = frame.appendedAt
                    position += frame.size
                    offset += 1
                }
            }
        }
        segment.size = position
        segment.nextOffset = offset
        if let problem {
            logger.warning(
                "Truncating damaged segment tail",
                metadata: [
                    "starling.log.segment": "\(segment.path)",
                    "starling.log.reason": "\(problem)",
                    "starling.log.valid_bytes": "\(position)",
                    "starling.log.dropped_bytes": "\(fileSize - position)",
                ]
            )
            try FileIO.truncate(segment.fd, to: position, path: segment.path)
            try FileIO.syncData(segment.fd, path: segment.path)
            return false
        }
        return true
    }
}
