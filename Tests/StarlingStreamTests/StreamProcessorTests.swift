import StarlingCore
import StarlingEventLog
import StarlingModels
import StarlingStream
import StarlingTestSupport
import Synchronization
import Testing

struct StreamProcessorTests {
    private func makeProcessor(
        log: SegmentedEventLog,
        checkpoints: any CheckpointStore,
        deduplication: DeduplicationIndex = DeduplicationIndex(),
        catalog: ItemCatalog = ItemCatalog(),
        observer: (@Sendable (Int64) -> Void)? = nil
    ) -> StreamProcessor<SegmentedEventLog> {
        StreamProcessor(
            log: log,
            deduplication: deduplication,
            checkpoints: checkpoints,
            catalog: catalog,
            configuration: .init(checkpointInterval: .seconds(3_600)),
            logger: testLogger,
            freshnessObserver: observer
        )
    }

    private func ingest(_ log: SegmentedEventLog, _ dedup: DeduplicationIndex, _ events: [Event]) async throws
        -> IngestService<SegmentedEventLog>.Result
    {
        let service = IngestService(log: log, deduplication: dedup, decoder: IngestBatchDecoder())
        return try await service.ingest(events.map { .success($0) }, receivedAt: .now())
    }

    @Test func appliesEventsToVersionedProfilesAndTrending() async throws {
        let directory = TemporaryDirectory()
        let log = try openLog(directory.path)
        let dedup = DeduplicationIndex()
        let processor = self.makeProcessor(log: log, checkpoints: MemoryCheckpointStore(), deduplication: dedup)
        try await withRunningProcessor(processor) {
            _ = try await self.ingest(
                log,
                dedup,
                [
                    event(.view, user: "alice", item: "a", at: 1_000),
                    event(.purchase, user: "bob", item: "b", at: 2_000),
                    event(.view, user: "alice", item: "c", at: 3_000),
                    event(.navigate, user: "alice", item: nil, at: 4_000),
                ]
            )
            try await eventually("4 events applied") { processor.appliedCount == 4 }
        }
        let alice = try #require(processor.profiles.profile(for: "alice"))
        #expect(alice.version == 3)
        #expect(alice.eventCount == 3)
        #expect(alice.recent.map(\.item) == ["c", "a"])
        #expect(alice.interacted == ["a", "c"])
        #expect(alice.typeCounts == ["view": 2, "navigate": 1])
        #expect(processor.profiles.profile(for: "bob")?.version == 1)
        // purchase (5) outranks the two views (1 each).
        #expect(processor.trending.current.ranked.map(\.item).first == "b")
        #expect(processor.isRecovered)
        await log.close()
    }

    @Test func restartFromCheckpointNeitherLosesNorDoubleAppliesEvents() async throws {
        let directory = TemporaryDirectory()
        let checkpoints = try FileCheckpointStore(directory: "\(directory.path)/checkpoints")
        let users = (0..<20).map { "user-\($0)" }

        // First life: 200 events, then a clean stop writes a checkpoint.
        do {
            let log = try openLog(directory.path)
            let dedup = DeduplicationIndex()
            let processor = self.makeProcessor(log: log, checkpoints: checkpoints, deduplication: dedup)
            try await withRunningProcessor(processor) {
                for k in 0..<200 {
                    _ = try await self.ingest(log, dedup, [event(.view, user: users[k % 20], item: "i\(k)", at: Int64(k))])
                }
                try await eventually("200 applied") { processor.appliedCount == 200 }
            }
            await log.close()
        }
        // While stopped, 100 more events reach the log.
        do {
            let log = try openLog(directory.path)
            let dedup = DeduplicationIndex()
            for k in 200..<300 {
                _ = try await self.ingest(log, dedup, [event(.click, user: users[k % 20], item: "i\(k)", at: Int64(k))])
            }
            await log.close()
        }
        // Second life: restores the checkpoint and replays only the 100 new events.
        let log = try openLog(directory.path)
        let processor = self.makeProcessor(log: log, checkpoints: checkpoints)
        try await withRunningProcessor(processor) {
            try await eventually("recovered") { processor.isRecovered }
        }
        #expect(processor.appliedCount == 100)
        // The models were restored too: the engine has learned each of the 300 events exactly once.
        #expect(processor.engine.read { $0.eventCount } == 300)
        #expect(processor.engine.read { $0.itemCount } == 300)
        for user in users {
            let profile = try #require(processor.profiles.profile(for: user))
            #expect(profile.eventCount == 15)
            #expect(profile.version == 15)
            #expect(profile.typeCounts == ["view": 10, "click": 5])
        }
        await log.close()
    }

