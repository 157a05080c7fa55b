import StarlingCore
import StarlingModels
import Testing

struct TrendingCounterTests {
    @Test func scoreHalvesAfterOneHalfLife() {
        var counter = TrendingCounter(configuration: .init(halfLife: .seconds(60)))
        counter.record("a", weight: 1, at: .seconds(0))
        #expect(abs(counter.score(of: "a", at: .seconds(60)) - 0.5) < 1e-12)
        #expect(abs(counter.snapshot(at: .seconds(120)).ranked[0].score - 0.25) < 1e-12)
    }

    @Test(arguments: [0, 30, 600])
    func lateEventCountsDecayedByItsAge(lateness: Int64) {
        var counter = TrendingCounter(configuration: .init(halfLife: .seconds(60)))
        counter.record("a", weight: 1, at: .seconds(600))
        counter.record("a", weight: 1, at: .seconds(600 - lateness))
        let expected = 1 + Double.pow2(-Double(lateness) / 60)
        #expect(abs(counter.score(of: "a", at: .seconds(600)) - expected) < 1e-9)
        #expect(counter.latest == .seconds(600))
    }

    @Test func topListMatchesBruteForceRanking() {
        var generator = SplitMix(seed: 42)
        var counter = TrendingCounter(configuration: .init(halfLife: .seconds(300), topSize: 25))
        var reference: [String: Double] = [:]
        var time: Int64 = 0
        for _ in 0..<5_000 {
            time += Int64(generator.next() % 3_000)
            let item = "item-\(Int(Double(generator.next() % 10_000) / 10_000 * 200))"
            let weight = Double(generator.next() % 5 + 1)
            counter.record(ItemKey(item), weight: weight, at: EventTime(milliseconds: time))
            // Reference: every contribution scaled to time zero; ranking is the same at any instant.
            reference[item, default: 0] += weight * Double.pow2(Double(time) / 300_000)
        }
        let expected = reference.sorted { $0.value > $1.value }.prefix(25).map(\.key)
        #expect(counter.snapshot().ranked.map(\.item) == expected)
    }

    @Test func rebasingKeepsScoresAndRanking() {
        var counter = TrendingCounter(configuration: .init(halfLife: .seconds(1)))
        counter.record("a", weight: 3, at: .seconds(0))
        counter.record("b", weight: 2, at: .seconds(0))
        // 250 half-lives later forces a rebase (threshold 200).
        counter.record("c", weight: 1, at: .seconds(250))
        counter.record("b", weight: 2, at: .seconds(250))
        let snapshot = counter.snapshot()
        #expect(snapshot.ranked.map(\.item) == ["b", "c", "a"])
        #expect(abs(snapshot.ranked[0].score - 2) < 1e-9)
        #expect(abs(snapshot.ranked[1].score - 1) < 1e-9)
    }

    @Test func zeroWeightsAreIgnored() {
        var counter = TrendingCounter()
        counter.record("a", weight: 0, at: .seconds(1))
        #expect(counter.snapshot().ranked.isEmpty)
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

extension Double {
    static func pow2(_ x: Double) -> Double { Foundation.pow(2, x) }
}

import Foundation
