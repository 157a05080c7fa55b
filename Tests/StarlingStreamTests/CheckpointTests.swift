import StarlingCore
import StarlingStream
import Testing

struct CheckpointTests {
    @Test func roundTripsEveryField() throws {
        let checkpoint = Checkpoint(
            positions: [TopicPartition(topic: "views", partition: 1): 42, TopicPartition(topic: "feedback", partition: 0): 7],
            engineState: [1, 2, 3, 250],
            appliedIDs: [("id-1", 10), ("id-2", 20)]
        )
        let decoded = try Checkpoint(decoding: checkpoint.encoded())
        #expect(decoded.positions == checkpoint.positions)
        #expect(decoded.legacyProfiles.isEmpty)
        #expect(decoded.engineState == [1, 2, 3, 250])
        #expect(decoded.appliedIDs.map(\.id) == ["id-1", "id-2"])
    }

    @Test func readsTheProfilesOfAFormat3Checkpoint() throws {
        var profile = UserProfile(user: "ü-1")
        profile.apply(Event(type: .like, user: "ü-1", item: "x", timestamp: .seconds(5)))
        profile.apply(Event(type: .view, user: "ü-1", item: "y", timestamp: .seconds(7)))
        let bytes = formatThreeCheckpoint(
            positions: [TopicPartition(topic: "views", partition: 1): 42],
            profiles: [profile, UserProfile(user: "empty")],
            engineState: [9, 8],
            appliedIDs: [("id-1", 10)]
        )

        let decoded = try Checkpoint(decoding: bytes)

        #expect(decoded.positions == [TopicPartition(topic: "views", partition: 1): 42])
        #expect(Set(decoded.legacyProfiles.map(\.user)) == ["ü-1", "empty"])
        #expect(decoded.legacyProfiles.first { $0.user == "ü-1" } == profile)
        #expect(decoded.engineState == [9, 8])
        #expect(decoded.appliedIDs.map(\.id) == ["id-1"])
    }

    @Test func rejectsACorruptedCheckpoint() {
        var bytes = Checkpoint(positions: [:], engineState: [7, 7, 7, 7], appliedIDs: [("a", 1)]).encoded()
        bytes[bytes.count / 2] ^= 0xFF
        #expect(throws: BinaryFormatError.self) { try Checkpoint(decoding: bytes) }
    }
}
