import StarlingCore

/// Where the processor keeps its latest checkpoint.
public protocol CheckpointStore: Sendable {
    /// The latest checkpoint, or `nil` when there is none.
    func load() async throws -> Checkpoint?
    /// Replaces the latest checkpoint durably.
    func save(_ checkpoint: Checkpoint) async throws
}

/// A ``CheckpointStore`` in one file, replaced atomically (write, sync, rename, sync the directory).
public struct FileCheckpointStore: CheckpointStore {
    /// The checkpoint file.
    public let path: String

    /// Stores checkpoints in `directory/processor.checkpoint`, creating the directory when missing.
    public init(directory: String) throws {
        try FileIO.makeDirectories(directory)
        self.path = "\(directory)/processor.checkpoint"
    }

    public func load() async throws -> Checkpoint? {
        guard FileIO.exists(self.path) else { return nil }
        let bytes = try FileIO.readFile(self.path)
        do {
            return try Checkpoint(decoding: bytes)
        } catch {
            throw EventLogError.corrupt("checkpoint \(self.path) does not decode (\(error))")
        }
    }

    /// Writes the checkpoint as a stream (the engine's state is encoded as it is written, never held whole) to a
    /// temporary file, syncs it and renames it over the previous one.
    public func save(_ checkpoint: Checkpoint) async throws {
        try FileIO.writeFileAtomically(self.path, sync: true, checksumFrom: Checkpoint.checksumFrom) { writer in
            checkpoint.write(into: &writer)
        }
    }
}

/// A ``CheckpointStore`` in memory, for tests.
public final class MemoryCheckpointStore: CheckpointStore {
    private let box = LockedBox<Checkpoint?>(nil)

    public init() {}

    public func load() async throws -> Checkpoint? { self.box.value }

    public func save(_ checkpoint: Checkpoint) async throws { self.box.withLock { $0 = checkpoint } }
}
