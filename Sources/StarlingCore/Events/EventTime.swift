#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A point in time, in milliseconds since the Unix epoch (UTC).
///
/// Starling keeps every time it reasons about — an event's own timestamp, the server's receive time — as an
/// ``EventTime``, so that replaying an old log behaves exactly as it did live.
public struct EventTime: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// Milliseconds since 1970-01-01T00:00:00Z.
    public var milliseconds: Int64

    /// Creates a time from milliseconds since the Unix epoch.
    public init(milliseconds: Int64) {
        self.milliseconds = milliseconds
    }

    /// The times that stored and shared binary state may hold (``BinaryReader/readTime()``): ±2^53 ms, about
    /// 285,000 years either side of 1970. Every event time lies far inside, and the difference of any two such times
    /// fits in an `Int64`, so models subtracting them never overflow on state read from a file or from Redis.
    public static let storableMilliseconds: ClosedRange<Int64> = -(1 << 53)...(1 << 53)

    /// Creates a time from whole seconds since the Unix epoch.
    public static func seconds(_ seconds: Int64) -> EventTime {
        EventTime(milliseconds: seconds * 1_000)
    }

    /// The wall-clock time now.
    public static func now() -> EventTime {
        EventTime(milliseconds: WallClock.nanoseconds() / 1_000_000)
    }

    /// The later of two times moved by `milliseconds`.
    public func advanced(byMilliseconds milliseconds: Int64) -> EventTime {
        EventTime(milliseconds: self.milliseconds &+ milliseconds)
    }

    public static func < (lhs: EventTime, rhs: EventTime) -> Bool {
        lhs.milliseconds < rhs.milliseconds
    }

    public var description: String {
        RFC3339.format(self)
    }
}

/// Reads the real-time clock with nanosecond resolution.
///
/// Used to stamp records and to measure freshness between processes on one machine.
public enum WallClock {
    /// Nanoseconds since the Unix epoch, from `CLOCK_REALTIME`.
    public static func nanoseconds() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Int64(spec.tv_sec) * 1_000_000_000 + Int64(spec.tv_nsec)
    }
}
