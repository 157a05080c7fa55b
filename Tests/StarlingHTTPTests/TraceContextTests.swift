import Hummingbird
import Testing

@testable import StarlingHTTP

struct TraceContextTests {
    @Test func aValidTraceparentIsContinuedWithANewSpan() {
        let trace = TraceContext(traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
        #expect(trace.traceID == "4bf92f3577b34da6a3ce929d0e0e4736")
        #expect(trace.parentID == "00f067aa0ba902b7")
        #expect(trace.flags == "01")
        #expect(trace.spanID.count == 16 && trace.spanID != "00f067aa0ba902b7")
        #expect(trace.traceparent == "00-4bf92f3577b34da6a3ce929d0e0e4736-\(trace.spanID)-01")
    }

    @Test func aLaterVersionMayCarryMoreFields() {
        let trace = TraceContext(traceparent: "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-the-future-holds")
        #expect(trace.traceID == "4bf92f3577b34da6a3ce929d0e0e4736")
        #expect(trace.parentID == "00f067aa0ba902b7")
    }

    @Test(arguments: [
        "",
        "garbage",
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",  // upper case
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",  // zero trace id
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",  // zero parent id
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  // forbidden version
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",  // version 00 has four fields
        "00-4bf92f3577b34da6a3ce929d0e0e473-600f067aa0ba902b7-01",  // dash misplaced
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0g",  // not hexadecimal
        "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",  // later version without a dash after flags
    ])
    func aMalformedTraceparentStartsANewTrace(header: String) {
        #expect(TraceContext.parse(header) == nil)
        let trace = TraceContext(traceparent: header)
        #expect(trace.parentID == nil)
        #expect(trace.flags == "00")
        #expect(TraceContext.parse(trace.traceparent) != nil, "the new trace's own header is valid")
        #expect(!header.contains(trace.traceID))
    }

    @Test func newIdsAreLowerCaseHexadecimalAndNeverZero() {
        var generator = ZeroThenCounting()
        let trace = TraceContext(traceparent: nil, using: &generator)
        #expect(trace.traceID.count == 32 && trace.spanID.count == 16)
        #expect(trace.traceID != String(repeating: "0", count: 32))
        #expect(trace.traceID.allSatisfy { "0123456789abcdef".contains($0) })
    }

    @Test(arguments: [("req-42", true), ("a/b:c@d+e=f_g.h", true), ("", false), ("with space", false),
        ("quote\"", false), (String(repeating: "x", count: 128), true), (String(repeating: "x", count: 129), false)])
    func requestIDsAreKeptOnlyWhenSane(id: String, kept: Bool) {
        #expect(RequestTracingMiddleware<BasicRequestContext>.isSane(id) == kept)
        let chosen = RequestTracingMiddleware<BasicRequestContext>.requestID(id, otherwise: "00f067aa0ba902b7")
        #expect(chosen == (kept ? id : "00f067aa0ba902b7"))
    }
}

/// A generator whose first two words are zero (an all-zero trace id must be drawn again), then counting.
private struct ZeroThenCounting: RandomNumberGenerator {
    var calls: UInt64 = 0
    mutating func next() -> UInt64 {
        self.calls += 1
        return self.calls <= 2 ? 0 : self.calls
    }
}
