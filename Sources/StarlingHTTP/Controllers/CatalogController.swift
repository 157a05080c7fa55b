import Foundation
public import Hummingbird
import HTTPTypes
import Logging
import NIOCore
public import StarlingCore
public import StarlingStream

/// The item catalogue: `PUT /v1/items/{item}`, `POST /v1/items` (bulk), `GET /v1/items/{item}`,
/// `DELETE /v1/items/{item}`. Changes are durable in the log before they are acknowledged and apply to
/// recommendations at once.
public struct CatalogController<Log: EventLog>: Sendable {
    let service: CatalogService<Log>
    let maxBodyBytes: Int
    let isAccepting: @Sendable () -> Bool
    let validator = CatalogItemValidator()

    /// - Parameters:
    ///   - service: Appends changes to the log and applies them to the catalogue.
    ///   - maxBodyBytes: The largest body accepted (413 beyond).
    ///   - isAccepting: Whether changes are open: closed (503) until the processor has recovered, as ingest is —
    ///     the processor restores the catalogue from its checkpoint and reads the log from where recovery left it,
    ///     so a change appended before that could be overwritten or skipped.
    public init(
        service: CatalogService<Log>,
        maxBodyBytes: Int,
        isAccepting: @escaping @Sendable () -> Bool = { true }
    ) {
        self.service = service
        self.maxBodyBytes = maxBodyBytes
        self.isAccepting = isAccepting
    }

    public func addRoutes(to router: Router<some RequestContext>) {
        router.put("/v1/items/:item") { request, context in
            guard self.isAccepting() else { return Self.recovering }
            return try await self.put(request, context: context)
        }
        router.post("/v1/items") { request, context in
            guard self.isAccepting() else { return Self.recovering }
            return try await self.post(request, context: context)
        }
        router.get("/v1/items/:item") { _, context in
            self.get(context: context)
        }
        router.delete("/v1/items/:item") { _, context in
            guard self.isAccepting() else { return Self.recovering }
            return try await self.delete(context: context)
        }
    }

    static var recovering: Response {
        Responses.error(
            .serviceUnavailable,
            "catalogue change not accepted: the server is recovering its state; retry later",
            headers: [.retryAfter: "1"]
        )
    }

    static func itemID(_ context: some RequestContext) throws(HTTPFailure) -> String {
        try PathParameter.decoded(context, "item")
    }

    func put(_ request: Request, context: some RequestContext) async throws -> Response {
        do {
            let id = try Self.itemID(context)
            try BodyReader.requireJSON(request)
            let body = try await BodyReader.collect(request, maxBytes: self.maxBodyBytes)
            let json: JSONValue
            do {
                json = try JSONScanner.parse(Array(buffer: body))
            } catch {
                return Responses.error(.badRequest, error.description)
            }
            switch self.validator.validate(json, id: id, now: .now()) {
            case .failure(let error):
                return Responses.error(.badRequest, error.description)
            case .success(let item):
                try await self.service.apply([.upsert(item)])
                var writer = JSONWriter(capacity: 256)
                Self.write(item, into: &writer)
                return Responses.json(writer)
            }
        } catch let failure as HTTPFailure {
            return failure.response
        } catch let error as EventLogError {
            return Self.unavailable(error)
        }
    }

