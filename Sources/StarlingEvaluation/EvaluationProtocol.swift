/// How recommendations are evaluated offline: ``prequential`` (test, then train, one event at a time) or
/// ``temporal`` (train on the past, test on the future).
public struct EvaluationProtocol: Hashable, Sendable, CustomStringConvertible {
    /// The name used on the command line and in JSON output.
    public let name: String

    public init(_ name: String) {
        self.name = name
    }

    public var description: String { self.name }

    /// Replay in time order; each positive event is first a query, then a training example (``PrequentialEvaluation``).
    public static let prequential = EvaluationProtocol("prequential")
    /// The first 80 % of events by time train, the last 20 % test (``TemporalEvaluation``).
    public static let temporal = EvaluationProtocol("temporal")
}
