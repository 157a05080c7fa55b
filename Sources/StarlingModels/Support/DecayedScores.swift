#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Forward-decayed sums per dense id (items): the array form of ``TrendingCounter`` for the engine's hot path.
public struct DecayedScores: Sendable {
    private let halfLifeMilliseconds: Double
    public private(set) var landmark: Int64?
    public private(set) var values: [Double] = []

    /// - Parameter halfLife: Time for a value to halve; `nil` for plain sums that never decay.
    public init(halfLife: Duration?) {
        if let halfLife {
            let (seconds, attoseconds) = halfLife.components
            self.halfLifeMilliseconds = Double(seconds) * 1_000 + Double(attoseconds) / 1e15
        } else {
            self.halfLifeMilliseconds = .infinity
        }
    }

    public mutating func add(_ id: Int32, _ weight: Double, at milliseconds: Int64) {
        while self.values.count <= Int(id) { self.values.append(0) }
        guard self.halfLifeMilliseconds.isFinite else {
            self.values[Int(id)] += weight
            return
        }
        let landmark = self.landmark ?? milliseconds
        if self.landmark == nil { self.landmark = landmark }
        var exponent = Double(milliseconds - landmark) / self.halfLifeMilliseconds
        if exponent > 200 {
            let scale = exp2(-exponent)
            for k in self.values.indices { self.values[k] *= scale }
            self.landmark = milliseconds
            exponent = 0
        }
        self.values[Int(id)] += weight * exp2(exponent)
    }

    /// The value of `id` decayed to `milliseconds`.
    public func value(_ id: Int32, at milliseconds: Int64) -> Double {
        guard Int(id) < self.values.count else { return 0 }
        guard self.halfLifeMilliseconds.isFinite, let landmark else { return self.values[Int(id)] }
        return self.values[Int(id)] * exp2(Double(landmark - milliseconds) / self.halfLifeMilliseconds)
    }

    /// The scale from stored sums to values at `milliseconds`.
    public func factor(at milliseconds: Int64) -> Double {
        guard self.halfLifeMilliseconds.isFinite, let landmark else { return 1 }
        return exp2(Double(landmark - milliseconds) / self.halfLifeMilliseconds)
    }

    public mutating func restore(landmark: Int64?, values: [Double]) {
        self.landmark = landmark
        self.values = values
    }
}