    func post(_ request: Request, context: some RequestContext) async throws -> Response {
        do {
            let format = try BodyReader.batchFormat(request)
            let body = try await BodyReader.collect(request, maxBytes: self.maxBodyBytes)
            let now = EventTime.now()
            let entries: [Result<CatalogItem, EventValidationError>]
            do {
                entries = try body.withUnsafeReadableBytes { raw in
                    try BatchBody.decode(
                        raw.assumingMemoryBound(to: UInt8.self),
                        format: format,
                        envelopeKey: nil,
                        noun: "items",
                        maxEntries: 10_000
                    ) { self.validator.validate($0, id: nil, now: now) }
                }
            } catch let error as IngestBatchDecoder.DecodingError {
                return Responses.error(error.isTooLarge ? .contentTooLarge : .badRequest, error.description)
            }
            var changes: [CatalogChange] = []
            var rejected: [(Int, EventValidationError)] = []
            for (index, entry) in entries.enumerated() {
                switch entry {
                case .success(let item): changes.append(.upsert(item))
                case .failure(let error): rejected.append((index, error))
                }
            }
            try await self.service.apply(changes)
            var writer = JSONWriter(capacity: 64 + rejected.count * 64)
            writer.beginObject()
            writer.field("accepted", changes.count)
            writer.key("rejected")
            writer.beginArray()
            for (index, error) in rejected {
                writer.beginObject()
                writer.field("index", index)
                writer.field("error", error.description)
                writer.endObject()
            }
            writer.endArray()
            writer.endObject()
            return Responses.json(writer)
        } catch let failure as HTTPFailure {
            return failure.response
        } catch let error as EventLogError {
            return Self.unavailable(error)
        }
    }

    func get(context: some RequestContext) -> Response {
        Self.get(from: self.service.catalog, context: context)
    }

    /// `GET /v1/items/{item}` from `catalog`.
    static func get(from catalog: ItemCatalog, context: some RequestContext) -> Response {
        let id: String
        do throws(HTTPFailure) {
            id = try Self.itemID(context)
        } catch {
            return error.response
        }
        guard let item = catalog.item(id), !catalog.isDeleted(id) else {
            return Responses.error(.notFound, "unknown item '\(id)'")
        }
        var writer = JSONWriter(capacity: 256)
        Self.write(item, into: &writer)
        return Responses.json(writer)
    }

    func delete(context: some RequestContext) async throws -> Response {
        do {
            let id = try Self.itemID(context)
            try await self.service.apply([.delete(id: id, at: .now())])
            var writer = JSONWriter(capacity: 64)
            writer.beginObject()
            writer.field("item", id)
            writer.key("deleted")
            writer.value(true)
            writer.endObject()
            return Responses.json(writer)
        } catch let failure as HTTPFailure {
            return failure.response
        } catch let error as EventLogError {
            return Self.unavailable(error)
        }
    }

    static func unavailable(_ error: EventLogError) -> Response {
        if error == .diskFull("") {
            return Responses.error(
                .insufficientStorage,
                "catalogue change not accepted: \(error.message)",
                headers: [.retryAfter: Responses.diskFullRetryAfter]
            )
        }
        if error == .stopped("") {
            return Responses.error(.serviceUnavailable, "catalogue change not accepted: \(error.message)")
        }
        return Responses.error(
            .serviceUnavailable,
            "catalogue change not accepted: \(error.message); retry later",
            headers: [.retryAfter: "1"]
        )
    }

    static func write(_ item: CatalogItem, into writer: inout JSONWriter) {
        writer.beginObject()
        writer.field("item", item.id)
        writer.key("category")
        if let category = item.category { writer.value(category) } else { writer.null() }
        writer.key("tags")
        writer.beginArray()
        for tag in item.tags { writer.value(tag) }
        writer.endArray()
        writer.key("published_at")
        if let time = item.publishedAt { writer.value(time.description) } else { writer.null() }
        writer.key("expires_at")
        if let time = item.expiresAt { writer.value(time.description) } else { writer.null() }
        writer.key("available")
        writer.value(item.available)
        writer.key("attributes")
        writer.beginObject()
        for (key, value) in item.attributes.sorted(by: { $0.key < $1.key }) {
            writer.key(key)
            switch value {
            case .string(let s): writer.value(s)
            case .number(let d): writer.value(d)
            case .bool(let b): writer.value(b)
            }
        }
        writer.endObject()
        writer.field("updated_at", item.updatedAt.description)
        writer.endObject()
    }
}
