import Synchronization

/// The item catalogue in process memory, sharded by a stable hash of the item id.
///
/// Written by the API (at once, after the change is durable in the log) and by the stream processor (replaying the
/// log's `catalog` topic after a restart); both apply the same idempotent changes, ordered by `updatedAt`.
public final class ItemCatalog: Sendable {
    private let shards: [LockedBox<[String: CatalogItem]>]
    private let changes = Atomic<UInt64>(0)

    public init(shardCount: Int = 32) {
        self.shards = (0..<shardCount).map { _ in LockedBox([:]) }
    }

    /// Increases with every change, so a cached list made at an equal version needs no re-check.
    public var version: UInt64 {
        self.changes.load(ordering: .acquiring)
    }

    private func shard(_ id: String) -> LockedBox<[String: CatalogItem]> {
        self.shards[StableHash.partition(for: id, count: self.shards.count)]
    }

    /// The entry of `id`, if catalogued.
    public func item(_ id: String) -> CatalogItem? {
        self.shard(id).withLock { $0[id] }
    }

    /// Applies a change unless the stored entry is newer.
    public func apply(_ change: CatalogChange) {
        defer { self.changes.add(1, ordering: .releasing) }
        switch change {
        case .upsert(let item):
            self.shard(item.id).withLock { items in
                if let existing = items[item.id], existing.updatedAt > item.updatedAt { return }
                items[item.id] = item
            }
        case .delete(let id, let time):
            self.shard(id).withLock { items in
                if let existing = items[id], existing.updatedAt > time { return }
                // A tombstone: deleted items are never recommended, even though events may still mention them.
                items[id] = CatalogItem(id: id, available: false, updatedAt: time)
                items[id]!.attributes["_deleted"] = .bool(true)
            }
        }
    }

    /// Whether `id` was deleted.
    public func isDeleted(_ id: String) -> Bool {
        self.item(id)?.attributes["_deleted"] == .bool(true)
    }

    /// Whether `id` may be recommended now: true for items not in the catalogue.
    public func isRecommendable(_ id: String, at now: EventTime) -> Bool {
        self.item(id)?.isRecommendable(at: now) ?? true
    }

    /// Every entry (for checkpoints).
    public func all() -> [CatalogItem] {
        self.shards.flatMap { $0.value.values }
    }

    /// Replaces the contents (restoring a checkpoint).
    public func replaceAll(with items: some Sequence<CatalogItem>) {
        var buckets = [[String: CatalogItem]](repeating: [:], count: self.shards.count)
        for item in items { buckets[StableHash.partition(for: item.id, count: self.shards.count)][item.id] = item }
        for (shard, bucket) in zip(self.shards, buckets) { shard.withLock { $0 = bucket } }
        self.changes.add(1, ordering: .releasing)
    }

    /// Catalogued items published at or after `since` and recommendable at `now`, newest first.
    public func fresh(since: EventTime, now: EventTime, limit: Int) -> [CatalogItem] {
        var result: [CatalogItem] = []
        for shard in self.shards {
            shard.withLock { items in
                for item in items.values
                where (item.publishedAt.map { $0 >= since && $0 <= now } ?? false) && item.isRecommendable(at: now) {
                    result.append(item)
                }
            }
        }
        result.sort { ($0.publishedAt!, $0.id) > ($1.publishedAt!, $1.id) }
        return Array(result.prefix(limit))
    }

    public var count: Int {
        self.shards.reduce(0) { $0 + $1.withLock { $0.count } }
    }
}
