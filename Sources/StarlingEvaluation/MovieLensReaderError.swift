/// Why a MovieLens file could not be read. The description names the file and, for a bad line, its number.
public struct MovieLensReaderError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The file's path, as given.
    public var file: String
    /// The 1-based line at fault, or `nil` when the file as a whole is at fault (missing, unreadable).
    public var line: Int?
    /// What is wrong.
    public var message: String

    /// Creates an error about `file` (and `line`).
    public init(file: String, line: Int? = nil, _ message: String) {
        self.file = file
        self.line = line
        self.message = message
    }

    public var description: String {
        if let line { return "\(self.file):\(line): \(self.message)" }
        return "\(self.file): \(self.message)"
    }
}
