#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Top-k ranking metrics with binary relevance.
///
/// Ranks start at 1. An item that appears twice in a ranking counts only at its first rank.
///
/// ```swift
/// RankingMetrics.ndcg(ranked: ["a", "b", "c"], relevant: ["c"], k: 10)  // 1 / log2(4) = 0.5
/// ```
public enum RankingMetrics {
    /// Hit rate at `k`: 1 when at least one relevant item is among the first `k`, 0 otherwise.
    public static func hitRate<Item: Hashable>(ranked: [Item], relevant: Set<Item>, k: Int) -> Double {
        ranked.prefix(max(k, 0)).contains(where: relevant.contains) ? 1 : 0
    }

    /// Normalised discounted cumulative gain at `k`.
    ///
    /// DCG is the sum of `1 / log2(rank + 1)` over the relevant items among the first `k`; it is divided by the
    /// DCG of an ideal ranking, which has `min(relevant.count, k)` relevant items at the top. 0 when nothing is
    /// relevant.
    public static func ndcg<Item: Hashable>(ranked: [Item], relevant: Set<Item>, k: Int) -> Double {
        let ideal = min(relevant.count, k)
        guard ideal > 0 else { return 0 }
        var hits = Set<Item>()
        var dcg = 0.0
        for (offset, item) in ranked.prefix(k).enumerated() where relevant.contains(item) {
            if hits.insert(item).inserted { dcg += self.discount(rank: offset + 1) }
        }
        var idcg = 0.0
        for rank in 1...ideal { idcg += self.discount(rank: rank) }
        return dcg / idcg
    }

    /// Recall at `k`: the share of the relevant items that are among the first `k`. 0 when nothing is relevant.
    public static func recall<Item: Hashable>(ranked: [Item], relevant: Set<Item>, k: Int) -> Double {
        guard !relevant.isEmpty else { return 0 }
        let hits = Set(ranked.prefix(max(k, 0)).filter(relevant.contains))
        return Double(hits.count) / Double(relevant.count)
    }

    /// Catalogue coverage at `k`: how many distinct items appear in the first `k` of any of `rankings`, as a share
    /// of the `catalogueSize` distinct items in the data.
    public static func coverage<Item: Hashable>(rankings: [[Item]], k: Int, catalogueSize: Int) -> Double {
        guard catalogueSize > 0 else { return 0 }
        var shown = Set<Item>()
        for ranking in rankings { shown.formUnion(ranking.prefix(max(k, 0))) }
        return Double(shown.count) / Double(catalogueSize)
    }

    /// `1 / log2(rank + 1)`, the gain of a relevant item at `rank` (from 1).
    static func discount(rank: Int) -> Double {
        1 / log2(Double(rank + 1))
    }
}
