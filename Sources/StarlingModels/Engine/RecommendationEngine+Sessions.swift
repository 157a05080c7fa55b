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


    /// What the engine remembers of one anonymous session.
    public struct SessionState: Sendable {
        /// The session's latest positively chosen items, oldest first, at most `recentWindow`.
        public internal(set) var items: [Int32] = []
        /// Event time (ms) of the session's latest positive event, for expiry.
        public internal(set) var lastActive: Int64 = .min
        /// The engine's event count at the session's latest positive event: breaks ties between equal event times.
        var sequence: UInt64 = 0
    }

    /// Records a positive event on `item` in `session` (one hash lookup, updated in place).
    mutating func record(_ item: Int32, inSession session: String, at time: Int64) {
        let window = self.configuration.recentWindow
        Self.touch(&self.sessions[session, default: SessionState()], item: item, at: time, sequence: self.eventCount, window: window)
        if self.sessions.count > self.configuration.maxSessions { self.expireSessions() }
    }

    private static func touch(_ session: inout SessionState, item: Int32, at time: Int64, sequence: UInt64, window: Int) {
        Self.append(item, to: &session.items, window: window)
        session.lastActive = max(session.lastActive, time)
        session.sequence = sequence
    }

    /// Forgets sessions idle longer than the timeout, then the least recently active ones beyond half of
    /// ``Configuration/maxSessions`` (between equal event times, the least recently learned), so each
    /// expiry at least halves the count and its cost is amortised over the sessions created since.
    mutating func expireSessions() {
        let (seconds, _) = self.configuration.sessionTimeout.components
        let cutoff = self.latest.milliseconds - seconds * 1_000
        self.sessions = self.sessions.filter { $0.value.lastActive >= cutoff }
        let keep = self.configuration.maxSessions / 2
        guard self.sessions.count > keep else { return }
        let byActivity = self.sessions.map { (session: $0.key, time: $0.value.lastActive, sequence: $0.value.sequence) }
            .sorted { ($0.time, $0.sequence) < ($1.time, $1.sequence) }
        for oldest in byActivity.prefix(self.sessions.count - keep) { self.sessions[oldest.session] = nil }
    }

    /// The recent items of `session`.
    public func sessionItems(_ session: String) -> [Int32] {
        self.sessions[session]?.items ?? []
    }
}
