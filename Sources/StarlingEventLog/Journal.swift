#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Logging
import StarlingCore

/// The commit journal: how one `fdatasync` makes a whole group commit durable, however many partitions it touched.
///
/// Syncing every touched partition file costs one device flush per file (measured on this kind of machine:
/// about 3 ms each, 80 ms for 24 files in sequence), so a commit writes its records to their partition files
/// *without* syncing them, appends the same bytes as chunks to one journal file, and syncs only the journal. A
/// background flusher syncs the partition files about once a second and then deletes the journal files that only
/// hold chunks it has made redundant. On open, every remaining journal file is replayed: chunks whose records are
/// already in their partition are skipped by offset, missing records are appended. This is the journal and
/// ledger-storage split of Apache BookKeeper.
///
/// Journal chunk framing (little-endian):
/// ```
/// u32 body length | u32 CRC-32C of body | body
/// body = u16 topic length | topic UTF-8 | u32 partition | i64 first offset | framed records (RecordCodec)
/// ```
final class Journal: @unchecked Sendable {
    // @unchecked: after init, the mutable members are used only by the log's writer thread.
    static let rollBytes = 32 * 1_024 * 1_024

    let directory: String
    private let sync: LogSync
    private(set) var sequence: UInt64
    private var fd: Int32
    /// Bytes written to the current file.
    private(set) var position: Int

    /// One partition's part of a commit.
    struct Chunk {
        var topicPartition: TopicPartition
        var firstOffset: Int64
        var records: [UInt8]
    }

    /// Opens a new journal file after every older one has been replayed and deleted.
    init(directory: String, sequence: UInt64, sync: LogSync) throws {
        try FileIO.makeDirectories(directory)
        self.directory = directory
        self.sync = sync
        self.sequence = sequence
        self.fd = try FileIO.openForAppend(Self.path(directory, sequence))
        self.position = 0
        try sync.directory(directory)
    }

    deinit {
        close(self.fd)
    }

    static func path(_ directory: String, _ sequence: UInt64) -> String {
        let digits = String(sequence)
        return "\(directory)/\(String(repeating: "0", count: max(0, 20 - digits.count)))\(digits).journal"
    }

    static func sequences(in directory: String) -> [UInt64] {
        FileIO.listDirectory(directory).compactMap { name in
            name.hasSuffix(".journal") ? UInt64(name.dropLast(8)) : nil
        }.sorted()
    }

