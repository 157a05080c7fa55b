public import StarlingCore
public import StarlingModels

/// A ``Recommender`` that is a client of a running Starling server: learning an event posts it to
/// `POST /v1/events`, and recommending asks `GET /v1/users/{user}/recommendations?count=N`, so that the evaluation
/// protocols (``PrequentialEvaluation``, ``TemporalEvaluation``) measure the server through its front door, with
/// exactly the queries and the order of events they use in process.
///
/// Each event is posted on its own, with its own time as `timestamp` (epoch milliseconds) and an id unique within
/// the replay (the event's `id`, or `eval-<n>`), and the post returns once the server acknowledged it. The API
/// serves one source, the blend; lists are asked with no parameter but `count`, so the server's defaults apply
/// (`exclude_seen` excludes every item the user interacted with, as the in-process engine does).
///
/// The `Recommender` protocol cannot throw: the first failure is kept in ``Report/failure``; from then on nothing
/// is sent and lists are empty, so the caller must check the report after the run.
///
/// ```swift
/// let recommender = try APIRecommender(url: "http://127.0.0.1:8080")
/// let row = PrequentialEvaluation().run(events: events, source: .blend) { recommender }
/// if let failure = recommender.report.failure { throw failure }
/// ```
public struct APIRecommender: Recommender {
    /// What a replay through the API saw.
    public struct Report: Sendable, Equatable {
        /// Events posted and acknowledged.
        public var eventsPosted = 0
        /// Lists asked and answered.
        public var listsAsked = 0
        /// Lists whose `profile_version` was lower than the number of events posted for the user before asking:
        /// the list did not reflect all of the user's acknowledged events.
        public var listsBehind = 0
        /// Lists the server itself marked stale (see ``StarlingAPIClient/List/markedStale``).
        public var listsMarkedStale = 0
        /// Lists whose response carried a freshness marker at all (0 when the server sends none).
        public var listsWithMarker = 0
        /// The first request that failed; nothing is sent after it.
        public var failure: APIClientError?

        public init() {}
    }

    /// The state shared by the copies of one recommender (the protocols keep their own copy).
    private final class State {
        let client: StarlingAPIClient
        var report = Report()
        /// Events posted per user: the `profile_version` a list must have to reflect all of them.
        var postedPerUser: [String: UInt64] = [:]

        init(client: StarlingAPIClient) {
            self.client = client
        }
    }

    private let state: State

    /// A recommender over the server at `url` (`http://host:port`), which should hold no events yet.
    ///
    /// - Throws: ``APIClientError`` when the URL is malformed or the server cannot be reached.
    public init(url: String) throws(APIClientError) {
        self.init(client: try StarlingAPIClient(url: url))
    }

    /// A recommender over an existing client.
    public init(client: StarlingAPIClient) {
        self.state = State(client: client)
    }

    /// What the replay has seen so far.
    public var report: Report { self.state.report }

    /// The server serves the blend only.
    public var sources: [RecommendationSource] { [.blend] }

    public mutating func learn(_ event: Event) {
        let state = self.state
        guard state.report.failure == nil else { return }
        do {
            try state.client.post(event, id: event.id ?? "eval-\(state.report.eventsPosted + 1)")
            state.report.eventsPosted += 1
            state.postedPerUser[event.user, default: 0] += 1
        } catch {
            state.report.failure = error
        }
    }

    public func recommend(user: String, count: Int, source: RecommendationSource) -> [ScoredItem] {
        let state = self.state
        guard state.report.failure == nil else { return [] }
        guard source == .blend else {
            state.report.failure = APIClientError("the API serves the blend only; '\(source)' cannot be asked through it")
            return []
        }
        do {
            let list = try state.client.recommendations(user: user, count: count)
            state.report.listsAsked += 1
            if (list.profileVersion ?? 0) < state.postedPerUser[user, default: 0] { state.report.listsBehind += 1 }
            if let stale = list.markedStale {
                state.report.listsWithMarker += 1
                if stale { state.report.listsMarkedStale += 1 }
            }
            return list.items
        } catch {
            state.report.failure = error
            return []
        }
    }
}
