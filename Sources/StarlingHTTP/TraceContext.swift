import Synchronization

/// The W3C Trace Context of one request (https://www.w3.org/TR/trace-context/): the trace it belongs to, the
/// caller's span (its `traceparent`'s parent id) and the span this process gives the request.
///
/// A valid incoming `traceparent` is continued (same trace id and flags, the caller's span as parent); an absent
/// or malformed one starts a new trace rather than failing the request, as the specification asks of a receiver.
///
/// ```swift
/// let trace = TraceContext(traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
/// trace.traceID      // "4bf92f3577b34da6a3ce929d0e0e4736"
/// trace.traceparent  // "00-4bf92f3577b34da6a3ce929d0e0e4736-<new span id>-01"
/// ```
public struct TraceContext: Hashable, Sendable {
    /// 32 lower-case hexadecimal digits, not all zero.
    public var traceID: String
    /// The span this process opened for the request: 16 lower-case hexadecimal digits, not all zero.
    public var spanID: String
    /// The caller's span, when the request came with a valid `traceparent`.
    public var parentID: String?
    /// The trace flags, two hexadecimal digits (`01`: sampled).
    public var flags: String

    /// Continues the trace of `traceparent` when it is valid, or starts a new one.
    ///
    /// - Parameters:
    ///   - traceparent: The request's `traceparent` header, if any.
    ///   - generator: The source of the new span id (and trace id); tests pass a seeded one.
    public init(traceparent: String?, using generator: inout some RandomNumberGenerator) {
        if let traceparent, let parsed = Self.parse(traceparent) {
            self.traceID = parsed.traceID
            self.parentID = parsed.parentID
            self.flags = parsed.flags
        } else {
            self.traceID = Self.randomHex(bytes: 16, using: &generator)
            self.parentID = nil
            self.flags = "00"
        }
        self.spanID = Self.randomHex(bytes: 8, using: &generator)
    }

    /// Continues the trace of `traceparent` when it is valid, or starts a new one, with ids from ``IDGenerator``.
    public init(traceparent: String?) {
        var generator = IDGenerator()
        self.init(traceparent: traceparent, using: &generator)
    }

    /// New trace and span ids without a system call per id: SplitMix64 over a process-wide atomic counter, seeded
    /// once from the system's generator. Distinct draws give distinct words (the SplitMix64 output function is a
    /// bijection), so ids repeat only after 2^64 draws; they are unpredictable to a client that does not know the
    /// seed, which is all trace ids need (they are not secrets).
    public struct IDGenerator: RandomNumberGenerator {
        private static let seed: UInt64 = {
            var system = SystemRandomNumberGenerator()
            return system.next()
        }()
        private static let draws = Atomic<UInt64>(0)

        public init() {}

        public mutating func next() -> UInt64 {
            let (previous, _) = Self.draws.wrappingAdd(1, ordering: .relaxed)
            var z = Self.seed &+ previous &* 0x9E37_79B9_7F4A_7C15
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    /// The `traceparent` to send on: this trace, with this process's span as the parent.
    public var traceparent: String {
        "00-\(self.traceID)-\(self.spanID)-\(self.flags)"
    }

    /// Parses a `traceparent` header value: `version-traceid-parentid-flags`, lower-case hexadecimal.
    ///
    /// Version `00` is exactly 55 characters; a later version may append fields after a `-`, which are ignored.
    /// Version `ff`, an all-zero trace or parent id, upper-case digits or any other shape are invalid (`nil`).
    public static func parse(_ header: String) -> (traceID: String, parentID: String, flags: String)? {
        let bytes = Array(header.utf8)
        guard bytes.count >= 55, bytes.count <= 512 else { return nil }
        guard bytes[2] == UInt8(ascii: "-"), bytes[35] == UInt8(ascii: "-"), bytes[52] == UInt8(ascii: "-") else {
            return nil
        }
        func isHex(_ range: Range<Int>) -> Bool {
            bytes[range].allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0)
                || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains($0)
            }
        }
        func isZero(_ range: Range<Int>) -> Bool { bytes[range].allSatisfy { $0 == UInt8(ascii: "0") } }
        guard isHex(0..<2), isHex(3..<35), isHex(36..<52), isHex(53..<55) else { return nil }
        let version = String(decoding: bytes[0..<2], as: UTF8.self)
        guard version != "ff" else { return nil }
        // Version 00 has exactly four fields; a future version may have more, after a dash.
        if version == "00" {
            guard bytes.count == 55 else { return nil }
        } else if bytes.count > 55, bytes[55] != UInt8(ascii: "-") {
            return nil
        }
        guard !isZero(3..<35), !isZero(36..<52) else { return nil }
        return (
            String(decoding: bytes[3..<35], as: UTF8.self),
            String(decoding: bytes[36..<52], as: UTF8.self),
            String(decoding: bytes[53..<55], as: UTF8.self)
        )
    }

    /// `bytes` (a multiple of 8) random bytes as lower-case hexadecimal, never all zero: one draw from the
    /// generator per 8 bytes (the system generator makes a system call per draw).
    static func randomHex(bytes: Int, using generator: inout some RandomNumberGenerator) -> String {
        precondition(bytes > 0 && bytes % 8 == 0, "whole 64-bit words only")
        let digits = Array("0123456789abcdef".utf8)
        while true {
            var out: [UInt8] = []
            out.reserveCapacity(bytes * 2)
            var nonZero = false
            for _ in 0..<(bytes / 8) {
                let word = generator.next()
                nonZero = nonZero || word != 0
                for shift in stride(from: 60, through: 0, by: -4) {
                    out.append(digits[Int((word >> UInt64(shift)) & 0x0f)])
                }
            }
            if nonZero { return String(decoding: out, as: UTF8.self) }
        }
    }
}
