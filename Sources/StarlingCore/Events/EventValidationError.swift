/// Why one event of a batch was rejected. The message always names the offending field.
public struct EventValidationError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The field at fault, or `nil` when the event as a whole is malformed.
    public var field: String?
    /// What is wrong with it.
    public var message: String

    /// Creates an error about `field`.
    public init(field: String?, _ message: String) {
        self.field = field
        self.message = message
    }

    public var description: String {
        if let field { return "\(field): \(self.message)" }
        return self.message
    }
}
