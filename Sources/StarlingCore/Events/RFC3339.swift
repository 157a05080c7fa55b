/// Parses and formats RFC 3339 timestamps (`2024-05-01T12:30:00Z`, `2024-05-01T12:30:00.250+02:00`).
///
/// Hand-written rather than through `DateFormatter`: it runs for every ingested event, and it has to report
/// precisely what is wrong with a bad value.
public enum RFC3339 {
    /// Why a timestamp string was not accepted.
    public struct ParseError: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    /// The times RFC 3339 can write, with a four-digit year: 0000-01-01T00:00:00Z to 9999-12-31T23:59:59.999Z.
    /// ``format(_:)`` writes other times too, but not as valid RFC 3339, so no time outside is accepted as input.
    public static let representable =
        EventTime(milliseconds: -62_167_219_200_000)...EventTime(milliseconds: 253_402_300_799_999)

    /// Parses an RFC 3339 date-time into an ``EventTime``. Fractions finer than a millisecond are truncated.
    public static func parse(_ string: String) throws(ParseError) -> EventTime {
        let utf8 = Array(string.utf8)
        let result = utf8.withUnsafeBufferPointer { buffer in
            Result { () throws(ParseError) in try parse(buffer) }
        }
        return try result.get()
    }

    static func parse(_ b: UnsafeBufferPointer<UInt8>) throws(ParseError) -> EventTime {
        var i = 0
        func digits(_ count: Int, _ what: String) throws(ParseError) -> Int64 {
            var value: Int64 = 0
            for _ in 0..<count {
                guard i < b.count, b[i] >= 0x30, b[i] <= 0x39 else {
                    throw ParseError(description: "expected \(count) digits for the \(what) at character \(i + 1)")
                }
                value = value * 10 + Int64(b[i] - 0x30)
                i += 1
            }
            return value
        }
        func expect(_ char: UInt8, _ alternatives: [UInt8] = []) throws(ParseError) {
            guard i < b.count, b[i] == char || alternatives.contains(b[i]) else {
                throw ParseError(
                    description: "expected '\(Character(Unicode.Scalar(char)))' at character \(i + 1)"
                )
            }
            i += 1
        }
        let year = try digits(4, "year")
        try expect(UInt8(ascii: "-"))
        let month = try digits(2, "month")
        try expect(UInt8(ascii: "-"))
        let day = try digits(2, "day")
        try expect(UInt8(ascii: "T"), [UInt8(ascii: "t"), UInt8(ascii: " ")])
        let hour = try digits(2, "hour")
        try expect(UInt8(ascii: ":"))
        let minute = try digits(2, "minute")
        try expect(UInt8(ascii: ":"))
        let second = try digits(2, "second")
        var millis: Int64 = 0
        if i < b.count, b[i] == UInt8(ascii: ".") {
            i += 1
            var scale: Int64 = 100
            var sawDigit = false
            while i < b.count, b[i] >= 0x30, b[i] <= 0x39 {
                millis += Int64(b[i] - 0x30) * scale
                scale /= 10
                sawDigit = true
                i += 1
            }
            guard sawDigit else { throw ParseError(description: "expected fraction digits at character \(i + 1)") }
        }
        guard i < b.count else { throw ParseError(description: "missing time zone offset ('Z' or '+HH:MM')") }
        var offsetMinutes: Int64 = 0
        switch b[i] {
        case UInt8(ascii: "Z"), UInt8(ascii: "z"):
            i += 1
        case UInt8(ascii: "+"), UInt8(ascii: "-"):
            let sign: Int64 = b[i] == UInt8(ascii: "-") ? -1 : 1
            i += 1
            let offsetHour = try digits(2, "offset hour")
            try expect(UInt8(ascii: ":"))
            let offsetMinute = try digits(2, "offset minute")
            guard offsetHour < 24, offsetMinute < 60 else { throw ParseError(description: "time zone offset out of range") }
            offsetMinutes = sign * (offsetHour * 60 + offsetMinute)
        default:
            throw ParseError(description: "expected 'Z' or a '+HH:MM' offset at character \(i + 1)")
        }
        guard i == b.count else { throw ParseError(description: "unexpected characters after the time zone") }
        guard (1...12).contains(month) else { throw ParseError(description: "month \(month) out of range") }
        guard day >= 1, day <= daysInMonth(year: year, month: month) else {
            throw ParseError(description: "day \(day) out of range for the month")
        }
        guard hour < 24, minute < 60, second < 61 else { throw ParseError(description: "time of day out of range") }
        let days = daysFromCivil(year: year, month: month, day: day)
        let seconds = days * 86_400 + hour * 3_600 + minute * 60 + min(second, 59) - offsetMinutes * 60
        return EventTime(milliseconds: seconds * 1_000 + millis)
    }

    /// Formats a time as `YYYY-MM-DDTHH:MM:SS.sssZ`.
    public static func format(_ time: EventTime) -> String {
        let ms = time.milliseconds
        var days = ms / 86_400_000
        var rest = ms % 86_400_000
        if rest < 0 {
            rest += 86_400_000
            days -= 1
        }
        let (year, month, day) = civilFromDays(days)
        let hour = rest / 3_600_000
        let minute = rest / 60_000 % 60
        let second = rest / 1_000 % 60
        let milli = rest % 1_000
        func pad(_ value: Int64, _ width: Int) -> String {
            let s = String(value)
            return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
        }
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T\(pad(hour, 2)):\(pad(minute, 2)):\(pad(second, 2))."
            + "\(pad(milli, 3))Z"
    }

    static func daysInMonth(year: Int64, month: Int64) -> Int64 {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Howard Hinnant's days-from-civil algorithm.
    static func daysFromCivil(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    static func civilFromDays(_ days: Int64) -> (Int64, Int64, Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}
