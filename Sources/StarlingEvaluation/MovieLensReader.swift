import Foundation
public import StarlingCore

/// Reads MovieLens ratings as Starling ``Event``s, for offline evaluation.
///
/// Two layouts are understood, both tab-separated with one rating per line:
///
/// - ``Format/atomic``: RecBole's atomic `.inter` files. The first line is a header of `name:type` fields
///   (`user_id:token	item_id:token	rating:float	timestamp:float`); columns are found by name, in any order,
///   and other columns are ignored.
/// - ``Format/groupLens``: GroupLens's original `u.data`: `user	item	rating	timestamp`, no header.
///
/// The format is taken from the file name (`.inter`) or, failing that, from the first line (a header of
/// `name:type` fields). Every line becomes a `rating` event whose `value` is the rating and whose timestamp is the
/// line's Unix seconds in milliseconds. The events are returned in time order; lines with equal timestamps keep
/// their order in the file.
///
/// ```swift
/// let events = try MovieLensReader.read(path: "ml-100k/ml-100k.inter")
/// ```
public enum MovieLensReader {
    /// A MovieLens file layout.
    public struct Format: Hashable, Sendable, CustomStringConvertible {
        public let name: String

        public init(_ name: String) {
            self.name = name
        }

        public var description: String { self.name }

        /// RecBole's atomic files: a header line of `name:type` fields, columns found by name.
        public static let atomic = Format("atomic")
        /// GroupLens's `u.data`: `user	item	rating	timestamp`, no header.
        public static let groupLens = Format("u.data")
    }

    /// Reads the ratings in the file at `path`.
    ///
    /// - Parameters:
    ///   - path: The file to read.
    ///   - format: The layout, or `nil` to detect it from the file name and first line.
    /// - Returns: One `rating` event per line, in time order.
    /// - Throws: A ``MovieLensReaderError`` naming the file (and the line) when the file is missing or unreadable,
    ///   or a line is malformed.
    public static func read(path: String, format: Format? = nil) throws(MovieLensReaderError) -> [Event] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw MovieLensReaderError(file: path, "no such file")
        }
        guard !isDirectory.boolValue else {
            throw MovieLensReaderError(file: path, "is a directory, not a ratings file")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw MovieLensReaderError(file: path, "cannot read the file")
        }
        return try self.parse([UInt8](data), file: path, format: format)
    }

    /// Parses the contents of a ratings file.
    ///
    /// - Parameters:
    ///   - bytes: The file's contents (UTF-8).
    ///   - file: The file's name or path, used to detect the format and in error messages.
    ///   - format: The layout, or `nil` to detect it from `file` and the first line.
    /// - Returns: One `rating` event per line, in time order.
    public static func parse(
        _ bytes: [UInt8],
        file: String,
        format: Format? = nil
    ) throws(MovieLensReaderError) -> [Event] {
        var events: [Event] = []
        var columns: Columns?
        var format = format
        var lineNumber = 0
        var start = bytes.starts(with: [0xEF, 0xBB, 0xBF]) ? 3 : 0  // a UTF-8 byte-order mark
        while start < bytes.count {
            var end = start
            while end < bytes.count, bytes[end] != UInt8(ascii: "\n") { end += 1 }
            var lineEnd = end
            if lineEnd > start, bytes[lineEnd - 1] == UInt8(ascii: "\r") { lineEnd -= 1 }
            let line = bytes[start..<lineEnd]
            start = end + 1
            lineNumber += 1
            if line.allSatisfy({ $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }) { continue }

            let fields = line.split(separator: UInt8(ascii: "\t"), omittingEmptySubsequences: false)
                .map { String(decoding: $0, as: UTF8.self) }
            guard let layout = columns else {
                let detected = format ?? self.detectFormat(file: file, firstLine: fields)
                format = detected
                if detected == .atomic {
                    columns = try Columns(header: fields, file: file, line: lineNumber)
                    continue
                }
                columns = .groupLens
                events.append(try self.event(fields, columns: .groupLens, file: file, line: lineNumber))
                continue
            }
            events.append(try self.event(fields, columns: layout, file: file, line: lineNumber))
        }
        return events.sortedByTime()
    }

    /// The format of a file named `file` whose first non-blank line has `firstLine`'s fields.
    static func detectFormat(file: String, firstLine: [String]) -> Format {
        if file.hasSuffix(".inter") { return .atomic }
        if !firstLine.isEmpty, firstLine.allSatisfy({ $0.contains(":") }) { return .atomic }
        return .groupLens
    }

    /// Where the four needed fields are in a line.
    struct Columns {
        var count: Int
        var user: Int
        var item: Int
        var rating: Int
        var timestamp: Int

        static let groupLens = Columns(count: 4, user: 0, item: 1, rating: 2, timestamp: 3)

        init(count: Int, user: Int, item: Int, rating: Int, timestamp: Int) {
            self.count = count
            self.user = user
            self.item = item
            self.rating = rating
            self.timestamp = timestamp
        }

        /// Finds the columns in an atomic-file header (`user_id:token	item_id:token	…`).
        init(header: [String], file: String, line: Int) throws(MovieLensReaderError) {
            let names = header.map { field in
                String(field.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)[0])
            }
            func column(_ name: String) throws(MovieLensReaderError) -> Int {
                guard let index = names.firstIndex(of: name) else {
                    throw MovieLensReaderError(
                        file: file,
                        line: line,
                        "the header has no '\(name)' column (it has \(names.map { "'\($0)'" }.joined(separator: ", ")))"
                    )
                }
                return index
            }
            self.init(
                count: header.count,
                user: try column("user_id"),
                item: try column("item_id"),
                rating: try column("rating"),
                timestamp: try column("timestamp")
            )
        }
    }

    static func event(_ fields: [String], columns: Columns, file: String, line: Int) throws(MovieLensReaderError)
        -> Event
    {
        guard fields.count == columns.count else {
            throw MovieLensReaderError(
                file: file,
                line: line,
                "expected \(columns.count) tab-separated fields, found \(fields.count)"
            )
        }
        let user = fields[columns.user]
        let item = fields[columns.item]
        guard !user.isEmpty else { throw MovieLensReaderError(file: file, line: line, "the user id is empty") }
        guard !item.isEmpty else { throw MovieLensReaderError(file: file, line: line, "the item id is empty") }
        guard let rating = Double(fields[columns.rating]), rating.isFinite else {
            throw MovieLensReaderError(
                file: file,
                line: line,
                "the rating '\(fields[columns.rating])' is not a number"
            )
        }
        guard let seconds = Double(fields[columns.timestamp]), seconds.isFinite, abs(seconds) < 9e15 else {
            throw MovieLensReaderError(
                file: file,
                line: line,
                "the timestamp '\(fields[columns.timestamp])' is not a number of Unix seconds"
            )
        }
        let milliseconds = Int64(fields[columns.timestamp]).map { $0 * 1_000 } ?? Int64((seconds * 1_000).rounded())
        return Event(
            type: .rating,
            user: user,
            item: item,
            timestamp: EventTime(milliseconds: milliseconds),
            value: rating
        )
    }
}
