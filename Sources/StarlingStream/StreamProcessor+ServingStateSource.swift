import StarlingCore
import StarlingModels

extension StreamProcessor: ServingStateSource {
    /// The published state of a page of users, as ``publish`` builds it after each write slice.
    ///
    /// The positions are read before the engine, so each user's ``PublishedUser/applied`` never claims more than
    /// the state reflects: at worst an API process waits for a newer state, never serves one without an
    /// acknowledged event as if it had it.
    public func publishedUsers(from start: Int, limit: Int) -> (users: [PublishedUser], next: Int?) {
        let positions = self.positions
        var partitionCounts: [String: Int] = [:]
        for partition in positions.keys {
            partitionCounts[partition.topic] = max(partitionCounts[partition.topic] ?? 0, partition.partition + 1)
        }
        let (states, userCount) = self.engine.read { engine in
            let end = min(engine.userCount, start + max(1, limit))
            let states = (min(start, end)..<end).map { id -> (profile: UserProfile?, model: RecommendationEngine.PortableUser?) in
                let name = engine.userName(Int32(id))
                return (engine.profile(of: name), engine.portableUser(name))
            }
            return (states, engine.userCount)
        }
        var users: [PublishedUser] = []
        users.reserveCapacity(states.count)
        for state in states {
            guard let profile = state.profile else { continue }
            users.append(
                PublishedUser(
                    profile: profile,
                    model: state.model ?? .init(),
                    applied: Self.partitions(of: profile.user, in: positions, counts: partitionCounts)
                )
            )
        }
        let next = start + states.count
        return (users, next < userCount ? next : nil)
    }

    public func publishedSessions() -> [PublishedSession] {
        self.engine.read { engine in
            engine.sessions.keys.map { session in
                PublishedSession(id: session, items: engine.sessionItems(session).map { engine.itemKey($0) })
            }
        }
    }
}
