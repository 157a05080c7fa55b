#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization


/// Thin, throwing wrappers over the POSIX calls the embedded storage uses (log segments, checkpoints).
package enum FileIO {
    package static func errorMessage(_ what: String, _ path: String) -> String {
        "\(what) \(path): \(String(cString: strerror(errno)))"
    }

    package static func makeDirectories(_ path: String) throws {
        var current = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            current += "/" + component
            if mkdir(current, 0o755) != 0, errno != EEXIST {
                throw EventLogError.io(errorMessage("cannot create directory", current))
            }
        }
    }

    /// Opens or creates a file for reading and writing.
    ///
    /// - Throws: ``EventLogError/diskFull(_:)`` when the file cannot be created for want of space (`ENOSPC`,
    ///   `EDQUOT`), ``EventLogError/io(_:)`` on any other failure.
    package static func openForAppend(_ path: String) throws -> Int32 {
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw writeError("cannot open", path) }
        return fd
    }

    /// `ENOSPC` and `EDQUOT` from a call that writes: ``EventLogError/diskFull(_:)``, which callers may retry once
    /// space is freed. Any other `errno`: ``EventLogError/io(_:)``. Read `errno` right after the failed call.
    package static func writeError(_ what: String, _ path: String) -> EventLogError {
        let code = errno
        let message = errorMessage(what, path)
        return code == ENOSPC || code == EDQUOT ? .diskFull(message) : .io(message)
    }

    package static func openForReading(_ path: String) throws -> Int32 {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw EventLogError.io(errorMessage("cannot open", path)) }
        return fd
    }

    package static func size(of fd: Int32) -> Int {
        var info = stat()
        guard fstat(fd, &info) == 0 else { return 0 }
        return Int(info.st_size)
    }

    /// Writes all of `bytes` at `offset`.
    ///
    /// - Throws: ``EventLogError/diskFull(_:)`` when the disk is full (`ENOSPC`) or the quota is used up
    ///   (`EDQUOT`), ``EventLogError/io(_:)`` on any other failure. Part of `bytes` may have been written then: the
    ///   caller cuts the file back to where the write started.
    package static func write(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, at offset: Int, path: String) throws {
        var done = 0
        while done < bytes.count {
            let n = pwrite(fd, bytes.baseAddress! + done, bytes.count - done, off_t(offset + done))
            if n < 0 {
                if errno == EINTR { continue }
                throw writeError("cannot write", path)
            }
            done += n
        }
    }

    /// Reads up to `count` bytes at `offset` into `buffer`, returning how many were read.
    package static func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, at offset: Int, path: String)
        throws -> Int
    {
        var done = 0
        while done < buffer.count {
            let n = pread(fd, buffer.baseAddress! + done, buffer.count - done, off_t(offset + done))
            if n < 0 {
                if errno == EINTR { continue }
                throw EventLogError.io(errorMessage("cannot read", path))
            }
            if n == 0 { break }
            done += n
        }
        return done
    }

    package static func syncData(_ fd: Int32, path: String) throws {
        #if canImport(Glibc)
        let result = fdatasync(fd)
        #else
        let result = fsync(fd)
        #endif
        guard result == 0 else { throw EventLogError.io(errorMessage("cannot sync", path)) }
    }

    package static func syncDirectory(_ path: String) throws {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw EventLogError.io(errorMessage("cannot open directory", path)) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw EventLogError.io(errorMessage("cannot sync directory", path)) }
    }

    package static func truncate(_ fd: Int32, to size: Int, path: String) throws {
        guard ftruncate(fd, off_t(size)) == 0 else { throw EventLogError.io(errorMessage("cannot truncate", path)) }
    }

    package static func listDirectory(_ path: String) -> [String] {
        guard let dir = opendir(path) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    package static func exists(_ path: String) -> Bool {
        access(path, F_OK) == 0
    }

    package static func remove(_ path: String) {
        unlink(path)
    }

    /// Reads a whole small file.
    package static func readFile(_ path: String) throws -> [UInt8] {
        let fd = try openForReading(path)
        defer { close(fd) }
        let size = self.size(of: fd)
        var bytes = [UInt8](repeating: 0, count: size)
        let n = try bytes.withUnsafeMutableBytes { buffer in
            try read(fd, into: buffer, at: 0, path: path)
        }
        return Array(bytes[0..<n])
    }

    /// Replaces a small file atomically: write a temporary file, sync it, rename it over, sync the directory.
    ///
    /// Until the rename the previous file stays as it was, so a failure (a full disk: ``EventLogError/diskFull(_:)``)
    /// leaves it valid; the temporary file is removed then, so that a failed attempt does not keep holding the space
    /// it took.
    package static func writeFileAtomically(_ path: String, _ bytes: [UInt8], sync: Bool) throws {
        try self.replaceAtomically(path, sync: sync) { fd, temporary in
            try bytes.withUnsafeBytes { buffer in try write(fd, buffer, at: 0, path: temporary) }
        }
    }

    /// Replaces `path` atomically, like ``writeFileAtomically(_:_:sync:)``, with what `contents` writes through a
    /// streaming ``BinaryWriter`` — about a MiB of it in memory at a time, however large the file — followed by
    /// the CRC-32C of the file's bytes from offset `checksumFrom` on (4 bytes, little-endian).
    package static func writeFileAtomically(
        _ path: String,
        sync: Bool,
        checksumFrom: Int,
        contents: (inout BinaryWriter) -> Void
    ) throws {
        try self.replaceAtomically(path, sync: sync) { fd, temporary in
            let sink = FileSink(fd: fd, path: temporary, checksumFrom: checksumFrom)
            var writer = BinaryWriter(streamingTo: sink)
            contents(&writer)
            writer.flush()
            writer.write(try sink.checksum())
            writer.flush()
            _ = try sink.checksum()
        }
    }

    /// Writes `path + ".tmp"` with `write`, syncs it when `sync`, renames it over `path` and syncs the directory.
    /// On failure the temporary file is removed (it may hold what a full disk needs back) and `path` is unchanged.
    private static func replaceAtomically(
        _ path: String,
        sync: Bool,
        _ write: (_ fd: Int32, _ temporary: String) throws -> Void
    ) throws {
        let temporary = path + ".tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw writeError("cannot create", temporary) }
        do {
            try write(fd, temporary)
            if sync { try syncData(fd, path: temporary) }
        } catch {
            close(fd)
            unlink(temporary)
            throw error
        }
        close(fd)
        guard rename(temporary, path) == 0 else {
            let message = errorMessage("cannot rename", temporary)
            unlink(temporary)
            throw EventLogError.io(message)
        }
        if sync {
            let directory = path.split(separator: "/", omittingEmptySubsequences: false).dropLast()
                .joined(separator: "/")
            try syncDirectory(directory.isEmpty ? "." : directory)
        }
    }
}

