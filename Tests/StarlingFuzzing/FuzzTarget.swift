/// One decoder under fuzzing: the format it reads and how one input is fed to it.
///
/// ``run`` must, for any bytes, either reject them (the decoder threw) or accept them and leave a value that the
/// code after the decoder can use: the target uses it as the server would (an engine is asked for lists, learns an
/// event and is written again). It never traps on a well-behaved decoder; a trap is the bug fuzzing looks for. A
/// value that decodes but then breaks a property the target checks (say, it does not survive being written and read
/// again) is reported by throwing ``FuzzFinding``.
///
/// Several formats that arrive the same way share a target: then the input's first byte picks the format
/// (``Selector``), so that one seed corpus and one run cover them all.
package struct FuzzTarget: Sendable {
    /// The name used by `scripts/fuzz`, the corpus folder and test output (`events`, `resp`…).
    package let name: String
    /// What the target decodes, in a line.
    package let summary: String
    /// Throws only ``FuzzFinding``s.
    private let body: @Sendable ([UInt8]) async throws -> FuzzOutcome

    package init(name: String, summary: String, body: @escaping @Sendable ([UInt8]) async throws -> FuzzOutcome) {
        self.name = name
        self.summary = summary
        self.body = body
    }

    /// Feeds one input to the decoder.
    package func run(_ input: [UInt8]) async throws(FuzzFinding) -> FuzzOutcome {
        do {
            return try await self.body(input)
        } catch let finding as FuzzFinding {
            throw finding
        } catch {
            throw FuzzFinding("the target threw \(error)")
        }
    }
}

/// What a decoder did with one input.
package enum FuzzOutcome: Sendable, Equatable {
    /// The input decoded to a value, which the target then used.
    case accepted
    /// The decoder threw an error (what it should do with bad input).
    case rejected
}

/// A decoded value that breaks a property the target checks: a bug, like a trap, but reported without one.
package struct FuzzFinding: Error, Sendable, CustomStringConvertible {
    package var description: String

    package init(_ description: String) {
        self.description = description
    }
}

/// The first byte of an input to a target that reads several formats: which format the rest is in.
package struct Selector: Sendable {
    package let formats: [String]

    /// The index of the format `input` is in, and the rest of the input; `nil` for an empty input.
    package func split(_ input: [UInt8]) -> (format: Int, rest: [UInt8])? {
        guard let first = input.first else { return nil }
        return (Int(first) % self.formats.count, Array(input.dropFirst()))
    }

    /// `rest` prefixed with the byte that selects `format`.
    package func input(_ format: String, _ rest: [UInt8]) -> [UInt8] {
        guard let index = self.formats.firstIndex(of: format) else { preconditionFailure("unknown format \(format)") }
        return [UInt8(index)] + rest
    }
}
