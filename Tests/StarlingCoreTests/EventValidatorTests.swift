import StarlingCore
import Testing

/// 2024-05-01T10:30:00Z, the server receive time used throughout.
private let receivedAt = EventTime(milliseconds: 1_714_559_400_000)

private func validate(
    _ json: String,
    validator: EventValidator = EventValidator()
) throws -> Result<Event, EventValidationError> {
    validator.validate(try JSONScanner.parse(json), receivedAt: receivedAt)
}

struct EventValidatorTests {
    struct InvalidCase: Sendable, CustomTestStringConvertible {
        var name: String
        var json: String
        /// The field the error must name (`nil` for the event as a whole).
        var field: String?
        var message: String
        var testDescription: String { self.name }
    }

    static let longString257 = String(repeating: "u", count: 257)
    static let longString129 = String(repeating: "i", count: 129)
    /// One grapheme cluster: a letter and 600 combining acute accents (2 bytes each), 1,201 bytes.
    static let heavyGrapheme = "a" + String(repeating: "\u{301}", count: 600)
    static let bigContextValue = String(repeating: "x", count: 4_096)  // with key "k": 4097 bytes
    static let tooFarAhead = 1_714_559_400_000 + 24 * 3_600 * 1_000 + 1

    static let invalidCases: [InvalidCase] = [
        InvalidCase(name: "not an object", json: #"["view"]"#, field: nil, message: "each event must be a JSON object, found an array"),
        InvalidCase(name: "type missing", json: #"{"user": "u", "item": "i"}"#, field: "type", message: "is required"),
        InvalidCase(name: "type unknown", json: #"{"type": "teleport", "user": "u", "item": "i"}"#, field: "type", message: "unknown event type 'teleport'"),
        InvalidCase(name: "type not a string", json: #"{"type": 5, "user": "u", "item": "i"}"#, field: "type", message: "must be a string, found a number"),
        InvalidCase(name: "type null", json: #"{"type": null, "user": "u", "item": "i"}"#, field: "type", message: "must be a string, found null"),
        InvalidCase(name: "user missing", json: #"{"type": "view", "item": "i"}"#, field: "user", message: "is required"),
        InvalidCase(name: "user empty", json: #"{"type": "view", "user": "", "item": "i"}"#, field: "user", message: "must not be empty"),
        InvalidCase(name: "user 257 characters", json: #"{"type": "view", "user": "\#(longString257)", "item": "i"}"#, field: "user", message: "must be at most 256 characters, found 257"),
        InvalidCase(name: "user one character of 1201 bytes", json: #"{"type": "navigate", "user": "\#(heavyGrapheme)"}"#, field: "user", message: "must be at most 1024 bytes of UTF-8, found 1201"),
        InvalidCase(name: "user of 300 code points in one grapheme", json: #"{"type": "navigate", "user": "a\#(String(repeating: "\u{301}", count: 299))"}"#, field: "user", message: "must be at most 256 characters, found 300"),
        InvalidCase(name: "item one character of 1201 bytes", json: #"{"type": "view", "user": "u", "item": "\#(heavyGrapheme)"}"#, field: "item", message: "must be at most 1024 bytes of UTF-8, found 1201"),
        InvalidCase(name: "user not a string", json: #"{"type": "view", "user": 12, "item": "i"}"#, field: "user", message: "must be a string, found a number"),
        InvalidCase(name: "user null", json: #"{"type": "view", "user": null, "item": "i"}"#, field: "user", message: "must be a string, found null"),
        InvalidCase(name: "item missing for view", json: #"{"type": "view", "user": "u"}"#, field: "item", message: "is required for 'view' events"),
        InvalidCase(name: "item null for click", json: #"{"type": "click", "user": "u", "item": null}"#, field: "item", message: "is required for 'click' events"),
        InvalidCase(name: "item empty", json: #"{"type": "view", "user": "u", "item": ""}"#, field: "item", message: "must not be empty"),
        InvalidCase(name: "item not a string", json: #"{"type": "view", "user": "u", "item": ["i"]}"#, field: "item", message: "must be a string, found an array"),
        InvalidCase(name: "id 129 characters", json: #"{"type": "view", "user": "u", "item": "i", "id": "\#(longString129)"}"#, field: "id", message: "must be at most 128 characters, found 129"),
        InvalidCase(name: "id empty", json: #"{"type": "view", "user": "u", "item": "i", "id": ""}"#, field: "id", message: "must not be empty"),
        InvalidCase(name: "session empty", json: #"{"type": "view", "user": "u", "item": "i", "session": ""}"#, field: "session", message: "must not be empty"),
        InvalidCase(name: "session not a string", json: #"{"type": "view", "user": "u", "item": "i", "session": true}"#, field: "session", message: "must be a string, found a boolean"),
        InvalidCase(name: "timestamp fractional number", json: #"{"type": "view", "user": "u", "item": "i", "timestamp": 1714559400000.5}"#, field: "timestamp", message: "must be an RFC 3339 string or integer epoch milliseconds, found a number"),
        InvalidCase(name: "timestamp in exponent notation", json: #"{"type": "view", "user": "u", "item": "i", "timestamp": 1.7e12}"#, field: "timestamp", message: "integer epoch milliseconds"),
        InvalidCase(name: "timestamp negative integer", json: #"{"type": "view", "user": "u", "item": "i", "timestamp": -1}"#, field: "timestamp", message: "must not be before 1970-01-01T00:00:00Z"),
        InvalidCase(name: "timestamp string before 1970", json: #"{"type": "view", "user": "u", "item": "i", "timestamp": "1969-12-31T23:59:59Z"}"#, field: "timestamp", message: "must not be before 1970-01-01T00:00:00Z"),
        InvalidCase(name: "timestamp malformed string", json: #"{"type": "view", "user": "u", "item": "i", "timestamp": "yesterday"}"#, field: "timestamp", message: "'yesterday' is not an RFC 3339 date-time"),
        InvalidCase(name: "timestamp boolean", json: #"{"type": "view", "user": "u", "item": "i", "timestamp": true}"#, field: "timestamp", message: "found a boolean"),
        InvalidCase(name: "timestamp more than 24h ahead (ms)", json: #"{"type": "view", "user": "u", "item": "i", "timestamp": \#(tooFarAhead)}"#, field: "timestamp", message: "seconds in the future"),
        InvalidCase(name: "timestamp more than 24h ahead (string)", json: #"{"type": "view", "user": "u", "item": "i", "timestamp": "2024-05-02T10:30:00.001Z"}"#, field: "timestamp", message: "is more than 86400 seconds in the future"),
        InvalidCase(name: "rating without value", json: #"{"type": "rating", "user": "u", "item": "i"}"#, field: "value", message: "is required for 'rating' events"),
        InvalidCase(name: "rating value null", json: #"{"type": "rating", "user": "u", "item": "i", "value": null}"#, field: "value", message: "is required for 'rating' events"),
        InvalidCase(name: "rating below 1", json: #"{"type": "rating", "user": "u", "item": "i", "value": 0.99}"#, field: "value", message: "must be between 1 and 5"),
        InvalidCase(name: "rating above 5", json: #"{"type": "rating", "user": "u", "item": "i", "value": 5.5}"#, field: "value", message: "must be between 1 and 5"),
        InvalidCase(name: "dwell without value", json: #"{"type": "dwell", "user": "u", "item": "i"}"#, field: "value", message: "is required for 'dwell' events"),
        InvalidCase(name: "dwell negative", json: #"{"type": "dwell", "user": "u", "item": "i", "value": -0.5}"#, field: "value", message: "must be at least 0 seconds"),
        InvalidCase(name: "scroll without value", json: #"{"type": "scroll", "user": "u", "item": "i"}"#, field: "value", message: "is required for 'scroll' events"),
        InvalidCase(name: "scroll above 1", json: #"{"type": "scroll", "user": "u", "item": "i", "value": 1.01}"#, field: "value", message: "must be between 0 and 1"),
        InvalidCase(name: "scroll negative", json: #"{"type": "scroll", "user": "u", "item": "i", "value": -0.01}"#, field: "value", message: "must be between 0 and 1"),
        InvalidCase(name: "value not a number", json: #"{"type": "rating", "user": "u", "item": "i", "value": "4"}"#, field: "value", message: "must be a number, found a string"),
        InvalidCase(name: "context nested object", json: #"{"type": "view", "user": "u", "item": "i", "context": {"page": "home", "meta": {"a": 1}}}"#, field: "context.meta", message: "must be a string, number or boolean, found an object"),
        InvalidCase(name: "context nested array", json: #"{"type": "view", "user": "u", "item": "i", "context": {"tags": ["a"]}}"#, field: "context.tags", message: "found an array"),
        InvalidCase(name: "context null value", json: #"{"type": "view", "user": "u", "item": "i", "context": {"x": null}}"#, field: "context.x", message: "found null"),
        InvalidCase(name: "context not an object", json: #"{"type": "view", "user": "u", "item": "i", "context": "home"}"#, field: "context", message: "must be an object, found a string"),
        InvalidCase(name: "context empty key", json: #"{"type": "view", "user": "u", "item": "i", "context": {"": 1}}"#, field: "context", message: "keys must not be empty"),
        InvalidCase(name: "context over 4096 bytes", json: #"{"type": "view", "user": "u", "item": "i", "context": {"k": "\#(bigContextValue)"}}"#, field: "context", message: "is 4097 bytes, more than the limit of 4096"),
        InvalidCase(name: "duplicate key", json: #"{"type": "view", "user": "u", "item": "i", "user": "v"}"#, field: "user", message: "appears more than once"),
        InvalidCase(name: "duplicate unknown key", json: #"{"type": "view", "user": "u", "item": "i", "extra": 1, "extra": 2}"#, field: "extra", message: "appears more than once"),
    ]

    @Test(arguments: invalidCases)
    func rejectsEventNamingTheOffendingField(_ testCase: InvalidCase) throws {
        let result = try validate(testCase.json)
        switch result {
        case .success(let event):
            Issue.record("expected a rejection, accepted \(event)")
        case .failure(let error):
            #expect(error.field == testCase.field)
            #expect(error.message.contains(testCase.message), "message was: \(error.message)")
            if let field = testCase.field {
                #expect(error.description.hasPrefix("\(field): "))
            }
        }
    }

    @Test func acceptsMinimalViewAndStampsReceiveTime() throws {
        let event = try validate(#"{"type": "view", "user": "u1", "item": "i1"}"#).get()
        #expect(event.type == .view)
        #expect(event.user == "u1")
        #expect(event.item == "i1")
        #expect(event.session == nil)
        #expect(event.id == nil)
        #expect(event.value == nil)
        #expect(event.context.isEmpty)
        #expect(event.timestamp == receivedAt)
        #expect(event.receivedAt == receivedAt)
    }

    @Test func itemIsOptionalForNavigate() throws {
        let withoutItem = try validate(#"{"type": "navigate", "user": "u1"}"#).get()
        #expect(withoutItem.type == .navigate)
        #expect(withoutItem.item == nil)
        let withNullItem = try validate(#"{"type": "navigate", "user": "u1", "item": null}"#).get()
        #expect(withNullItem.item == nil)
        let withItem = try validate(#"{"type": "navigate", "user": "u1", "item": "/home"}"#).get()
        #expect(withItem.item == "/home")
    }

    @Test func acceptsEveryFieldAndKeepsContextOrder() throws {
        let event = try validate(
            #"""
            {"id": "e-1", "type": "rating", "user": "u1", "item": "i1", "session": "s1",
             "timestamp": "2024-05-01T12:00:00.125+02:00", "value": 4.5,
             "context": {"zeta": "z", "alpha": 2.5, "mid": true, "last": false}, "client_version": "9.9"}
            """#
        ).get()
        #expect(event.id == "e-1")
        #expect(event.type == .rating)
        #expect(event.session == "s1")
        #expect(event.timestamp == EventTime(milliseconds: 1_714_557_600_125))
        #expect(event.receivedAt == receivedAt)
        #expect(event.value == 4.5)
        #expect(event.context.map { $0.key } == ["zeta", "alpha", "mid", "last"])
        #expect(event.context.map { $0.value } == [.string("z"), .number(2.5), .bool(true), .bool(false)])
    }

    @Test func acceptsIntegerEpochMillisecondsTimestamp() throws {
        let event = try validate(#"{"type": "click", "user": "u", "item": "i", "timestamp": 1714000000123}"#).get()
        #expect(event.timestamp == EventTime(milliseconds: 1_714_000_000_123))
        let epoch = try validate(#"{"type": "click", "user": "u", "item": "i", "timestamp": 0}"#).get()
        #expect(epoch.timestamp == EventTime(milliseconds: 0))
    }

    @Test func nullOptionalFieldsAreTreatedAsAbsent() throws {
        let event = try validate(
            #"{"type": "view", "user": "u", "item": "i", "session": null, "id": null, "timestamp": null, "value": null, "context": null}"#
        ).get()
        #expect(event.session == nil)
        #expect(event.id == nil)
        #expect(event.timestamp == receivedAt)
        #expect(event.value == nil)
        #expect(event.context.isEmpty)
    }

    @Test func acceptsValuesOnTheBoundaries() throws {
        let user256 = String(repeating: "u", count: 256)
        let id128 = String(repeating: "d", count: 128)
        let maxAhead = 1_714_559_400_000 + 24 * 3_600 * 1_000
        let context4096 = String(repeating: "x", count: 4_095)  // plus key "k" = 4096 bytes
        let bodies = [
            #"{"type": "view", "user": "\#(user256)", "item": "i", "id": "\#(id128)"}"#,
            #"{"type": "rating", "user": "u", "item": "i", "value": 1}"#,
            #"{"type": "rating", "user": "u", "item": "i", "value": 5}"#,
            #"{"type": "dwell", "user": "u", "item": "i", "value": 0}"#,
            #"{"type": "scroll", "user": "u", "item": "i", "value": 0}"#,
            #"{"type": "scroll", "user": "u", "item": "i", "value": 1}"#,
            #"{"type": "view", "user": "u", "item": "i", "timestamp": \#(maxAhead)}"#,
            #"{"type": "view", "user": "u", "item": "i", "context": {"k": "\#(context4096)"}}"#,
            #"{"type": "view", "user": "u", "item": "i", "value": -3}"#,  // value is free-form for other types
        ]
        for body in bodies {
            let result = try validate(body)
            if case .failure(let error) = result {
                Issue.record("expected \(body.prefix(80)) to be accepted, got \(error)")
            }
        }
    }

    @Test func countsCharactersNotBytesForLengthLimits() throws {
        // 256 two-byte characters are 512 UTF-8 bytes but only 256 characters: allowed.
        let user = String(repeating: "é", count: 256)
        let event = try validate(#"{"type": "view", "user": "\#(user)", "item": "i"}"#).get()
        #expect(event.user == user)
        let tooLong = String(repeating: "é", count: 257)
        let rejected = try validate(#"{"type": "view", "user": "\#(tooLong)", "item": "i"}"#)
        #expect(throws: EventValidationError.self) { try rejected.get() }
    }

    @Test func everyBuiltInTypeIsAccepted() throws {
        for type in EventType.builtIn {
            let value = switch type {
            case .rating: "3"
            case .dwell: "12.5"
            case .scroll: "0.5"
            default: "null"
            }
            let event = try validate(#"{"type": "\#(type.name)", "user": "u", "item": "i", "value": \#(value)}"#).get()
            #expect(event.type == type)
        }
    }

    @Test func declaredCustomTypeIsAcceptedOnlyWithTheSchema() throws {
        var schema = EventSchema()
        try schema.declare("wishlist")
        let custom = EventValidator(configuration: .init(schema: schema))
        let json = #"{"type": "wishlist", "user": "u", "item": "i"}"#
        #expect(try validate(json, validator: custom).get().type == EventType("wishlist"))
        let rejected = try validate(json)
        #expect(throws: EventValidationError.self) { try rejected.get() }
    }

    @Test func configurationLimitsAreHonoured() throws {
        let strict = EventValidator(configuration: .init(maxFutureSkewMilliseconds: 1_000, maxContextBytes: 10))
        let ahead = try validate(
            #"{"type": "view", "user": "u", "item": "i", "timestamp": 1714559401001}"#, validator: strict)
        guard case .failure(let aheadError) = ahead else {
            Issue.record("expected a timestamp 1001 ms ahead to be rejected")
            return
        }
        #expect(aheadError.field == "timestamp")
        let atLimit = try validate(
            #"{"type": "view", "user": "u", "item": "i", "timestamp": 1714559401000}"#, validator: strict)
        #expect(throws: Never.self) { try atLimit.get() }
        // "n" (1 byte) + a number (8 bytes) + "b" (1 byte) + a boolean (8 bytes) = 18 bytes > 10.
        let context = try validate(
            #"{"type": "view", "user": "u", "item": "i", "context": {"n": 1, "b": true}}"#, validator: strict)
        guard case .failure(let contextError) = context else {
            Issue.record("expected an 18-byte context to exceed a 10-byte limit")
            return
        }
        #expect(contextError.field == "context")
        #expect(contextError.message.contains("is 18 bytes"))
    }

    @Test func longUnknownTypeNameIsTruncatedInTheMessage() throws {
        let name = String(repeating: "t", count: 300)
        let result = try validate(#"{"type": "\#(name)", "user": "u", "item": "i"}"#)
        guard case .failure(let error) = result else {
            Issue.record("expected an unknown type to be rejected")
            return
        }
        #expect(error.field == "type")
        #expect(error.message.contains(String(repeating: "t", count: 64) + "…"))
        #expect(!error.message.contains(String(repeating: "t", count: 65)))
    }
}
