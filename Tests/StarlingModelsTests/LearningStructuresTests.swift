import StarlingCore
import StarlingModels
import Testing

struct StringInternerTests {
    @Test func idsAreDenseInFirstSeenOrderAndKeysRoundTrip() {
        var interner = StringInterner(seed: 42)
        let long = String(repeating: "é", count: 200)  // 400 bytes: a two-byte length varint
        let keys = ["user-1", "", "user-2", long, "ユーザー", "user-1"]
        let ids = keys.map { interner.intern($0) }
        #expect(ids.map(\.id) == [0, 1, 2, 3, 4, 0])
        #expect(ids.map(\.inserted) == [true, true, true, true, true, false])
        #expect(interner.count == 5)
        #expect(interner.keys == ["user-1", "", "user-2", long, "ユーザー"])
        #expect(interner.id(of: long) == 3)
        #expect(interner.id(of: "user-3") == nil)
        #expect(interner.id(of: "user-") == nil, "a prefix of a key is another key")
    }

    @Test(arguments: [1, 7, 1_234])
    func agreesWithADictionaryOverManyKeys(seed: UInt64) {
        var interner = StringInterner(seed: seed)
        var reference: [String: Int32] = [:]
        var random = SystemRandomNumberGenerator()
        for k in 0..<20_000 {
            // Short and long keys, with many repeats.
            let key = k % 3 == 0 ? "u\(Int.random(in: 0..<5_000, using: &random))" : "user-\(k)-\(String(repeating: "x", count: k % 40))"
            let expected = reference[key] ?? Int32(reference.count)
            reference[key] = expected
            #expect(interner.intern(key).id == expected)
        }
        #expect(interner.count == reference.count)
        for (key, id) in reference {
            #expect(interner.id(of: key) == id)
            #expect(interner.key(id) == key)
        }
    }
}

struct CooccurrencePruningTests {
    @Test func aFullNeighbourListKeepsItsHeaviestNeighbours() {
        var model = CooccurrenceModel(configuration: .init(maxNeighbours: 4))
        // Item 0 co-occurs with items 1…9, item k with weight k (one at 5 twice, so that 5 ties with 10).
        for k in 1...9 { model.record(item: 0, weight: Float(k), after: [Int32(k)], at: 0) }
        // 9 neighbours > 2 × 4: pruned to the heaviest 4.
        #expect(Set(model.neighbours[0].items) == [6, 7, 8, 9])
        #expect(model.neighbours[0].weight(of: 9) == 9)
        #expect(model.neighbours[0].weight(of: 5) == nil)
        // Each neighbour still knows item 0 (its own list was never full).
        #expect(model.neighbours[3].weight(of: 0) == 3)
    }

    @Test func tiesAtTheCutKeepExactlyTheLimit() {
        var model = CooccurrenceModel(configuration: .init(maxNeighbours: 3))
        for k in 1...7 { model.record(item: 0, weight: k <= 2 ? 2 : 1, after: [Int32(k)], at: 0) }
        #expect(model.neighbours[0].count == 3)
        #expect(Set(model.neighbours[0].items).isSuperset(of: [1, 2]))
    }
}

struct SessionBoundsTests {
    @Test func sessionsSharingOneTimestampStayBounded() {
        var configuration = RecommendationEngine.Configuration()
        configuration.maxSessions = 100
        var engine = RecommendationEngine(configuration: configuration)
        for k in 0..<1_000 {
            engine.learn(Event(type: .like, user: "u\(k)", item: "i\(k % 50)", session: "s-\(k)", timestamp: .seconds(1)))
            #expect(engine.sessions.count <= 100)
            // Between equal times the least recently learned go first: the latest 50 always survive.
            #expect(engine.sessionItems("s-\(max(0, k - 49))").isEmpty == false)
        }
    }
}
