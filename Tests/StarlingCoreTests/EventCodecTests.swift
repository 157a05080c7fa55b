import StarlingCore
import Testing

struct EventCodecTests {
    static let fullEvent = Event(
        type: .rating,
        user: "user-ü-😀",
        item: "item-42",
        session: "session-7",
        id: "evt-0001",
        timestamp: EventTime(milliseconds: 1_714_559_400_250),
        receivedAt: EventTime(milliseconds: 1_714_559_401_000),
        value: 4.5,
        context: [
            (key: "page", value: .string("home ✓")),
            (key: "position", value: .number(-3.25)),
            (key: "logged_in", value: .bool(true)),
            (key: "ad", value: .bool(false)),
            (key: "empty", value: .string("")),
        ]
    )

    static let minimalEvent = Event(type: .navigate, user: "u", item: nil, timestamp: EventTime(milliseconds: 0))

    static let samples: [Event] = [
        fullEvent,
        minimalEvent,
        Event(type: .dwell, user: "u", item: "i", timestamp: EventTime(milliseconds: -86_400_000), value: 0),
        Event(type: EventType("custom_type"), user: String(repeating: "x", count: 300), item: "", timestamp: .seconds(1)),
        Event(
            type: .scroll,
            user: "u",
            item: "i",
            timestamp: EventTime(milliseconds: EventTime.storableMilliseconds.upperBound),
            receivedAt: EventTime(milliseconds: EventTime.storableMilliseconds.lowerBound),
            value: 1,
            context: (0..<200).map { (key: "k\($0)", value: ContextValue.number(Double($0))) }
        ),
    ]

    @Test(arguments: samples)
    func binaryRoundTripPreservesEveryField(_ event: Event) throws {
        let decoded = try Event(decoding: event.encoded())
        #expect(decoded == event)
        // Compare field by field too, so a failure says which one, and so that the test does not rest on `==` alone.
        #expect(decoded.type == event.type)
        #expect(decoded.user == event.user)
        #expect(decoded.item == event.item)
        #expect(decoded.session == event.session)
        #expect(decoded.id == event.id)
        #expect(decoded.timestamp == event.timestamp)
        #expect(decoded.receivedAt == event.receivedAt)
        #expect(decoded.value == event.value)
        #expect(decoded.context.map { $0.key } == event.context.map { $0.key })
        #expect(decoded.context.map { $0.value } == event.context.map { $0.value })
    }

    @Test(arguments: [Int64.max, Int64.min, EventTime.storableMilliseconds.upperBound + 1])
    func timesNoModelCanSubtractAreRefused(milliseconds: Int64) {
        let early = Event(type: .view, user: "u", item: "i", timestamp: EventTime(milliseconds: milliseconds))
        var late = early
        late.timestamp = .seconds(1)
        late.receivedAt = EventTime(milliseconds: milliseconds)

        #expect(throws: BinaryFormatError.malformed) { try Event(decoding: early.encoded()) }
        #expect(throws: BinaryFormatError.malformed) { try Event(decoding: late.encoded()) }
    }

    @Test func distinguishesAbsentFromEmptyOrZero() throws {
        let absent = Event(type: .view, user: "u", item: nil, timestamp: .seconds(1))
        let present = Event(type: .view, user: "u", item: "", session: "", id: "", timestamp: .seconds(1), value: 0)
        let decodedAbsent = try Event(decoding: absent.encoded())
        let decodedPresent = try Event(decoding: present.encoded())
        #expect(decodedAbsent.item == nil && decodedAbsent.session == nil && decodedAbsent.id == nil)
        #expect(decodedAbsent.value == nil)
        #expect(decodedPresent.item == "" && decodedPresent.session == "" && decodedPresent.id == "")
        #expect(decodedPresent.value == 0)
    }

    @Test func encodingIsTheDocumentedLittleEndianLayout() {
        let event = Event(
            type: .view, user: "u", item: nil, session: "s", timestamp: EventTime(milliseconds: 1),
            receivedAt: EventTime(milliseconds: 258), value: nil, context: [(key: "k", value: .bool(true))]
        )
        let expected: [UInt8] =
            [1]  // format version
            + [4] + Array("view".utf8)  // type
            + [1] + Array("u".utf8)  // user
            + [0]  // item absent
            + [1, 1] + Array("s".utf8)  // session present
            + [0]  // id absent
            + [1, 0, 0, 0, 0, 0, 0, 0]  // timestamp
            + [2, 1, 0, 0, 0, 0, 0, 0]  // receivedAt
            + [0]  // value absent
            + [1]  // context count
            + [1] + Array("k".utf8) + [3]  // "k": true
        #expect(event.encoded() == expected)
    }

    @Test func everyTruncatedPrefixIsRejected() {
        for event in [Self.fullEvent, Self.minimalEvent] {
            let bytes = event.encoded()
            for length in 0..<bytes.count {
                #expect(throws: BinaryFormatError.self, "prefix of \(length) of \(bytes.count) bytes") {
                    try Event(decoding: Array(bytes[0..<length]))
                }
            }
        }
    }

    @Test func truncatedPayloadReportsTruncated() {
        let bytes = Self.fullEvent.encoded()
        do throws(BinaryFormatError) {
            _ = try Event(decoding: Array(bytes.dropLast()))
            Issue.record("expected a truncated payload to be rejected")
        } catch {
            #expect(error == .truncated)
        }
    }

    @Test func trailingBytesAreRejectedAsMalformed() {
        let bytes = Self.fullEvent.encoded() + [0]
        do throws(BinaryFormatError) {
            _ = try Event(decoding: bytes)
            Issue.record("expected trailing bytes to be rejected")
        } catch {
            #expect(error == .malformed)
        }
    }

    @Test func unknownFormatVersionIsRejected() {
        var bytes = Self.minimalEvent.encoded()
        bytes[0] = 2
        #expect(throws: BinaryFormatError.malformed) { try Event(decoding: bytes) }
    }

    /// Presence flags are 0 or 1; the optional strings reject anything else, and so must the value's flag.
    @Test func invalidValuePresenceFlagIsRejected() {
        var bytes = Self.minimalEvent.encoded()
        // minimalEvent has no value and no context: the payload ends with the value flag 0 and the context count 0.
        #expect(Array(bytes.suffix(2)) == [0, 0])
        bytes[bytes.count - 2] = 2
        #expect(throws: BinaryFormatError.malformed) { try Event(decoding: bytes) }
    }

    @Test func invalidOptionalStringFlagIsRejected() {
        var bytes = Self.minimalEvent.encoded()
        // version, type "navigate" (1 + 8 bytes), user "u" (1 + 1 bytes), then the item flag.
        #expect(bytes[12] == 0)
        bytes[12] = 7
        #expect(throws: BinaryFormatError.malformed) { try Event(decoding: bytes) }
    }

    @Test func unknownContextTagIsRejected() {
        let event = Event(type: .view, user: "u", item: "i", timestamp: .seconds(1), context: [(key: "k", value: .bool(true))])
        var bytes = event.encoded()
        #expect(bytes.last == 3)
        bytes[bytes.count - 1] = 9
        #expect(throws: BinaryFormatError.malformed) { try Event(decoding: bytes) }
    }

    @Test func hugeContextCountIsRejectedWithoutAllocating() {
        var bytes = Self.minimalEvent.encoded()
        bytes.removeLast()  // the context count 0
        bytes += [0xFF, 0xFF, 0xFF, 0xFF, 0x0F]  // varint 2^32 - 1
        #expect(throws: BinaryFormatError.truncated) { try Event(decoding: bytes) }
    }
}
