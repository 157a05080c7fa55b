#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
public import Logging
import StarlingCore
import StarlingHTTP
import Synchronization

/// A log handler that writes each log line as one JSON object on one line (`starling serve --log-format json`).
///
/// ```json
/// {"timestamp":"2026-12-02T08:00:00.123Z","level":"debug","label":"starling","message":"Request answered",
///  "metadata":{"hb.request.id":"4c1d…","trace.id":"4bf9…","http.status":"200"},"source":"StarlingHTTP"}
/// ```
///
/// (one line in the output). `timestamp` is RFC 3339 in UTC with milliseconds; `metadata` holds the logger's,
/// its metadata provider's and the call's metadata (later ones win), strings as strings, arrays as arrays and
/// dictionaries as objects; an error logged with the call is `metadata.error`. Lines from concurrent tasks never
/// interleave: each is written whole, under a lock.
public struct JSONLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    public var logLevel: Logger.Level = .info
    private let label: String
    private let write: @Sendable ([UInt8]) -> Void

    /// A handler whose lines go to `write`, each a whole line ending in a newline.
    ///
    /// - Parameters:
    ///   - label: The logger's label, written as `label`.
    ///   - metadataProvider: Contextual metadata added to every line.
    ///   - write: Receives each line; called for one line at a time.
    public init(
        label: String,
        metadataProvider: Logger.MetadataProvider? = nil,
        write: @escaping @Sendable ([UInt8]) -> Void
    ) {
        self.label = label
        self.metadataProvider = metadataProvider
        self.write = write
    }

    /// A handler writing to the process's standard error.
    public static func standardError(label: String, metadataProvider: Logger.MetadataProvider? = nil) -> Self {
        Self(label: label, metadataProvider: metadataProvider, write: StandardError.writeLine)
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { self.metadata[key] }
        set { self.metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = self.metadata
        if let provided = self.metadataProvider?.get() {
            merged.merge(provided) { _, new in new }
        }
        if let metadata = event.metadata {
            merged.merge(metadata) { _, new in new }
        }
        if let error = event.error {
            merged["error"] = .string(String(reflecting: error))
        }
        self.write(Self.line(at: EventTime.now(), event: event, label: self.label, metadata: merged))
    }

    /// One line: the JSON object and a newline.
    static func line(at time: EventTime, event: LogEvent, label: String, metadata: Logger.Metadata) -> [UInt8] {
        var writer = JSONWriter(capacity: 256)
        writer.beginObject()
        writer.field("timestamp", Self.timestamp(time))
        writer.field("level", event.level.rawValue)
        writer.field("label", label)
        writer.field("message", event.message.description)
        writer.key("metadata")
        Self.write(metadata, into: &writer, depth: 0)
        writer.field("source", event.source)
        writer.endObject()
        var bytes = writer.bytes
        bytes.append(UInt8(ascii: "\n"))
        return bytes
    }

    /// RFC 3339 in UTC, always with milliseconds (`…T08:00:00.000Z`), so lines sort by their timestamp.
    static func timestamp(_ time: EventTime) -> String {
        let formatted = RFC3339.format(time)
        guard !formatted.contains(".") else { return formatted }
        return String(formatted.dropLast()) + ".000Z"
    }

    private static func write(_ metadata: Logger.Metadata, into writer: inout JSONWriter, depth: Int) {
        writer.beginObject()
        for (key, value) in metadata.sorted(by: { $0.key < $1.key }) {
            writer.key(key)
            Self.write(value, into: &writer, depth: depth + 1)
        }
        writer.endObject()
    }

    /// Nesting deeper than 16 levels is written as the value's description, a string.
    private static func write(_ value: Logger.Metadata.Value, into writer: inout JSONWriter, depth: Int) {
        guard depth <= 16 else {
            writer.value(value.description)
            return
        }
        switch value {
        case .string(let string):
            writer.value(string)
        case .stringConvertible(let convertible):
            writer.value(convertible.description)
        case .array(let values):
            writer.beginArray()
            for value in values { Self.write(value, into: &writer, depth: depth + 1) }
            writer.endArray()
        case .dictionary(let metadata):
            Self.write(metadata, into: &writer, depth: depth)
        }
    }
}

/// Whole lines to file descriptor 2, one writer at a time.
enum StandardError {
    private static let lock = Mutex(())

    @Sendable static func writeLine(_ bytes: [UInt8]) {
        self.lock.withLock { _ in
            bytes.withUnsafeBytes { buffer in
                var offset = 0
                while offset < buffer.count {
                    let written = write(2, buffer.baseAddress! + offset, buffer.count - offset)
                    if written < 0 {
                        if errno == EINTR { continue }
                        return
                    }
                    offset += written
                }
            }
        }
    }
}