    /// Appends a commit's chunks and syncs the journal; rolls to a new file first when this one is full.
    ///
    /// - Throws: ``EventLogError/diskFull(_:)`` when the disk is full: the file is cut back to its last whole chunk,
    ///   and the next call tries again. Any other error (a failed `fdatasync` above all) leaves the journal's
    ///   durability in doubt: the log stops.
    func append(_ chunks: [Chunk]) throws {
        if self.position >= Self.rollBytes {
            try self.roll()
        }
        var buffer: [UInt8] = []
        buffer.reserveCapacity(chunks.reduce(0) { $0 + $1.records.count + 64 })
        for chunk in chunks {
            let start = buffer.count
            buffer.append(contentsOf: repeatElement(0, count: 8))
            var writer = BinaryWriter(capacity: 32)
            let topic = Array(chunk.topicPartition.topic.utf8)
            writer.bytes.append(UInt8(truncatingIfNeeded: topic.count))
            writer.bytes.append(UInt8(truncatingIfNeeded: topic.count >> 8))
            writer.bytes.append(contentsOf: topic)
            writer.write(UInt32(chunk.topicPartition.partition))
            writer.write(chunk.firstOffset)
            buffer.append(contentsOf: writer.bytes)
            buffer.append(contentsOf: chunk.records)
            let bodyLength = buffer.count - start - 8
            buffer.withUnsafeMutableBytes { raw in
                let crc = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[(start + 8)...]))
                raw.storeBytes(of: UInt32(bodyLength).littleEndian, toByteOffset: start, as: UInt32.self)
                raw.storeBytes(of: crc.littleEndian, toByteOffset: start + 4, as: UInt32.self)
            }
        }
        let path = Self.path(self.directory, self.sequence)
        do {
            try buffer.withUnsafeBytes { try self.sync.write(self.fd, $0, at: self.position, path: path) }
        } catch let error as EventLogError where error == .diskFull("") {
            // Nothing of this commit is acknowledged: cut off what the failed write stored, so that the file ends
            // with the last whole chunk and the space is free again. Failing that, the journal's end is unknown.
            try FileIO.truncate(self.fd, to: self.position, path: path)
            throw error
        }
        try self.sync.data(self.fd, path: path)
        self.position += buffer.count
    }

    /// Continues in a new, empty file, so that the flusher can delete the current one once the partition files
    /// holding its chunks are synced.
    func roll() throws {
        let next = self.sequence + 1
        let fd = try FileIO.openForAppend(Self.path(self.directory, next))
        try self.sync.directory(self.directory)
        close(self.fd)
        self.fd = fd
        self.sequence = next
        self.position = 0
    }

    /// Deletes the journal files older than `sequence`: their chunks are all in synced partition files.
    static func deleteFiles(in directory: String, before sequence: UInt64) {
        for old in self.sequences(in: directory) where old < sequence {
            FileIO.remove(self.path(directory, old))
        }
    }

    /// Every intact chunk of every journal file in `directory`, oldest first, and the files' sequence numbers.
    static func read(directory: String, logger: Logger) throws -> (sequences: [UInt64], chunks: [Chunk]) {
        try FileIO.makeDirectories(directory)
        let sequences = self.sequences(in: directory)
        var chunks: [Chunk] = []
        for sequence in sequences {
            let path = self.path(directory, sequence)
            let bytes = try FileIO.readFile(path)
            var position = 0
            while position + 8 <= bytes.count {
                let (bodyLength, stored) = bytes.withUnsafeBytes { raw in
                    (
                        Int(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: position, as: UInt32.self))),
                        UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: position + 4, as: UInt32.self))
                    )
                }
                guard bodyLength >= 14, position + 8 + bodyLength <= bytes.count else { break }
                let body = bytes[(position + 8)..<(position + 8 + bodyLength)]
                guard CRC32C.checksum(body) == stored else { break }
                position += 8 + bodyLength
                guard let chunk = Self.decodeChunk(body) else { break }
                chunks.append(chunk)
            }
            if position < bytes.count {
                logger.warning(
                    "Journal ends in a torn or corrupt chunk (never acknowledged); ignoring the rest",
                    metadata: ["starling.log.journal": "\(path)", "starling.log.dropped_bytes": "\(bytes.count - position)"]
                )
            }
        }
        return (sequences, chunks)
    }

    /// Replays the chunks ``read(directory:logger:)`` found into `partitions`, then deletes the journal files.
    ///
    /// - Returns: The sequence number for the next journal file.
    static func replay(
        _ journal: (sequences: [UInt64], chunks: [Chunk]),
        directory: String,
        into partitions: inout [PartitionState],
        sync: LogSync,
        report: inout Recovery.Report,
        logger: Logger
    ) throws -> UInt64 {
        var byName: [TopicPartition: Int] = [:]
        for (k, partition) in partitions.enumerated() { byName[partition.topicPartition] = k }
        var touched: [ObjectIdentifier: Segment] = [:]
        var replayed = 0
        for chunk in journal.chunks {
            guard let k = byName[chunk.topicPartition] else {
                logger.warning(
                    "Journal chunk for an unknown partition skipped",
                    metadata: ["starling.log.partition": "\(chunk.topicPartition)"]
                )
                continue
            }
            for segment in partitions[k].segments { touched[ObjectIdentifier(segment)] = segment }
            do {
                let (appended, gap) = try Self.apply(chunk, to: &partitions[k])
                replayed += appended
                if let gap {
                    report.lostRecords += Int64(gap.count)
                    logger.error(
                        "Records lost: the journal's records resume after a gap in the partition's offsets",
                        metadata: [
                            "starling.log.partition": "\(chunk.topicPartition)",
                            "starling.log.offsets": "\(gap.lowerBound)..<\(gap.upperBound)",
                        ]
                    )
                }
            } catch {
                // A chunk that does not decode, or skips offsets within itself: its records cannot be placed.
                logger.error(
                    "Journal chunk cannot be replayed",
                    metadata: ["starling.log.partition": "\(chunk.topicPartition)", "starling.log.error": "\(error)"]
                )
            }
        }
        // Every partition the journal names is synced before the journal goes: its records may sit only in
        // unsynced page cache after a kill -9, written but never flushed.
        for segment in touched.values {
            try sync.data(segment.fd, path: segment.path)
        }
        for directory in Set(touched.values.map { String($0.path.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")) }) {
            try sync.directory(directory)
        }
        if replayed > 0 {
            logger.info("Replayed journal into partitions", metadata: ["starling.log.records": "\(replayed)"])
        }
        for sequence in journal.sequences { FileIO.remove(self.path(directory, sequence)) }
        return (journal.sequences.last ?? 0) + 1
    }

    /// The framed records `offsets` of `topicPartition`, in order, if the chunks hold every one of them intact:
    /// what recovery puts back in place of damaged or missing records.
    static func records(
        of topicPartition: TopicPartition,
        offsets: Range<Int64>,
        in chunks: [Chunk]
    ) -> [UInt8]? {
        guard !offsets.isEmpty else { return [] }
        var found: [Int64: [UInt8]] = [:]
        for chunk in chunks where chunk.topicPartition == topicPartition {
            chunk.records.withUnsafeBytes { raw in
                var position = 0
                while position < raw.count, case .frame(let frame) = RecordCodec.decode(raw, at: position, verify: true) {
                    if offsets.contains(frame.offset) {
                        found[frame.offset] = Array(raw[position..<(position + frame.size)])
                    }
                    position += frame.size
                }
            }
        }
        guard found.count == offsets.count else { return nil }
        var bytes: [UInt8] = []
        for offset in offsets { bytes += found[offset]! }
        return bytes
    }

    private static func decodeChunk(_ body: ArraySlice<UInt8>) -> Chunk? {
        body.withUnsafeBytes { raw -> Chunk? in
            guard raw.count >= 2 else { return nil }
            let topicLength = Int(raw[0]) | Int(raw[1]) << 8
            guard raw.count >= 2 + topicLength + 12 else { return nil }
            let topic = String(decoding: UnsafeRawBufferPointer(rebasing: raw[2..<(2 + topicLength)]), as: UTF8.self)
            let partition = Int(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 2 + topicLength, as: UInt32.self)))
            let firstOffset = Int64(littleEndian: raw.loadUnaligned(fromByteOffset: 6 + topicLength, as: Int64.self))
            return Chunk(
                topicPartition: TopicPartition(topic: topic, partition: partition),
                firstOffset: firstOffset,
                records: Array(raw[(14 + topicLength)...])
            )
        }
    }

    /// Appends the chunk's records that the partition lacks. Returns how many were appended.
    /// Appends the chunk's records that the partition lacks. Returns how many were appended, and the offsets skipped
    /// before them when the chunk's new records start beyond the partition's end: records nobody holds any more
    /// (damaged in the partition after the journal that held them was retired). The records after such a gap were
    /// acknowledged too, so they are kept, and the partition's offsets have a gap there.
    private static func apply(_ chunk: Chunk, to partition: inout PartitionState) throws -> (appended: Int, gap: Range<Int64>?) {
        let next = partition.nextOffset
        var start: Int?
        var first: Int64?
        var gap: Range<Int64>?
        var count = 0
        var last = next
        var newestAppend: Int64 = 0
        try chunk.records.withUnsafeBytes { raw in
            var position = 0
            while position < raw.count {
                guard case .frame(let frame) = RecordCodec.decode(raw, at: position, verify: true) else {
                    throw EventLogError.corrupt("journal chunk for \(chunk.topicPartition) holds a bad record")
                }
                if frame.offset >= next {
                    if start == nil, frame.offset > last {
                        gap = last..<frame.offset
                        last = frame.offset
                    }
                    guard frame.offset == last else {
                        throw EventLogError.corrupt(
                            "journal chunk for \(chunk.topicPartition) skips from offset \(last) to \(frame.offset)"
                        )
                    }
                    if start == nil {
                        start = position
                        first = frame.offset
                    }
                    newestAppend = max(newestAppend, frame.appendedAt)
                    last += 1
                    count += 1
                }
                position += frame.size
            }
        }
        guard let start, let first, count > 0 else { return (0, nil) }
        let segment = partition.segments.last!
        let suffix = Array(chunk.records[start...])
        try suffix.withUnsafeBytes { try FileIO.write(segment.fd, $0, at: segment.size, path: segment.path) }
        segment.index.append(
            contentsOf: LogWriter.indexEntries(
                suffix,
                firstOffset: first,
                startPosition: segment.size,
                lastIndexed: segment.index.last?.position
            )
        )
        segment.size += suffix.count
        segment.nextOffset = last
        segment.newestAppendNanoseconds = max(segment.newestAppendNanoseconds, newestAppend)
        partition.nextOffset = last
        return (count, gap)
    }
}