    @Test func aFormat3CheckpointsProfilesMoveIntoTheEngine() async throws {
        // Before format 4 the profiles were checkpointed apart from the engine, which knew only users with items.
        var engine = RecommendationEngine()
        let events = [
            event(.view, user: "reader", item: "a", at: 1_000),
            event(.navigate, user: "reader", item: nil, at: 2_000),
            event(.navigate, user: "walker", item: nil, at: 3_000),
        ]
        var profiles: [String: UserProfile] = [:]
        for event in events { profiles[event.user, default: UserProfile(user: event.user)].apply(event) }
        for event in events where event.item != nil { engine.learn(event) }
        var state = BinaryWriter(capacity: 1 << 12)
        engine.encode(into: &state)
        let checkpoints = MemoryCheckpointStore()
        try await checkpoints.save(
            Checkpoint(
                decoding: legacyCheckpoint(format: 3, positions: [:], profiles: Array(profiles.values), engineState: state.bytes)
            )
        )

        let directory = TemporaryDirectory()
        let log = try openLog(directory.path)
        let processor = self.makeProcessor(log: log, checkpoints: checkpoints)
        try await withRunningProcessor(processor) {
            try await eventually("recovered") { processor.isRecovered }
        }

        #expect(processor.profiles.profile(for: "reader") == profiles["reader"])
        #expect(processor.profiles.profile(for: "walker") == profiles["walker"])
        // Saved again in the current format, with the profiles inside the engine's state.
        let saved = try #require(try await checkpoints.load())
        #expect(saved.legacyProfiles.isEmpty)
        await log.close()
    }

    @Test func appliedIdsSurviveRestartAndDuplicatesAreNeverAppliedTwice() async throws {
        let directory = TemporaryDirectory()
        let checkpoints = try FileCheckpointStore(directory: "\(directory.path)/checkpoints")
        do {
            let log = try openLog(directory.path)
            let dedup = DeduplicationIndex()
            let processor = self.makeProcessor(log: log, checkpoints: checkpoints, deduplication: dedup)
            try await withRunningProcessor(processor) {
                let first = try await self.ingest(log, dedup, [event(.like, user: "u", item: "x", id: "evt-1", at: 1)])
                #expect(first.accepted == 1)
                let again = try await self.ingest(log, dedup, [event(.like, user: "u", item: "x", id: "evt-1", at: 1)])
                #expect(again.accepted == 0)
                #expect(again.duplicates == 1)
                try await eventually("applied") { processor.appliedCount == 1 }
            }
            await log.close()
        }
        let log = try openLog(directory.path)
        let dedup = DeduplicationIndex()
        let processor = self.makeProcessor(log: log, checkpoints: checkpoints, deduplication: dedup)
        try await withRunningProcessor(processor) {
            try await eventually("recovered") { processor.isRecovered }
            let retried = try await self.ingest(log, dedup, [event(.like, user: "u", item: "x", id: "evt-1", at: 1)])
            #expect(retried.duplicates == 1)
            #expect(retried.accepted == 0)
        }
        #expect(processor.profiles.profile(for: "u")?.version == 1)
        await log.close()
    }

    @Test func processorSkipsADuplicateIdThatReachedTheLogTwice() async throws {
        // Two ingest nodes with separate indexes can both append one id; the processor must apply it once.
        let directory = TemporaryDirectory()
        let log = try openLog(directory.path)
        let dedup = DeduplicationIndex()
        let processor = self.makeProcessor(log: log, checkpoints: MemoryCheckpointStore(), deduplication: dedup)
        try await withRunningProcessor(processor) {
            _ = try await self.ingest(log, DeduplicationIndex(), [event(.like, user: "u", item: "x", id: "same", at: 1)])
            _ = try await self.ingest(log, DeduplicationIndex(), [event(.like, user: "u", item: "x", id: "same", at: 1)])
            _ = try await self.ingest(log, DeduplicationIndex(), [event(.view, user: "u", item: "y", at: 2)])
            try await eventually("profile has the view") { processor.profiles.profile(for: "u")?.interacted.contains("y") == true }
        }
        #expect(processor.profiles.profile(for: "u")?.version == 2)
        await log.close()
    }

