import Foundation
import StarlingEvaluation
import StarlingModels
import Testing

struct EvaluationRowTests {
    static let rows = [
        EvaluationRow(protocol: .prequential, source: .popularity, hrAt10: 0.25, ndcgAt10: 0.125, eventsPerSecond: 1_000.5, evaluated: 4),
        EvaluationRow(
            protocol: .temporal,
            source: RecommendationSource("odd \"name\""),
            hrAt10: 0.5,
            ndcgAt10: .nan,
            recallAt20: 0.75,
            coverageAt10: 0.1,
            evaluated: 2,
            users: .warm
        ),
    ]

    @Test func jsonFileParsesBackWithExactlyTheDocumentedKeys() throws {
        let directory = TemporaryDirectory()
        let path = "\(directory.path)/eval.json"
        try EvaluationRow.writeJSON(Self.rows, toFile: path)
        let data = try #require(FileManager.default.contents(atPath: path))
        let objects = try #require(try JSONSerialization.jsonObject(with: data) as? [[String: Any]])
        #expect(objects.count == 2)
        let keys: Set<String> = [
            "protocol", "source", "users", "hr_at_10", "ndcg_at_10", "recall_at_20", "coverage_at_10", "events_per_second",
        ]
        #expect(objects.allSatisfy { Set($0.keys) == keys })

        #expect(objects[0]["protocol"] as? String == "prequential")
        #expect(objects[0]["source"] as? String == "popularity")
        #expect(objects[0]["users"] as? String == "all")
        #expect((objects[0]["hr_at_10"] as? NSNumber)?.doubleValue == 0.25)
        #expect((objects[0]["ndcg_at_10"] as? NSNumber)?.doubleValue == 0.125)
        #expect(objects[0]["recall_at_20"] is NSNull)
        #expect(objects[0]["coverage_at_10"] is NSNull)
        #expect((objects[0]["events_per_second"] as? NSNumber)?.doubleValue == 1_000.5)

        #expect(objects[1]["protocol"] as? String == "temporal")
        #expect(objects[1]["source"] as? String == "odd \"name\"")
        #expect(objects[1]["users"] as? String == "warm")
        #expect(objects[1]["ndcg_at_10"] is NSNull)  // not a number
        #expect((objects[1]["recall_at_20"] as? NSNumber)?.doubleValue == 0.75)
        #expect((objects[1]["coverage_at_10"] as? NSNumber)?.doubleValue == 0.1)
        #expect(objects[1]["events_per_second"] is NSNull)
    }

    @Test func jsonIsDeterministicWithKeysInDocumentedOrder() {
        let text = EvaluationRow.json(Self.rows)
        #expect(text == EvaluationRow.json(Self.rows))
        #expect(
            text.split(separator: "\n")[1]
                == #"  {"protocol": "prequential", "source": "popularity", "users": "all", "hr_at_10": 0.25, "ndcg_at_10": 0.125, "recall_at_20": null, "coverage_at_10": null, "events_per_second": 1000.5},"#
        )
        #expect(EvaluationRow.json([]) == "[\n]\n")
    }

    @Test func tableHasFixedWidthColumns() {
        let lines = EvaluationRow.table(Self.rows).split(separator: "\n").map(String.init)
        #expect(lines.count == 4)
        #expect(Set(lines.map(\.count)).count == 1)
        #expect(lines[0].hasPrefix("protocol     source         users"))
        #expect(lines[3].contains(" warm "))
        #expect(lines[2].contains("0.2500"))
        #expect(lines[2].contains("0.1250"))
        #expect(lines[2].contains("1000") || lines[2].contains("1001"))
        #expect(lines[3].contains("n/a"))
        #expect(lines[3].contains("0.7500"))
    }
}
