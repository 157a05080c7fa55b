package import StarlingCore
package import StarlingModels
package import StarlingStream

/// Uses a decoded engine or user state the way the server does next, so that a decoder that accepts state the
/// engine cannot work with (an item index out of range, counters of the wrong length) is caught here, where the
/// input is known, rather than in a request later.
package enum EngineUse {
    /// The configuration every engine state is decoded with (the server's default).
    package static let configuration = RecommendationEngine.Configuration()
    /// The configuration of a server run with `--model trainer=ials`.
    package static let ials: RecommendationEngine.Configuration = {
        var configuration = RecommendationEngine.Configuration()
        configuration.trainer = .ials
        return configuration
    }()

    /// The users, items, categories and sessions of the seed corpus, so that uses find them in decoded state.
    package static let users = ["u0", "u1", "u2", "u3", "u4"]
    package static let items = ["i0", "i1", "i2", "i3", "i4", "i5", "i6", "i7"]
    package static let categories = ["scifi", "crime"]

    /// Events that give every model state: ratings, likes and dislikes, sessions, categories, an item-less event.
    package static let seedEvents: [Event] = {
        var events: [Event] = []
        var time: Int64 = 1_764_000_000_000
        for (u, user) in users.enumerated() {
            for k in 0..<4 {
                let item = items[(u * 3 + k) % items.count]
                let type: EventType = [.view, .like, .rating, .dislike, .click, .purchase][(u + k) % 6]
                time += 60_000
                events.append(
                    Event(
                        type: type,
                        user: user,
                        item: item,
                        session: k % 2 == 0 ? "s\(u)" : nil,
                        id: "e\(u)-\(k)",
                        timestamp: EventTime(milliseconds: time),
                        value: type == .rating ? Double(1 + (u + k) % 5) : nil,
                        context: [("category", .string(categories[k % categories.count])), ("device", .string("ios"))]
                    )
                )
            }
        }
        events.append(Event(type: .navigate, user: "u0", item: nil, timestamp: EventTime(milliseconds: time)))
        return events
    }()

    /// An engine that learned ``seedEvents``: what a published user or applied slice is served against.
    package static let reference: RecommendationEngine = {
        var engine = RecommendationEngine(configuration: configuration)
        for event in seedEvents { engine.learn(event) }
        return engine
    }()

    /// Asks a decoded engine for everything serving asks, lets it learn as the processor and model replicas do,
    /// and checks that it is written and read back.
    package static func exercise(
        _ engine: inout RecommendationEngine,
        configuration: RecommendationEngine.Configuration = configuration
    ) throws(FuzzFinding) {
        let probeUsers = users + ["nobody"]
        for user in probeUsers {
            for source in engine.sources {
                _ = engine.candidates(user: user, count: 10, source: source, excluding: [0, 1])
            }
            _ = engine.profile(of: user)
            if let portable = engine.portableUser(user) {
                _ = engine.candidates(for: portable, count: 10, source: .blend, excluding: [])
            }
        }
        let probeItems = (0..<Int32(min(engine.itemCount, 4))).map { $0 }
        for id in probeItems {
            _ = engine.similarItems(to: engine.itemKey(id), count: 10)
            _ = engine.category(of: id)
        }
        let similarities = engine.embeddingSimilarities(of: probeItems + [nil])
        for k in probeItems.indices { _ = similarities.similarity(k, probeItems.count) }
        _ = engine.trendingSnapshot()
        for category in engine.categoryPopularity.keys.sorted().prefix(4) {
            _ = engine.categoryCandidates(category, count: 10, excluding: [])
        }
        for session in engine.sessions.keys.sorted().prefix(4) {
            _ = engine.sessionCandidates(recent: engine.sessionItems(session), count: 10, excluding: [])
        }
        // Later than everything learned, as a new event is, and still a time the state may hold.
        let time = min(max(engine.latest.milliseconds, 0), EventTime.storableMilliseconds.upperBound - 1_000) + 1_000
        engine.learn(
            Event(
                type: .rating,
                user: "u0",
                item: "i1",
                session: "s0",
                timestamp: EventTime(milliseconds: time),
                value: 4,
                context: [("category", .string("scifi"))]
            )
        )
        engine.learn(
            Event(type: .like, user: "newcomer", item: "new-item", session: "s9", timestamp: EventTime(milliseconds: time))
        )
        _ = engine.candidates(user: "newcomer", count: 10, source: .blend, excluding: [])
        var writer = BinaryWriter()
        engine.encode(into: &writer)
        let decoded = writer.bytes.withUnsafeBytes { raw in
            var reader = BinaryReader(raw)
            return Result { () throws(BinaryFormatError) in
                try RecommendationEngine(configuration: configuration, decoding: &reader)
            }
        }
        if case .failure(let error) = decoded {
            throw FuzzFinding("an accepted engine state, once used, does not read back: \(error)")
        }
    }

    /// Serves a user published by another process against ``reference``, as an API process does.
    package static func serve(_ user: PublishedUser) throws(FuzzFinding) {
        let engine = self.reference
        for source in engine.sources {
            _ = engine.candidates(for: user.model, count: 10, source: source, excluding: [])
        }
        _ = user.profile.count(of: ["like"])
    }
}
