import Foundation
import StarlingCore
import StarlingModels
import Testing

struct TrendingCounterTests {
    @Test func scoreHalvesAfterOneHalfLife() {
        var counter = TrendingCounter(configuration: .init(halfLife: .seconds(60)))
        counter.record(0, weight: 1, at: .seconds(0))
        #expect(abs(counter.score(of: 0, at: .seconds(60)) - 0.5) < 1e-12)
        #expect(abs(counter.snapshot(names: ["a"], at: .seconds(120)).ranked[0].score - 0.25) < 1e-12)
    }

    @Test(arguments: [0, 30, 600])
    func lateEventCountsDecayedByItsAge(lateness: Int64) {
        var counter = TrendingCounter(configuration: .init(halfLife: .seconds(60)))
        counter.record(0, weight: 1, at: .seconds(600))
        counter.record(0, weight: 1, at: .seconds(600 - lateness))
        let expected = 1 + pow(2, -Double(lateness) / 60)
        #expect(abs(counter.score(of: 0, at: .seconds(600)) - expected) < 1e-9)
        #expect(counter.latest == .seconds(600))
    }

    @Test func topListMatchesBruteForceRanking() {
        var generator = SplitMix(seed: 42)
        var counter = TrendingCounter(configuration: .init(halfLife: .seconds(300), topSize: 25))
        var reference = [Double](repeating: 0, count: 200)
        var time: Int64 = 0
        for _ in 0..<5_000 {
            time += Int64(generator.next() % 3_000)
            let item = Int32(generator.next() % 200)
            let weight = Double(generator.next() % 5 + 1)
            counter.record(item, weight: weight, at: EventTime(milliseconds: time))
            // Reference: every contribution scaled to time zero; the ranking is the same at any instant.
            reference[Int(item)] += weight * pow(2, Double(time) / 300_000)
        }
        let expected = reference.indices.sorted { reference[$0] > reference[$1] }.prefix(25).map { Int32($0) }
        var ranked: [Int32] = []
        counter.forEachRanked(at: EventTime(milliseconds: time)) { item, _ in
            ranked.append(item)
            return true
        }
        #expect(ranked == expected)
    }

    @Test func rebasingKeepsScoresAndRanking() {
        var counter = TrendingCounter(configuration: .init(halfLife: .seconds(1)))
        counter.record(0, weight: 3, at: .seconds(0))
        counter.record(1, weight: 2, at: .seconds(0))
        // 250 half-lives later forces a rebase (threshold 200).
        counter.record(2, weight: 1, at: .seconds(250))
        counter.record(1, weight: 2, at: .seconds(250))
        let snapshot = counter.snapshot(names: ["a", "b", "c"])
        #expect(snapshot.ranked.map(\.item) == ["b", "c", "a"])
        #expect(abs(snapshot.ranked[0].score - 2) < 1e-9)
        #expect(abs(snapshot.ranked[1].score - 1) < 1e-9)
    }

    @Test func restoringFromSumsRebuildsTheTopList() {
        var counter = TrendingCounter(configuration: .init(halfLife: .seconds(60), topSize: 2))
        for (item, weight) in [(0, 1.0), (1, 5.0), (2, 3.0), (1, 1.0)] {
            counter.record(Int32(item), weight: weight, at: .seconds(10))
        }
        let restored = TrendingCounter(
            configuration: counter.configuration,
            landmark: counter.landmark,
            sums: counter.sums,
            latest: counter.latest
        )
        #expect(restored.snapshot(names: ["a", "b", "c"]).ranked.map(\.item) == ["b", "c"])
        #expect(restored.snapshot(names: ["a", "b", "c"]).ranked == counter.snapshot(names: ["a", "b", "c"]).ranked)
    }

    @Test func zeroWeightsAreIgnored() {
        var counter = TrendingCounter()
        counter.record(0, weight: 0, at: .seconds(1))
        #expect(counter.snapshot(names: ["a"]).ranked.isEmpty)
    }
}

/// A small deterministic generator for tests.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { self.state = seed }
    mutating func next() -> UInt64 {
        self.state &+= 0x9E37_79B9_7F4A_7C15
        var z = self.state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

struct SparseTrendingCounterTests {
    @Test func aSparseCounterRanksAndScoresExactlyLikeADenseOne() {
        var dense = TrendingCounter(configuration: .init(halfLife: .seconds(3_600), topSize: 20))
        var sparse = TrendingCounter(configuration: .init(halfLife: .seconds(3_600), topSize: 20, sparse: true))
        var random = SystemRandomNumberGenerator()
        for k in 0..<5_000 {
            let item = Int32.random(in: 0..<100_000, using: &random) % 300 * 331  // 300 items, ids up to ~99k
            let weight = Double.random(in: 0.1...3, using: &random)
            dense.record(item, weight: weight, at: .seconds(Int64(k)))
            sparse.record(item, weight: weight, at: .seconds(Int64(k)))
        }
        let names = (0..<100_000).map { ItemKey("i\($0)") }
        #expect(sparse.snapshot(names: names).ranked == dense.snapshot(names: names).ranked)
        #expect(sparse.score(of: 331, at: .seconds(5_000)) == dense.score(of: 331, at: .seconds(5_000)))
        #expect(sparse.score(of: 1, at: .seconds(5_000)) == 0)
        #expect(sparse.sums.count <= 300, "storage follows the items seen, not the largest id (\(sparse.sums.count))")
        #expect(dense.sums.count > 90_000)
        // Restored from what the engine stores (sums and their items), it ranks the same.
        let restored = TrendingCounter(
            configuration: sparse.configuration,
            landmark: sparse.landmark,
            sums: sparse.sums,
            items: sparse.items,
            latest: sparse.latest
        )
        #expect(restored.snapshot(names: names).ranked == dense.snapshot(names: names).ranked)
    }

    @Test func categoriesNamedByClientsAreCappedAndEachIsSizedByItsItems() throws {
        var configuration = RecommendationEngine.Configuration()
        configuration.maxCategories = 50
        var engine = RecommendationEngine(configuration: configuration)
        for k in 0..<1_000 {
            // A new category with one item each, and an item id that grows with k.
            let event = Event(
                type: .like,
                user: "u\(k % 7)",
                item: "item-\(k)",
                timestamp: .seconds(Int64(k)),
                context: [("category", .string("category-\(k)"))]
            )
            engine.learn(event)
        }
        #expect(engine.categoryPopularity.count == 50)
        #expect(engine.categoryPopularity.values.allSatisfy { $0.sums.count == 1 })
        #expect(engine.categoryCandidates("category-10", count: 5, excluding: []).map { engine.itemKey($0.item).name } == ["item-10"])
        #expect(engine.categoryCandidates("category-999", count: 5, excluding: []).isEmpty, "beyond the cap: not tracked")
        // The binary form keeps each category's items.
        var writer = BinaryWriter()
        engine.encode(into: &writer)
        let restored = try writer.bytes.withUnsafeBytes { raw in
            var reader = BinaryReader(raw)
            return try RecommendationEngine(configuration: configuration, decoding: &reader)
        }
        #expect(restored.categoryCandidates("category-10", count: 5, excluding: []).map { restored.itemKey($0.item).name } == ["item-10"])
    }
}
