import StarlingCore
import Testing

private let receivedAt = EventTime(milliseconds: 1_714_559_400_000)

private func decode(
    _ body: String,
    _ format: IngestBatchDecoder.Format,
    decoder: IngestBatchDecoder = IngestBatchDecoder()
) throws(IngestBatchDecoder.DecodingError) -> [IngestBatchDecoder.Entry] {
    try decoder.decode(Array(body.utf8), format: format, receivedAt: receivedAt)
}

private func decodingError(
    _ body: String,
    _ format: IngestBatchDecoder.Format,
    decoder: IngestBatchDecoder = IngestBatchDecoder()
) -> IngestBatchDecoder.DecodingError? {
    do throws(IngestBatchDecoder.DecodingError) {
        _ = try decode(body, format, decoder: decoder)
        return nil
    } catch {
        return error
    }
}

struct IngestBatchDecoderTests {
    @Test func envelopeWithMixedEventsKeepsTheValidOnesInOrder() throws {
        let body = #"""
            {"events": [
              {"type": "view", "user": "u1", "item": "a"},
              {"type": "view", "user": "u2"},
              {"type": "rating", "user": "u3", "item": "b", "value": 9},
              "not an object",
              {"type": "click", "user": "u4", "item": "c", "timestamp": 1714559000000}
            ], "client": "ios"}
            """#
        let entries = try decode(body, .json)
        try #require(entries.count == 5)
        #expect(try entries[0].get().user == "u1")
        #expect(try entries[0].get().receivedAt == receivedAt)
        #expect(entries[1].failureField == "item")
        #expect(entries[2].failureField == "value")
        guard case .failure(let notObject) = entries[3] else {
            Issue.record("expected entry 3 to be rejected")
            return
        }
        #expect(notObject.field == nil)
        let last = try entries[4].get()
        #expect(last.user == "u4")
        #expect(last.timestamp == EventTime(milliseconds: 1_714_559_000_000))
    }

    @Test func emptyEventsArrayDecodesToNoEntries() throws {
        #expect(try decode(#"{"events": []}"#, .json).isEmpty)
    }

    @Test func syntaxErrorInEnvelopeGivesLineAndColumn() throws {
        let body = "{\n  \"events\": [\n    {\"type\": \"view\",}\n  ]\n}"
        let error = try #require(decodingError(body, .json))
        #expect(!error.isTooLarge)
        #expect(error.description.contains("line 3, column 21"), "description was: \(error.description)")
        #expect(error.description.contains("expected a string key"))
    }

    @Test func syntaxErrorAnywhereFailsTheWholeEnvelope() throws {
        // The first event is valid, but the document is not: nothing is accepted.
        let body = #"{"events": [{"type": "view", "user": "u", "item": "i"}], "trailing": }"#
        let error = try #require(decodingError(body, .json))
        #expect(!error.isTooLarge)
        #expect(error.description.contains("line 1, column 70"))
    }

    @Test(arguments: [
        (#"{"batch": []}"#, "\"events\" array"),
        (#"{}"#, "\"events\" array"),
        (#"[{"type": "view"}]"#, "expected an object of the form"),
        (#"{"events": {"type": "view"}}"#, "\"events\" must be an array"),
        (#"{"events": [], "events": []}"#, "\"events\" appears more than once"),
        (#"{"events": []} {}"#, "unexpected data after the end"),
        ("", "expected an object of the form"),
    ])
    func malformedEnvelopeIsRejected(body: String, message: String) throws {
        let error = try #require(decodingError(body, .json))
        #expect(!error.isTooLarge)
        #expect(error.description.contains(message), "description was: \(error.description)")
    }

    @Test func tooManyEventsInEnvelopeIsTooLarge() throws {
        let decoder = IngestBatchDecoder(maxEvents: 3)
        let event = #"{"type": "view", "user": "u", "item": "i"}"#
        let atLimit = #"{"events": [\#([String](repeating: event, count: 3).joined(separator: ","))]}"#
        #expect(try decode(atLimit, .json, decoder: decoder).count == 3)
        let overLimit = #"{"events": [\#([String](repeating: event, count: 4).joined(separator: ","))]}"#
        let error = try #require(decodingError(overLimit, .json, decoder: decoder))
        #expect(error.isTooLarge)
        #expect(error.description.contains("at most 3 events"))
    }

    @Test func ndjsonBadLineRejectsOnlyThatIndex() throws {
        // Line numbers count every line; indices count non-blank lines from 0.
        let body = "\n"
            + #"{"type": "view", "user": "u1", "item": "a"}"# + "\n"
            + "   \n"
            + #"{"type": "view", "user": "u2", "item": "#  + "\n"
            + #"{"type": "view", "user": "u3"}"# + "\r\n"
            + #"{"type": "like", "user": "u4", "item": "d"}"#  // no final newline
        let entries = try decode(body, .ndjson)
        try #require(entries.count == 4)
        #expect(try entries[0].get().user == "u1")
        guard case .failure(let syntax) = entries[1] else {
            Issue.record("expected the malformed line to be rejected")
            return
        }
        #expect(syntax.field == nil)
        #expect(syntax.message.hasPrefix("line 4: invalid JSON at column 40"), "message was: \(syntax.message)")
        #expect(entries[2].failureField == "item")
        #expect(try entries[3].get().type == .like)
        #expect(try entries[3].get().user == "u4")
    }

    @Test func ndjsonWhereNoLineParsesThrows() throws {
        let error = try #require(decodingError("{oops\nnot json\n", .ndjson))
        #expect(!error.isTooLarge)
        #expect(error.description.hasPrefix("line 1: invalid JSON at column 2"), "description was: \(error.description)")
    }

    @Test func ndjsonWithValidJSONButInvalidEventsDoesNotThrow() throws {
        let entries = try decode("{}\n[]\n", .ndjson)
        #expect(entries.count == 2)
        #expect(entries.allSatisfy { (try? $0.get()) == nil })
    }

    @Test func ndjsonBlankBodyDecodesToNoEntries() throws {
        #expect(try decode("", .ndjson).isEmpty)
        #expect(try decode("\n \n\t\r\n", .ndjson).isEmpty)
    }

    @Test func ndjsonTooManyEventsIsTooLarge() throws {
        let decoder = IngestBatchDecoder(maxEvents: 2)
        let line = #"{"type": "view", "user": "u", "item": "i"}"#
        #expect(try decode([line, line, "", ""].joined(separator: "\n"), .ndjson, decoder: decoder).count == 2)
        let error = try #require(decodingError([line, line, line].joined(separator: "\n"), .ndjson, decoder: decoder))
        #expect(error.isTooLarge)
    }

    @Test func ndjsonLineWithTwoValuesIsRejected() throws {
        let body = #"{"type": "view", "user": "u", "item": "i"} {"type": "view", "user": "u", "item": "j"}"#
            + "\n" + #"{"type": "view", "user": "u", "item": "k"}"#
        let entries = try decode(body, .ndjson)
        try #require(entries.count == 2)
        #expect(entries[0].failureField == nil)
        #expect((try? entries[0].get()) == nil)
        #expect(try entries[1].get().item == "k")
    }
}

extension Result where Failure == EventValidationError {
    /// The field named by the rejection, or `"__success__"` when the entry was accepted.
    fileprivate var failureField: String? {
        switch self {
        case .success: "__success__"
        case .failure(let error): error.field
        }
    }
}
