import Foundation

/// The events not yet acknowledged by the server, in the order they were tracked, kept in memory and — when given a
/// file — on disk as one JSON event per line, so that they survive the app being killed or restarted.
///
/// A new event is appended to the file (one `write`: it survives the process, if not a power loss); once the server
/// acknowledged the first events, the rest is written to a temporary file that replaces the queue file. A torn last
/// line (the process died mid-write) is skipped when the file is read back.
struct EventQueue {
    private(set) var events: [StarlingEvent] = []
    private let path: String?
    private let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    /// Opens the queue at `path` (created when missing), or a queue in memory only when `path` is `nil`.
    init(path: String?) throws {
        self.path = path
        guard let path else { return }
        let directory = (path as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        guard let data = FileManager.default.contents(atPath: path) else { return }
        let decoder = JSONDecoder()
        for line in data.split(separator: UInt8(ascii: "\n")) where !line.isEmpty {
            if let event = try? decoder.decode(StarlingEvent.self, from: Data(line)) { self.events.append(event) }
        }
    }

    var count: Int { self.events.count }
    var isEmpty: Bool { self.events.isEmpty }

    mutating func append(_ event: StarlingEvent) throws {
        if let path = self.path {
            var line = try self.encoder.encode(event)
            line.append(UInt8(ascii: "\n"))
            if !FileManager.default.fileExists(atPath: path) {
                guard FileManager.default.createFile(atPath: path, contents: nil) else {
                    throw StarlingClientError.storage("cannot create \(path)")
                }
            }
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
            defer { try? handle.close() }
            try handle.seekToEnd()
            try handle.write(contentsOf: line)
        }
        self.events.append(event)
    }

    /// Forgets the first `count` events (acknowledged by the server).
    mutating func removeFirst(_ count: Int) throws {
        self.events.removeFirst(count)
        guard let path = self.path else { return }
        var data = Data()
        for event in self.events {
            data.append(try self.encoder.encode(event))
            data.append(UInt8(ascii: "\n"))
        }
        try data.write(to: URL(fileURLWithPath: path), options: .atomic)
    }
}
