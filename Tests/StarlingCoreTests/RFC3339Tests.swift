import StarlingCore
import Testing

struct RFC3339Tests {
    struct ValidCase: Sendable, CustomTestStringConvertible {
        var text: String
        var milliseconds: Int64
        var testDescription: String { self.text }
    }

    static let validCases: [ValidCase] = [
        ValidCase(text: "1970-01-01T00:00:00Z", milliseconds: 0),
        ValidCase(text: "2000-01-01T00:00:00Z", milliseconds: 946_684_800_000),
        ValidCase(text: "2024-05-01T12:30:00.250+02:00", milliseconds: 1_714_559_400_250),
        ValidCase(text: "2024-05-01T00:15:00-05:30", milliseconds: 1_714_542_300_000),
        ValidCase(text: "2024-02-29T23:59:59.999Z", milliseconds: 1_709_251_199_999),
        ValidCase(text: "1969-12-31T23:59:59Z", milliseconds: -1_000),
        ValidCase(text: "1600-03-01T00:00:00Z", milliseconds: -11_670_912_000_000),
        ValidCase(text: "9999-12-31T23:59:59.999Z", milliseconds: 253_402_300_799_999),
        // Lower-case separators and a space instead of 'T' are allowed by RFC 3339 section 5.6's note.
        ValidCase(text: "2000-01-01t00:00:00z", milliseconds: 946_684_800_000),
        ValidCase(text: "2000-01-01 00:00:00Z", milliseconds: 946_684_800_000),
        // Fractions finer than a millisecond are truncated, not rounded.
        ValidCase(text: "2000-01-01T00:00:00.123456789Z", milliseconds: 946_684_800_123),
        ValidCase(text: "2000-01-01T00:00:00.9999Z", milliseconds: 946_684_800_999),
        ValidCase(text: "2000-01-01T00:00:00.5Z", milliseconds: 946_684_800_500),
        // A leap second is clamped to :59.
        ValidCase(text: "2016-12-31T23:59:60Z", milliseconds: 1_483_228_799_000),
        ValidCase(text: "2000-01-01T00:00:00+00:00", milliseconds: 946_684_800_000),
        ValidCase(text: "2000-01-01T00:00:00-00:00", milliseconds: 946_684_800_000),
    ]

    @Test(arguments: validCases)
    func parsesValidTimestampsToEpochMilliseconds(_ testCase: ValidCase) throws {
        let time = try RFC3339.parse(testCase.text)
        #expect(time.milliseconds == testCase.milliseconds)
    }

    @Test(arguments: [
        "",
        "2024-05-01",
        "2024-05-01T12:30:00",  // no time zone
        "2024-05-01T12:30Z",  // no seconds
        "2024-5-01T12:30:00Z",
        "2024-05-01X12:30:00Z",
        "2024-13-01T00:00:00Z",
        "2024-00-01T00:00:00Z",
        "2024-04-31T00:00:00Z",
        "2023-02-29T00:00:00Z",  // not a leap year
        "1900-02-29T00:00:00Z",  // divisible by 100, not by 400
        "2024-05-00T00:00:00Z",
        "2024-05-01T24:00:00Z",
        "2024-05-01T12:60:00Z",
        "2024-05-01T12:30:61Z",
        "2024-05-01T12:30:00.Z",  // fraction without digits
        "2024-05-01T12:30:00+0200",  // offset without colon
        "2024-05-01T12:30:00+24:00",
        "2024-05-01T12:30:00+02:60",
        "2024-05-01T12:30:00ZZ",
        "2024-05-01T12:30:00Z ",
        " 2024-05-01T12:30:00Z",
        "1714559400250",
    ])
    func rejectsMalformedTimestamps(_ text: String) {
        #expect(throws: RFC3339.ParseError.self) {
            try RFC3339.parse(text)
        }
    }

    @Test func acceptsLeapDayInYearsDivisibleByFourHundred() throws {
        let time = try RFC3339.parse("2000-02-29T00:00:00Z")
        #expect(time.milliseconds == 951_782_400_000)
    }

    @Test func parseErrorNamesTheOffendingPosition() {
        do throws(RFC3339.ParseError) {
            _ = try RFC3339.parse("2024-05-01T1x:30:00Z")
            Issue.record("expected a parse error")
        } catch {
            #expect(error.description.contains("hour"))
            #expect(error.description.contains("character 13"))
        }
    }

    @Test(arguments: [
        (Int64(0), "1970-01-01T00:00:00.000Z"),
        (Int64(1_714_559_400_250), "2024-05-01T10:30:00.250Z"),
        (Int64(-1), "1969-12-31T23:59:59.999Z"),
        (Int64(951_782_400_000), "2000-02-29T00:00:00.000Z"),
        (Int64(253_402_300_799_999), "9999-12-31T23:59:59.999Z"),
    ])
    func formatsAsUTCWithMilliseconds(milliseconds: Int64, expected: String) {
        #expect(RFC3339.format(EventTime(milliseconds: milliseconds)) == expected)
        #expect(EventTime(milliseconds: milliseconds).description == expected)
    }

    @Test func formatThenParseRoundTripsAcrossManyInstants() throws {
        // A spread of instants from 1601 to 2400, including negative and sub-second values.
        var ms: Int64 = -11_644_473_600_000
        let step: Int64 = 7_919_876_543  // about 92 days and an odd millisecond count, so every field varies
        while ms < 13_569_465_600_000 {
            let text = RFC3339.format(EventTime(milliseconds: ms))
            let parsed = try RFC3339.parse(text)
            #expect(parsed.milliseconds == ms, "\(text)")
            ms += step
        }
    }
}
