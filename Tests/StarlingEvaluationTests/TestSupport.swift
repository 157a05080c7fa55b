import Foundation
import StarlingCore
import StarlingModels

/// A temporary directory removed when the test ends.
struct TemporaryDirectory: ~Copyable {
    let path: String

    init() {
        self.path = FileManager.default.temporaryDirectory
            .appendingPathComponent("starling-eval-\(UUID().uuidString)").path
        try? FileManager.default.createDirectory(atPath: self.path, withIntermediateDirectories: true)
    }

    /// Writes `contents` to the file `name` in the directory and returns its path.
    func write(_ name: String, _ contents: String) throws -> String {
        let path = "\(self.path)/\(name)"
        try Data(contents.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    deinit {
        try? FileManager.default.removeItem(atPath: self.path)
    }
}

/// A `rating` event at `seconds` (stored in milliseconds).
func rating(_ user: String, _ item: String, _ value: Double, at seconds: Int64) -> Event {
    Event(type: .rating, user: user, item: item, timestamp: .seconds(seconds), value: value)
}

/// What a ``MockRecommender`` was asked and taught, shared with the test that made it.
final class RecommenderLog {
    var queries: [(user: String, count: Int, source: RecommendationSource)] = []
    var learned: [Event] = []
}

/// A recommender with scripted answers: each user's ranked list, always the same, without the items the user has
/// been taught (as the `Recommender` contract requires).
struct MockRecommender: Recommender {
    var script: [String: [String]]
    let log: RecommenderLog
    private var seen: [String: Set<String>] = [:]

    init(script: [String: [String]], log: RecommenderLog) {
        self.script = script
        self.log = log
    }

    var sources: [RecommendationSource] { [.embedding] }

    mutating func learn(_ event: Event) {
        self.log.learned.append(event)
        if let item = event.item { self.seen[event.user, default: []].insert(item) }
    }

    func recommend(user: String, count: Int, source: RecommendationSource) -> [ScoredItem] {
        self.log.queries.append((user, count, source))
        let seen = self.seen[user] ?? []
        let items = (self.script[user] ?? []).filter { !seen.contains($0) }.prefix(count)
        return items.enumerated().map { ScoredItem(item: $1, score: Double(count - $0)) }
    }
}

/// `1 / log2(rank + 1)`.
func gain(rank: Int) -> Double {
    1 / log2(Double(rank + 1))
}

func isClose(_ lhs: Double?, _ rhs: Double, tolerance: Double = 1e-12) -> Bool {
    guard let lhs else { return false }
    return abs(lhs - rhs) <= tolerance
}
