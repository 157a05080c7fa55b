/// Why talking to a Starling server through its public API failed. The description says what was asked of which
/// server and what went wrong.
public struct APIClientError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What went wrong.
    public var message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { self.message }
}