/// Appends what a streaming ``BinaryWriter`` hands over to a file, keeping a CRC-32C of the bytes from an offset on.
/// The first failed write is kept (and everything after it ignored) until ``checksum()`` throws it.
private final class FileSink: BinaryWriterSink {
    private struct State {
        var offset = 0
        var checksum: UInt32 = 0
        var failure: (any Error)?
    }

    private let fd: Int32
    private let path: String
    private let checksumFrom: Int
    private let state = Mutex(State())

    init(fd: Int32, path: String, checksumFrom: Int) {
        self.fd = fd
        self.path = path
        self.checksumFrom = checksumFrom
    }

    func consume(_ bytes: UnsafeRawBufferPointer) {
        self.state.withLock { state in
            guard state.failure == nil else { return }
            let skipped = min(max(self.checksumFrom - state.offset, 0), bytes.count)
            state.checksum = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: bytes[skipped...]), continuing: state.checksum)
            do {
                try FileIO.write(self.fd, bytes, at: state.offset, path: self.path)
                state.offset += bytes.count
            } catch {
                state.failure = error
            }
        }
    }

    /// The checksum of what was written from `checksumFrom` on, or the first write's failure.
    func checksum() throws -> UInt32 {
        try self.state.withLock { state in
            if let failure = state.failure { throw failure }
            return state.checksum
        }
    }
}
