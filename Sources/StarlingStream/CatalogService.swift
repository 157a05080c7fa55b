public import StarlingCore

/// Durable catalogue changes: each is appended to the log's ``topic`` (keyed by item id) and, once durable,
/// applied to the in-memory ``ItemCatalog`` at once; the stream processor applies the same records again after a
/// restart (changes are idempotent and ordered by their time).
public struct CatalogService<Log: EventLog>: Sendable {
    /// The log topic of catalogue changes.
    public static var topic: String { "catalog" }

    private let log: Log
    /// The catalogue served from.
    public let catalog: ItemCatalog

    public init(log: Log, catalog: ItemCatalog) {
        self.log = log
        self.catalog = catalog
    }

    /// Makes `changes` durable, then applies them.
    public func apply(_ changes: [CatalogChange]) async throws {
        guard !changes.isEmpty else { return }
        _ = try await self.log.append(
            changes.map { LogAppend(topic: Self.topic, key: $0.itemID, payload: $0.encoded()) }
        )
        for change in changes { self.catalog.apply(change) }
    }
}
