/// Which test users a temporal row is over: ``all`` of them, the ``warm`` ones (with at least one training event) or
/// the ``cold`` ones (with none).
///
/// Warm and cold users answer different questions: for a warm user the recommender can use what it learned about
/// them, for a cold one only what it learned about everyone. On MovieLens-100K most of the temporal test users are
/// cold, so the all-users figure mostly measures the cold-start fallback.
public struct EvaluationUsers: Hashable, Sendable, CustomStringConvertible {
    /// The name used in tables and in JSON output.
    public let name: String

    public init(_ name: String) {
        self.name = name
    }

    public var description: String { self.name }

    /// Every evaluated user (the only group of a prequential row).
    public static let all = EvaluationUsers("all")
    /// Users with at least one training event of any kind.
    public static let warm = EvaluationUsers("warm")
    /// Users with no training event.
    public static let cold = EvaluationUsers("cold")
}
