import StarlingCore

/// Token buckets, one per publishable key: a key may make `burst` requests at once and `perSecond` on average.
///
/// The clock is injected so that tests can move time instead of waiting for it.
public final class RateLimiter: Sendable {
    private struct Bucket {
        var tokens: Double
        var updated: Int64
    }

    private let buckets = LockedBox<[String: Bucket]>([:])
    private let now: @Sendable () -> Int64

    /// - Parameter now: Monotonic nanoseconds; defaults to the continuous clock.
    public init(now: (@Sendable () -> Int64)? = nil) {
        let origin = ContinuousClock.now
        self.now = now ?? { (ContinuousClock.now - origin).wholeNanoseconds }
    }

    /// Takes one request's token from `key`'s bucket.
    ///
    /// - Returns: `nil` when the request may go ahead, else how long until the next token.
    public func take(_ key: String, limit: APIKey.RateLimit) -> Duration? {
        let now = self.now()
        return self.buckets.withLock { buckets in
            var bucket = buckets[key] ?? Bucket(tokens: Double(limit.burst), updated: now)
            let elapsed = Double(max(0, now - bucket.updated)) / 1e9
            bucket.tokens = min(Double(limit.burst), bucket.tokens + elapsed * limit.perSecond)
            bucket.updated = now
            defer { buckets[key] = bucket }
            guard bucket.tokens >= 1 else {
                return .nanoseconds(Int64(((1 - bucket.tokens) / limit.perSecond * 1e9).rounded(.up)))
            }
            bucket.tokens -= 1
            return nil
        }
    }
}