    @Test func reportsFreshnessForEveryRecord() async throws {
        let directory = TemporaryDirectory()
        let log = try openLog(directory.path)
        let dedup = DeduplicationIndex()
        let observed = Mutex<[Int64]>([])
        let processor = self.makeProcessor(
            log: log,
            checkpoints: MemoryCheckpointStore(),
            deduplication: dedup,
            observer: { value in observed.withLock { $0.append(value) } }
        )
        try await withRunningProcessor(processor) {
            _ = try await self.ingest(log, dedup, (0..<10).map { event(.view, user: "u\($0)", item: "i", at: 1) })
            try await eventually("10 applied") { processor.appliedCount == 10 }
        }
        let values = observed.withLock { $0 }
        #expect(values.count == 10)
        #expect(values.allSatisfy { $0 > 0 && $0 < 60_000_000_000 })
        await log.close()
    }

    @Test func aRetrainInstallsNewEmbeddingsAndKeepsOnlineUpdates() async throws {
        let directory = TemporaryDirectory()
        let log = try openLog(directory.path)
        let dedup = DeduplicationIndex()
        let processor = self.makeProcessor(log: log, checkpoints: MemoryCheckpointStore(), deduplication: dedup)
        let retrainer = ModelRetrainer(
            log: log,
            processor: processor,
            configuration: .init(interval: nil, trainer: .init(epochs: 3)),
            logger: testLogger
        )
        try await withRunningProcessor(processor) {
            var events: [Event] = []
            for u in 0..<20 {
                for k in 0..<5 { events.append(event(.like, user: "u\(u)", item: "i\((u + k) % 12)", at: Int64(u * 10 + k))) }
            }
            _ = try await self.ingest(log, dedup, events)
            try await eventually("100 applied") { processor.appliedCount == 100 }
            let before = processor.engine.read { $0.factors.itemFactors }
            await retrainer.retrain()
            #expect(retrainer.status.completed == 1)
            #expect(retrainer.status.lastInteractions == 100)
            #expect(retrainer.status.lastError == nil)
            #expect(processor.engine.read { $0.modelVersion } == 1)
            #expect(processor.engine.read { $0.factors.itemFactors } != before)
            #expect(processor.engine.read { $0.pendingReplay } == nil)
            // Learning continues on the new embeddings.
            _ = try await self.ingest(log, dedup, [event(.like, user: "u0", item: "fresh", at: 1_000)])
            try await eventually("applied") { processor.appliedCount == 101 }
            #expect(processor.engine.read { $0.itemID(named: "fresh") } != nil)
        }
        await log.close()
    }

    @Test func theCatalogueIsRebuiltFromTheLogAndCheckpoints() async throws {
        let directory = TemporaryDirectory()
        let checkpoints = try FileCheckpointStore(directory: "\(directory.path)/checkpoints")
        func open() throws -> SegmentedEventLog {
            var topics = Dictionary(uniqueKeysWithValues: EventSchema().topics.map { ($0, 2) })
            topics[CatalogService<SegmentedEventLog>.topic] = 2
            return try SegmentedEventLog.open(configuration: .init(directory: "\(directory.path)/log", topics: topics), logger: testLogger)
        }
        do {
            let log = try open()
            let service = CatalogService(log: log, catalog: ItemCatalog())
            try await service.apply([
                .upsert(CatalogItem(id: "a", category: "x", updatedAt: .seconds(1))),
                .upsert(CatalogItem(id: "b", available: false, updatedAt: .seconds(1))),
            ])
            // First life: the processor applies the catalogue topic and checkpoints it on stop.
            let catalog = ItemCatalog()
            let processor = self.makeProcessor(log: log, checkpoints: checkpoints, catalog: catalog)
            try await withRunningProcessor(processor) {
                try await eventually("catalogue applied") { catalog.count == 2 }
            }
            try await service.apply([.delete(id: "a", at: .seconds(2))])
            await log.close()
        }
        let log = try open()
        let catalog = ItemCatalog()
        let processor = self.makeProcessor(log: log, checkpoints: checkpoints, catalog: catalog)
        try await withRunningProcessor(processor) {
            try await eventually("recovered") { processor.isRecovered }
        }
        #expect(catalog.item("b")?.available == false)
        #expect(catalog.isDeleted("a"))
        #expect(!catalog.isRecommendable("a", at: .now()))
        #expect(catalog.isRecommendable("never-catalogued", at: .now()))
        await log.close()
    }
}
