import HTTPTypes
import HummingbirdTesting
import StarlingCore
import StarlingEventLog
import StarlingHTTP
import StarlingModels
import StarlingServing
import StarlingStream
import Testing

/// The freshness contract: a list reflects every event of its user acknowledged before the request.
struct ReadYourWritesTests {
    /// A small deterministic generator, so a failure can be replayed.
    private struct Random {
        var state: UInt64
        mutating func next(_ bound: Int) -> Int {
            self.state = self.state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((self.state >> 33) % UInt64(bound))
        }
    }

    private static let types = ["view", "click", "like", "dislike", "rating", "purchase", "add_to_cart", "dwell", "scroll", "share"]

    private static func event(_ type: String, user: String, item: String) -> String {
        switch type {
        case "rating": #"{"type":"rating","user":"\#(user)","item":"\#(item)","value":4}"#
        case "dwell": #"{"type":"dwell","user":"\#(user)","item":"\#(item)","value":12.5}"#
        case "scroll": #"{"type":"scroll","user":"\#(user)","item":"\#(item)","value":0.8}"#
        default: #"{"type":"\#(type)","user":"\#(user)","item":"\#(item)"}"#
        }
    }

    @Test(arguments: [nil, Duration.seconds(600)])
    func aClientThatPostsThenFetchesAtOnceAlwaysSeesItsLastEventUnderLoad(cacheTTL: Duration?) async throws {
        try await APIFixture(maxEvents: 10_000, cacheTTL: cacheTTL).run { client, processor in
            // Other users' traffic keeps the processor busy the whole time (a debug build applies a few thousand
            // events a second).
            let load = Task {
                var random = Random(state: 99)
                var batch = 0
                while !Task.isCancelled {
                    var events: [String] = []
                    for _ in 0..<50 {
                        let type = Self.types[random.next(Self.types.count)]
                        events.append(Self.event(type, user: "bg-\(random.next(500))", item: "i\(random.next(300))"))
                    }
                    _ = try? await client.postEvents("{\"events\":[\(events.joined(separator: ","))]}")
                    batch += 1
                    // As much load as the processor sustains: a lag that grew without bound would only measure
                    // the wait's timeout.
                    while processor.lag() > 100, !Task.isCancelled { try? await Task.sleep(for: .milliseconds(2)) }
                }
                return batch
            }
            var random = Random(state: 7)
            var versions: [String: Int] = [:]
            var seen: [String: Set<String>] = [:]
            var stale = 0
            for attempt in 0..<1_000 {
                let user = "u\(random.next(40))"
                let type = Self.types[random.next(Self.types.count)]
                let item = "i\(random.next(300))"
                let posted = try await client.postEvents("{\"events\":[\(Self.event(type, user: user, item: item))]}")
                #expect(posted.status == .ok)
                versions[user, default: 0] += 1
                seen[user, default: []].insert(item)

                let (status, body) = try await client.getJSON("/v1/users/\(user)/recommendations?count=20")
                #expect(status == .ok)
                let items = Set(body["items"]?.array?.compactMap { $0["item"]?.string } ?? [])
                if body["fresh"]?.bool != true { stale += 1 }
                #expect(body["profile_version"]?.int == versions[user], "attempt \(attempt): \(type) by \(user)")
                #expect(!items.contains(item), "attempt \(attempt): the \(type)'d item \(item) is recommended")
                #expect(items.isDisjoint(with: seen[user]!), "attempt \(attempt): an item \(user) interacted with")
                if attempt % 10 == 0 {
                    let (_, profile) = try await client.getJSON("/v1/users/\(user)")
                    #expect(profile["version"]?.int == versions[user])
                }
            }
            load.cancel()
            let batches = await load.value
            #expect(stale == 0)
            #expect(batches > 10, "the background load ran (\(batches) batches)")
            #expect(processor.appliedCount > 1_000 + 10 * 50)
        }
    }
}

