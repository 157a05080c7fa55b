import StarlingCluster
import StarlingCore
import StarlingModels
import StarlingRedis
import StarlingServing
import StarlingStream

/// Every decoder that reads bytes Starling does not control: request bodies, files on disk, Redis replies and
/// the values other processes publish to Redis.
package enum FuzzTargets {
    package static let all: [FuzzTarget] = [events, json, log, checkpoint, resp, snapshot]

    package static func named(_ name: String) -> FuzzTarget? {
        self.all.first { $0.name == name }
    }

    /// The receive time given to every decoded event, fixed so that runs repeat.
    static let receivedAt = EventTime(milliseconds: 1_764_000_000_000)

    // MARK: - Request bodies

    /// `POST /v1/events`: the same bytes as a JSON envelope and as NDJSON, through validation.
    package static let events = FuzzTarget(
        name: "events",
        summary: "POST /v1/events bodies (IngestBatchDecoder: JSON envelope and NDJSON, validation, RFC 3339)"
    ) { input in
        let decoder = IngestBatchDecoder()
        var accepted = false
        for format in [IngestBatchDecoder.Format.json, .ndjson] {
            guard let entries = try? decoder.decode(input, format: format, receivedAt: receivedAt) else { continue }
            accepted = true
            for case .success(let event) in entries {
                // What ingest does next: encode for the log; the processor decodes it again.
                let decoded = try? Event(decoding: event.encoded())
                guard decoded == event else { throw FuzzFinding("an accepted event does not survive the log codec") }
            }
        }
        return accepted ? .accepted : .rejected
    }

    /// Any JSON document, and the same bytes as a catalogue batch (`POST /v1/items`).
    package static let json = FuzzTarget(
        name: "json",
        summary: "JSON documents (JSONScanner) and catalogue batches (CatalogItemValidator)"
    ) { input in
        let document = try? JSONScanner.parse(input)
        let validator = CatalogItemValidator()
        let items = input.withUnsafeBufferPointer { buffer in
            try? BatchBody.decode(buffer, format: .json, envelopeKey: nil, noun: "items", maxEntries: 10_000) {
                validator.validate($0, id: nil, now: receivedAt)
            }
        }
        for case .success(let item) in items ?? [] {
            guard case .upsert(let decoded) = try? CatalogChange(decoding: CatalogChange.upsert(item).encoded()),
                decoded == item
            else { throw FuzzFinding("an accepted catalogue item does not survive the log codec") }
        }
        return document != nil || items != nil ? .accepted : .rejected
    }

    // MARK: - Files

    static let logFormats = Selector(formats: ["segment", "journal", "event", "catalog-change"])

    /// What the embedded log reads back: a segment file or a journal file, recovered by opening the log and read
    /// by a consumer, and the payloads of its records.
    package static let log = FuzzTarget(
        name: "log",
        summary: "log segment and journal files (recovery, RecordCodec, consumer) and record payloads (Event, CatalogChange)"
    ) { input in
        guard let (format, rest) = logFormats.split(input) else { return .rejected }
        switch logFormats.formats[format] {
        case "segment": return try await LogFiles.recover(segment: rest)
        case "journal": return try await LogFiles.recover(journal: rest)
        case "event": return (try? Event(decoding: rest)) == nil ? .rejected : .accepted
        default: return (try? CatalogChange(decoding: rest)) == nil ? .rejected : .accepted
        }
    }

    static let checkpointFormats = Selector(formats: ["checksummed", "as-is", "checksummed-ials"])

    /// The processor's checkpoint file, restored as the processor restores it (with the default configuration, or
    /// with `trainer=ials`, whose engine also restores the feedback matrix). For the checksummed formats the input
    /// leaves out the trailing CRC-32C and the target appends the right one, so that mutations reach the decoder
    /// behind the checksum.
    package static let checkpoint = FuzzTarget(
        name: "checkpoint",
        summary: "processor checkpoints (Checkpoint, the engine state and catalogue inside)"
    ) { input in
        guard let (format, rest) = checkpointFormats.split(input) else { return .rejected }
        var bytes = rest
        if checkpointFormats.formats[format] != "as-is" {
            let crc = bytes.withUnsafeBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0.dropFirst(4))) }
            withUnsafeBytes(of: crc.littleEndian) { bytes.append(contentsOf: $0) }
        }
        guard let checkpoint = try? Checkpoint(decoding: bytes) else { return .rejected }
        let configuration = checkpointFormats.formats[format] == "checksummed-ials" ? EngineUse.ials : EngineUse.configuration
        guard var engine = try? checkpoint.engineState.withUnsafeBytes({ raw in
            var reader = BinaryReader(raw)
            return try RecommendationEngine(configuration: configuration, decoding: &reader)
        })
        else { return .rejected }
        for profile in checkpoint.legacyProfiles { engine.replaceProfile(with: profile) }
        let catalog = ItemCatalog()
        catalog.replaceAll(with: checkpoint.catalog)
        try EngineUse.exercise(&engine, configuration: configuration)
        return .accepted
    }

    // MARK: - Redis

    /// Replies from Redis, fed to the streaming decoder in pieces.
    package static let resp = FuzzTarget(
        name: "resp",
        summary: "RESP2 replies (RESPDecoder), whole and split in two"
    ) { input in
        var whole = RESPDecoder()
        whole.append(input)
        guard let values = try? whole.decodeAll() else { return .rejected }
        // The same stream arriving in two pieces decodes to the same values.
        var split = RESPDecoder()
        let cut = input.isEmpty ? 0 : Int(input[0]) % (input.count + 1)
        split.append(input[..<cut])
        var pieces = (try? split.decodeAll()) ?? []
        split.append(input[cut...])
        pieces += (try? split.decodeAll()) ?? []
        guard pieces == values else { throw FuzzFinding("a reply decodes differently when it arrives in two pieces") }
        for value in values {
            var encoded: [UInt8] = []
            RESPEncoder.encode(value, into: &encoded)
            var again = RESPDecoder()
            again.append(encoded)
            guard (try? again.decodeAll()) == [value] else { throw FuzzFinding("a decoded reply does not encode back") }
        }
        return values.isEmpty ? .rejected : .accepted
    }

    static let snapshotFormats = Selector(
        formats: ["model-snapshot", "manifest", "published-user", "session-items", "applied-slice", "shared-list"]
    )

    /// What an API process reads from Redis: the model snapshot, its manifest, published users and sessions, the
    /// applied-events stream and shared lists, each used as the API process uses it.
    package static let snapshot = FuzzTarget(
        name: "snapshot",
        summary: "values API processes read from Redis (ModelSnapshot, manifest, PublishedUser, sessions, AppliedSlice, SharedList)"
    ) { input in
        guard let (format, rest) = snapshotFormats.split(input) else { return .rejected }
        switch snapshotFormats.formats[format] {
        case "model-snapshot":
            guard var snapshot = try? ModelSnapshot(decoding: rest, configuration: EngineUse.configuration) else {
                return .rejected
            }
            ItemCatalog().replaceAll(with: snapshot.catalog)
            try EngineUse.exercise(&snapshot.engine)
        case "manifest":
            guard (try? SnapshotManifest(decoding: rest)) != nil else { return .rejected }
        case "published-user":
            guard let user = try? PublishedUser(decoding: rest) else { return .rejected }
            try EngineUse.serve(user)
        case "session-items":
            guard let items = try? PublishedSession.decodeItems(rest) else { return .rejected }
            let engine = EngineUse.reference
            let ids = items.compactMap { engine.itemID($0) }
            _ = engine.sessionCandidates(recent: ids, count: 10, excluding: [])
        case "applied-slice":
            guard let slice = try? AppliedSlice(decoding: rest) else { return .rejected }
            var engine = EngineUse.reference
            for event in slice.events { engine.learn(event) }
            _ = slice.lastSequence
            try EngineUse.exercise(&engine)
        default:
            guard (try? SharedList(decoding: rest)) != nil else { return .rejected }
        }
        return .accepted
    }
}
