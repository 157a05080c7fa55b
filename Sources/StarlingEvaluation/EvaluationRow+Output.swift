import Foundation
import StarlingModels

extension EvaluationRow {
    /// The rows as a JSON array of objects with the keys `protocol`, `source`, `users`, `hr_at_10`, `ndcg_at_10`,
    /// `recall_at_20`, `coverage_at_10` and `events_per_second`, in that order; `null` where a value does not apply
    /// (or is not a finite number). Numbers are written in their shortest round-trip form, so the same rows always
    /// give the same text.
    ///
    /// ```json
    /// [
    ///   {"protocol": "temporal", "source": "popularity", "users": "warm", "hr_at_10": 0.5, "ndcg_at_10": 0.15, …}
    /// ]
    /// ```
    public static func json(_ rows: [EvaluationRow]) -> String {
        var text = "[\n"
        for (index, row) in rows.enumerated() {
            let fields: [(String, String)] = [
                ("protocol", self.jsonString(row.protocol.name)),
                ("source", self.jsonString(row.source.name)),
                ("users", self.jsonString(row.users.name)),
                ("hr_at_10", self.jsonNumber(row.hrAt10)),
                ("ndcg_at_10", self.jsonNumber(row.ndcgAt10)),
                ("recall_at_20", self.jsonNumber(row.recallAt20)),
                ("coverage_at_10", self.jsonNumber(row.coverageAt10)),
                ("events_per_second", self.jsonNumber(row.eventsPerSecond)),
            ]
            text += "  {" + fields.map { "\"\($0.0)\": \($0.1)" }.joined(separator: ", ") + "}"
            text += index + 1 < rows.count ? ",\n" : "\n"
        }
        return text + "]\n"
    }

    /// Writes ``json(_:)`` of `rows` to the file at `path`, replacing it.
    public static func writeJSON(_ rows: [EvaluationRow], toFile path: String) throws {
        try Data(self.json(rows).utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
    }

    /// The rows as a table with fixed-width columns, one line per row after a header line.
    public static func table(_ rows: [EvaluationRow]) -> String {
        let header = ["protocol", "source", "users", "HR@10", "NDCG@10", "Recall@20", "Cov@10", "events/s", "n"]
        let widths = [12, 14, 6, 8, 8, 10, 8, 11, 8]
        var lines = [self.tableLine(header, widths: widths)]
        lines.append(String(repeating: "-", count: widths.reduce(0, +) + widths.count - 1))
        for row in rows {
            lines.append(
                self.tableLine(
                    [
                        row.protocol.name,
                        row.source.name,
                        row.users.name,
                        self.fixed(row.hrAt10, digits: 4),
                        self.fixed(row.ndcgAt10, digits: 4),
                        self.fixed(row.recallAt20, digits: 4),
                        self.fixed(row.coverageAt10, digits: 4),
                        self.fixed(row.eventsPerSecond, digits: 0),
                        String(row.evaluated),
                    ],
                    widths: widths
                )
            )
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The cells padded to `widths`: the first three left-aligned, the numbers right-aligned.
    static func tableLine(_ cells: [String], widths: [Int]) -> String {
        zip(cells, widths).enumerated().map { column, cell in
            let (text, width) = cell
            let padding = String(repeating: " ", count: max(0, width - text.count))
            return column < 3 ? text + padding : padding + text
        }.joined(separator: " ")
    }

    static func fixed(_ value: Double?, digits: Int) -> String {
        guard let value else { return "-" }
        guard value.isFinite else { return "n/a" }
        return String(format: "%.\(digits)f", value)
    }

    static func jsonNumber(_ value: Double?) -> String {
        guard let value, value.isFinite else { return "null" }
        return value.description
    }

    static func jsonString(_ value: String) -> String {
        var text = "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": text += "\\\""
            case "\\": text += "\\\\"
            case "\n": text += "\\n"
            case "\r": text += "\\r"
            case "\t": text += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                text += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: text.unicodeScalars.append(scalar)
            }
        }
        return text + "\""
    }
}