struct ReadYourWritesBoundTests {
    @Test func aListServedBeforeTheProcessorCaughtUpSaysSo() async throws {
        // Nothing applies the acknowledged event: the request waits its bound, then serves what it has and says so.
        let acknowledgements = AcknowledgedEvents()
        let service = RecommendationService(
            profiles: MemoryProfileStore(),
            trending: SnapshotPublisher(.empty),
            engine: EngineStore(RecommendationEngine()),
            readYourWrites: .init(acknowledgements: acknowledgements, timeout: .milliseconds(20))
        )
        let partition = TopicPartition(topic: "views", partition: 0)
        acknowledgements.record(
            [LogAppend(topic: "views", key: "me", payload: [])],
            at: [LogPosition(topicPartition: partition, offset: 4)]
        )
        let waited = try await service.recommendations(for: "me", count: 5)
        #expect(!waited.fresh)
        // Another user has nothing outstanding: no wait.
        #expect(try await service.recommendations(for: "you", count: 5).fresh)

        // Once the processor passes the event, the same request is fresh.
        acknowledgements.advance(to: [partition: 5])
        #expect(try await service.recommendations(for: "me", count: 5).fresh)
        #expect(acknowledgements.trackedUsers == 0, "marks the processor passed are dropped")
    }

    @Test func aWaitingRequestResumesAsSoonAsTheProcessorPassesItsEvents() async throws {
        let acknowledgements = AcknowledgedEvents()
        let partition = TopicPartition(topic: "feedback", partition: 1)
        acknowledgements.record(
            [LogAppend(topic: "feedback", key: "me", payload: []), LogAppend(topic: "feedback", key: "me", payload: [])],
            at: [LogPosition(topicPartition: partition, offset: 7), LogPosition(topicPartition: partition, offset: 9)]
        )
        async let visible = acknowledgements.waitUntilVisible("me", timeout: .seconds(60))
        acknowledgements.advance(to: [partition: 8])  // the first event only: still waiting
        #expect(acknowledgements.outstanding("me") == [partition: 10])
        acknowledgements.advance(to: [partition: 10])
        #expect(await visible)
    }

    @Test func theProcessorDropsTheMarksOfTheUsersItAppliedWithoutASweep() {
        let acknowledgements = AcknowledgedEvents()
        let views = TopicPartition(topic: "views", partition: 0)
        let clicks = TopicPartition(topic: "clicks", partition: 2)
        acknowledgements.record(
            [
                LogAppend(topic: "views", key: "a", payload: []),
                LogAppend(topic: "clicks", key: "a", payload: []),
                LogAppend(topic: "views", key: "b", payload: []),
            ],
            at: [
                LogPosition(topicPartition: views, offset: 0),
                LogPosition(topicPartition: clicks, offset: 0),
                LogPosition(topicPartition: views, offset: 1),
            ]
        )
        #expect(acknowledgements.trackedUsers == 2)
        // Only a's view is visible: a still has a click outstanding, b was not in the slice.
        acknowledgements.advance(to: [views: 1], users: ["a"])
        #expect(acknowledgements.trackedUsers == 2)
        acknowledgements.advance(to: [views: 2, clicks: 1], users: ["a", "b"])
        #expect(acknowledgements.trackedUsers == 0)
        #expect(acknowledgements.outstanding("a") == nil)
    }

    @Test func ingestRecordsNoMarkTheProcessorHasAlreadyPassed() {
        // The processor can apply a durable record before ingest records its mark: that mark is never kept.
        let acknowledgements = AcknowledgedEvents()
        let views = TopicPartition(topic: "views", partition: 0)
        acknowledgements.advance(to: [views: 5], users: ["late"])
        acknowledgements.record(
            [LogAppend(topic: "views", key: "late", payload: [])],
            at: [LogPosition(topicPartition: views, offset: 4)]
        )
        #expect(acknowledgements.trackedUsers == 0)
        acknowledgements.record(
            [LogAppend(topic: "views", key: "late", payload: [])],
            at: [LogPosition(topicPartition: views, offset: 5)]
        )
        #expect(acknowledgements.outstanding("late") == [views: 6])
    }
}
