import StarlingCore

extension RecommendationEngine {

    /// Recommendations for an anonymous session from its recent items (or the given ones).
    public func sessionCandidates(recent: [Int32], count: Int, excluding: Set<Int32>) -> [Candidate] {
        let seen = Set(recent)
        let blocked: (Int32) -> Bool = { excluding.contains($0) || seen.contains($0) }
        let fromSession = self.explained(self.cooccurrenceCandidates(recent: recent, count: count, blocked: blocked), recent: recent)
        guard fromSession.count < count else { return fromSession }
        let taken = Set(fromSession.map(\.item))
        let fill = self.top(self.trending, count: count, blocked: { blocked($0) || taken.contains($0) }, reason: .trending)
        // Trending items fill the list below every session item: scale their scores under the lowest one.
        let floor = fromSession.last?.score ?? 1
        let best = fill.first?.score ?? 1
        return fromSession
            + fill.prefix(count - fromSession.count).map {
                Candidate(item: $0.item, score: floor * 0.99 * $0.score / max(best, .leastNonzeroMagnitude), reason: $0.reason)
            }
    }


    /// Forgets sessions idle longer than the timeout; if that is not enough, the oldest half.
    mutating func expireSessions() {
        let (seconds, _) = self.configuration.sessionTimeout.components
        var cutoff = self.latest.milliseconds - seconds * 1_000
        if !self.sessionTimes.values.contains(where: { $0 < cutoff }) {
            cutoff = self.sessionTimes.values.sorted()[self.sessionTimes.count / 2]
        }
        for (session, time) in self.sessionTimes where time < cutoff {
            self.sessions[session] = nil
            self.sessionTimes[session] = nil
        }
    }

    /// The recent items of `session`.
    public func sessionItems(_ session: String) -> [Int32] {
        self.sessions[session] ?? []
    }
}
