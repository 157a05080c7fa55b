import StarlingCluster
import StarlingCore
import StarlingFuzzing
import StarlingModels
import StarlingServing
import StarlingStream
import Testing

/// Inputs that crashed a decoder (or the code using what it decoded) before it was fixed: found by libFuzzer
/// (`scripts/fuzz`, kept in `Tests/FuzzRegressions/TARGET/`), or built here with the encoders. Before the fix each
/// one ended the process; now each is refused.
struct DecoderRegressionTests {
    /// One input libFuzzer found, and what was wrong.
    struct Found: Sendable, CustomTestStringConvertible {
        var target: String
        var file: String
        var bug: String
        var testDescription: String { "\(self.target)/\(self.file): \(self.bug)" }
    }

    static let found: [Found] = [
        Found(
            target: "snapshot",
            file: "cooccurrence-neighbour-beyond-norms",
            bug: "a co-occurrence neighbour past the item weights: out-of-bounds read (AddressSanitizer) in accumulate"
        ),
        Found(
            target: "checkpoint",
            file: "cooccurrence-neighbour-beyond-norms",
            bug: "the same in a checkpoint: heap-buffer-overflow in CooccurrenceModel.accumulate"
        ),
        Found(
            target: "checkpoint",
            file: "cooccurrence-neighbour-beyond-items",
            bug: "a co-occurrence neighbour past the item count: index out of range in the candidate accumulator"
        ),
        Found(
            target: "snapshot",
            file: "kmeans-cluster-count-beyond-int",
            bug: "a k-means cluster count over Int.max: 'Not enough bits' trap converting the varint"
        ),
        Found(
            target: "snapshot",
            file: "user-segment-beyond-segments",
            bug: "a user's segment past the segment counters: index out of range serving segment candidates"
        ),
    ]

    @Test(arguments: found)
    func inputLibFuzzerFoundIsRefused(_ found: Found) async throws {
        let target = try #require(FuzzTargets.named(found.target))
        let input = try FileIO.readFile("\(CheckedInCorpus.regressionsDirectory)/\(found.target)/\(found.file)")

        #expect(try await target.run(input) == .rejected)
    }

    @Test func everyFoundInputIsListed() throws {
        var files: Set<String> = []
        for target in FuzzTargets.all.map(\.name) {
            let folder = "\(CheckedInCorpus.regressionsDirectory)/\(target)"
            for file in FileIO.listDirectory(folder) { files.insert("\(target)/\(file)") }
        }

        #expect(files == Set(Self.found.map { "\($0.target)/\($0.file)" }))
    }
}

/// Bad values from Redis or a file that reading the decoders showed would trap (while writing their fuzz targets),
/// each built with the project's encoders. Before the fix each decoded, and the code using the value trapped.
struct DecodedValueRegressionTests {
    @Test func publishedUserWithAnImpossibleLatestEventIsRefused() {
        // Served by an API process, the blend computed `latest - lastEvent`: overflow for Int64.min.
        let user = PublishedUser(
            profile: UserProfile(user: "u1"),
            model: .init(seen: ["i1"], events: 3, lastEvent: .min)
        )

        #expect(throws: BinaryFormatError.self) { try PublishedUser(decoding: user.encoded()) }
    }

    @Test func appliedSliceWhoseSequenceNumbersOverflowIsRefused() {
        // The follower reads `lastSequence`, `firstSequence + count - 1`: overflow past UInt64.max.
        let events = Array(EngineUse.seedEvents.prefix(2))
        let slice = AppliedSlice(firstSequence: .max, events: events)

        #expect(throws: BinaryFormatError.self) { try AppliedSlice(decoding: slice.encoded()) }
        #expect(throws: Never.self) { try AppliedSlice(decoding: AppliedSlice(firstSequence: .max - 1, events: events).encoded()) }
    }

    @Test func appliedEventAtAnImpossibleTimeIsRefused() {
        // A model replica learning it computed `time - landmark` in its trending counters: overflow for Int64.min.
        var event = EngineUse.seedEvents[0]
        event.timestamp = EventTime(milliseconds: .min)
        let slice = AppliedSlice(firstSequence: 1, events: [event])

        #expect(throws: BinaryFormatError.self) { try AppliedSlice(decoding: slice.encoded()) }
        #expect(throws: BinaryFormatError.self) { try Event(decoding: event.encoded()) }
    }

    @Test func publishedProfileCountsThatOverflowTogetherStillCount() throws {
        // Checking a shared list against `--bust-on` types summed the counts: overflow for two huge counts.
        var profile = UserProfile(user: "u1")
        profile.typeCounts = ["like": .max, "purchase": 2]
        let user = try PublishedUser(decoding: PublishedUser(profile: profile, model: .init()).encoded())

        #expect(user.profile.count(of: ["like", "purchase"]) == 1)
    }

    @Test func checkpointWithAPartitionBeyondIntIsRefused() throws {
        // `Int(varint)` trapped on a partition number over Int.max.
        var bytes = Checkpoint(positions: [TopicPartition(topic: "views", partition: 0): 1], engineState: [], appliedIDs: [])
            .encoded()
        // magic (4), version (1), one position (1), "views" (1 + 5), then the partition varint (0).
        #expect(bytes[12] == 0)
        bytes.replaceSubrange(12...12, with: [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01])
        bytes.removeLast(4)
        let crc = bytes.withUnsafeBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0.dropFirst(4))) }
        withUnsafeBytes(of: crc.littleEndian) { bytes.append(contentsOf: $0) }

        #expect(throws: BinaryFormatError.self) { try Checkpoint(decoding: bytes) }
    }
}
