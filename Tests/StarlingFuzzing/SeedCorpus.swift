import Logging
import StarlingCluster
import StarlingCore
import StarlingEventLog
import StarlingModels
import StarlingRedis
import StarlingServing
import StarlingStream

/// The seed corpus: small valid samples of every format, written by Starling's own encoders (the JSON bodies are
/// the API's documented shapes). `Tests/FuzzCorpus/<target>/<sample>` holds them, checked in; this type writes
/// them again when a format changes (`scripts/fuzz --write-corpus`).
package enum SeedCorpus {
    /// The samples of every target, by target name, each with a file name.
    package static func generate() async throws -> [String: [(name: String, bytes: [UInt8])]] {
        [
            "events": self.events(),
            "json": self.json(),
            "log": try await self.log(),
            "checkpoint": self.checkpoint(),
            "resp": self.resp(),
            "snapshot": self.snapshot(),
        ]
    }

    private static func text(_ samples: [String: String]) -> [(name: String, bytes: [UInt8])] {
        samples.sorted { $0.key < $1.key }.map { ($0.key, Array($0.value.utf8)) }
    }

    static func events() -> [(name: String, bytes: [UInt8])] {
        self.text([
            "envelope.json": """
            {"events": [
              {"type": "view", "user": "alice", "item": "dune", "session": "s1", "context": {"category": "scifi"}},
              {"type": "like", "user": "bob", "item": "dune", "id": "evt-1"},
              {"type": "rating", "user": "bob", "item": "alien", "value": 5, "timestamp": "2025-11-20T08:00:00Z"},
              {"type": "dwell", "user": "carol", "item": "solaris", "value": 42.5, "context": {"category": "scifi", "device": "ios", "beta": true, "n": -3e2}},
              {"type": "scroll", "user": "d\\u00e9j\\u00e0 \\ud83d\\ude00", "item": "x", "value": 0.5, "timestamp": 1763000000000},
              {"type": "navigate", "user": "erin", "item": null, "timestamp": "2025-11-20T08:00:00.250+02:00"},
              {"type": "rating", "user": "carol", "item": "alien", "value": 9}
            ]}
            """,
            "lines.ndjson": """
            {"type":"click","user":"alice","item":"alien"}
            {"type":"navigate","user":"alice"}

            {"type":"purchase","user":"bob","item":"heat","id":"p-9","timestamp":"2025-11-19T23:59:60Z","context":{"price":12.5}}
            not json
            {"type":"share","user":"carol","item":"dune","session":null,"value":null}
            """,
            "empty.json": #"{"events": []}"#,
        ])
    }

    static func json() -> [(name: String, bytes: [UInt8])] {
        self.text([
            "catalog.json": """
            [{"id": "dune", "category": "scifi", "tags": ["classic", "desert"], "published_at": "2021-10-22T00:00:00Z",
              "attributes": {"pages": 412, "hardcover": false, "lang": "en"}},
             {"id": "alien", "category": "scifi", "expires_at": 1893456000000},
             {"id": "heat", "category": "crime", "available": false}]
            """,
            "values.json": """
            {"a": [1, -0, 0.5e-3, 1E+2, 9223372036854775807, 18446744073709551616, -9223372036854775808],
             "s": "tab\\tquote\\"slash\\/\\\\ \\u0041\\u00e9\\u4e2d\\ud834\\udd1e", "n": null, "t": true, "f": false,
             "nested": {"x": [[[{}]]], "y": {"z": []}}}
            """,
            "items.json": #"{"items": [{"id": "x"}]}"#,
        ])
    }

    static func log() async throws -> [(name: String, bytes: [UInt8])] {
        let events = EngineUse.seedEvents.prefix(6).map { $0.encoded() }
        let changes = [
            CatalogChange.upsert(
                CatalogItem(
                    id: "dune",
                    category: "scifi",
                    tags: ["classic"],
                    publishedAt: EventTime(milliseconds: 1_634_860_800_000),
                    expiresAt: EventTime(milliseconds: 1_893_456_000_000),
                    attributes: ["pages": .number(412), "hardcover": .bool(true), "lang": .string("en")],
                    updatedAt: EventTime(milliseconds: 1_764_000_000_000)
                )
            ),
            CatalogChange.delete(id: "heat", at: EventTime(milliseconds: 1_764_000_000_000)),
        ]
        let (segment, journal) = try await self.logFiles(payloads: events)
        var samples = [
            (name: "segment", bytes: FuzzTargets.logFormats.input("segment", segment)),
            (name: "journal", bytes: FuzzTargets.logFormats.input("journal", journal)),
        ]
        for (k, event) in events.prefix(3).enumerated() {
            samples.append(("event-\(k)", FuzzTargets.logFormats.input("event", event)))
        }
        for (k, change) in changes.enumerated() {
            samples.append(("catalog-change-\(k)", FuzzTargets.logFormats.input("catalog-change", change.encoded())))
        }
        return samples
    }

    /// A segment file and a journal file holding `payloads`, written by the log itself.
    private static func logFiles(payloads: [[UInt8]]) async throws -> (segment: [UInt8], journal: [UInt8]) {
        let directory = "/tmp/starling-fuzz-seed-\(UInt32.random(in: 0...UInt32.max))"
        defer { LogFiles.removeTree(directory) }
        let log = try SegmentedEventLog.open(
            configuration: .init(directory: directory, topics: [LogFiles.topic: 1], durability: .fsync),
            logger: Logger(label: "fuzz", factory: { _ in SwiftLogNoOpLogHandler() })
        )
        _ = try await log.append(payloads.map { LogAppend(topic: LogFiles.topic, key: "u0", payload: $0) })
        // The journal file stays until the log rolls to another one: it holds this commit's chunk.
        let journalDirectory = "\(directory)/_journal"
        let journals = FileIO.listDirectory(journalDirectory).filter { $0.hasSuffix(".journal") }.sorted()
        let journal = try FileIO.readFile("\(journalDirectory)/\(journals.last ?? "missing")")
        await log.close()
        let segment = try FileIO.readFile("\(directory)/\(LogFiles.topic)/0/\(LogFiles.segmentName)")
        return (segment, journal)
    }

    static func checkpoint() -> [(name: String, bytes: [UInt8])] {
        var writer = BinaryWriter()
        EngineUse.reference.encode(into: &writer)
        var ials = RecommendationEngine(configuration: EngineUse.ials)
        for event in EngineUse.seedEvents { ials.learn(event) }
        var ialsWriter = BinaryWriter()
        ials.encode(into: &ialsWriter)
        let catalog = [
            CatalogItem(id: "dune", category: "scifi", tags: ["classic"], updatedAt: EventTime(milliseconds: 1)),
            CatalogItem(id: "heat", available: false, attributes: ["year": .number(1995)], updatedAt: EventTime(milliseconds: 2)),
        ]
        let checkpoints = [
            "engine": Checkpoint(
                positions: [TopicPartition(topic: "views", partition: 0): 21, TopicPartition(topic: "feedback", partition: 3): 4],
                engineState: writer.bytes,
                appliedIDs: [("e0-0", 1_764_000_060_000), ("e1-1", 1_764_000_120_000)],
                catalog: catalog
            ),
            "ials-engine": Checkpoint(positions: [:], engineState: ialsWriter.bytes, appliedIDs: []),
        ]
        var samples: [(name: String, bytes: [UInt8])] = []
        for (name, checkpoint) in checkpoints.sorted(by: { $0.key < $1.key }) {
            let bytes = checkpoint.encoded()
            samples.append((name, FuzzTargets.checkpointFormats.input("checksummed", Array(bytes.dropLast(4)))))
            samples.append(("\(name)-as-is", FuzzTargets.checkpointFormats.input("as-is", bytes)))
        }
        let ialsBytes = checkpoints["ials-engine"]!.encoded()
        samples.append(("ials-engine-ials", FuzzTargets.checkpointFormats.input("checksummed-ials", Array(ialsBytes.dropLast(4)))))
        return samples
    }

    static func resp() -> [(name: String, bytes: [UInt8])] {
        let values: [String: [RESPValue]] = [
            "scalars": [.simpleString("OK"), .error("ERR wrong type"), .integer(-42), .bulkString(Array("héllo\r\n".utf8))],
            "nulls": [.bulkString(nil), .array(nil), .array([])],
            "nested": [
                .array([
                    .bulkString(Array("1764000000000-0".utf8)),
                    .array([.bulkString(Array("p".utf8)), .bulkString([0, 1, 2, 0xFF])]),
                    .array([.integer(Int64.min), .integer(Int64.max), .bulkString(nil)]),
                ])
            ],
        ]
        return values.sorted { $0.key < $1.key }.map { name, values in
            var bytes: [UInt8] = []
            for value in values { RESPEncoder.encode(value, into: &bytes) }
            return (name, bytes)
        }
    }

    static func snapshot() -> [(name: String, bytes: [UInt8])] {
        let engine = EngineUse.reference
        let catalog = [CatalogItem(id: "dune", category: "scifi", tags: ["classic"], updatedAt: EventTime(milliseconds: 1))]
        let snapshot = ModelSnapshot(engine: engine, catalog: catalog, catalogChangeID: "1764000000000-0", appliedStreamID: nil)
        let manifest = SnapshotManifest(
            generation: 1_764_000_000_000,
            chunkCount: 3,
            byteCount: 70_000,
            checksum: 0xDEAD_BEEF,
            modelVersion: 2,
            eventCount: 21,
            settings: "model=;bust-on="
        )
        let published = PublishedUser(
            profile: engine.profile(of: "u1") ?? UserProfile(user: "u1"),
            model: engine.portableUser("u1") ?? .init(),
            applied: [TopicPartition(topic: "views", partition: 0): 21]
        )
        let list = SharedList(
            items: [Recommendation(item: "i3", score: 0.75, reason: "similar to i1")],
            epoch: 4,
            profileVersion: 4,
            modelVersion: 0,
            computedAt: 1_764_000_000_000,
            modelTime: 1_764_000_000_000
        )
        let formats = FuzzTargets.snapshotFormats
        return [
            ("model-snapshot", formats.input("model-snapshot", snapshot.encoded())),
            ("manifest", formats.input("manifest", manifest.encoded())),
            ("published-user", formats.input("published-user", published.encoded())),
            ("session-items", formats.input("session-items", PublishedSession(id: "s0", items: ["i0", "i3"]).encodedItems())),
            ("applied-slice", formats.input("applied-slice", AppliedSlice(firstSequence: 1, events: Array(EngineUse.seedEvents.prefix(5))).encoded())),
            ("shared-list", formats.input("shared-list", list.encoded())),
        ]
    }
}
