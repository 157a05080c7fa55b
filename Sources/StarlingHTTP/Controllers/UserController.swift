public import Hummingbird
import Foundation
import HTTPTypes
import NIOCore
public import StarlingCore
public import StarlingServing

/// `GET /v1/users/{user}`, `GET /v1/users/{user}/recommendations` and `GET /v1/trending`.
public struct RecommendationController<Profiles: ProfileStore>: Sendable {
    let service: RecommendationService<Profiles>

    public init(service: RecommendationService<Profiles>) {
        self.service = service
    }

    public func addRoutes(to router: Router<some RequestContext>) {
        router.get("/v1/users/:user/recommendations") { request, context in
            try await self.recommendations(request, context: context)
        }
        router.get("/v1/users/:user") { request, context in
            try await self.profile(request, context: context)
        }
        router.get("/v1/trending") { request, context in
            self.trending(request)
        }
        router.get("/v1/items/:item/similar") { request, context in
            self.similar(request, context: context)
        }
    }

    /// Parses `count`: absent → 10; otherwise an integer from 1 to ``RecommendationService/maxCount``.
    static func count(_ request: Request) throws(HTTPFailure) -> Int {
        guard let raw = request.uri.queryParameters.get("count") else { return 10 }
        guard let count = Int(raw), count >= 1, count <= RecommendationService<Profiles>.maxCount else {
            throw HTTPFailure(
                response: Responses.error(
                    .badRequest,
                    "count must be an integer from 1 to \(RecommendationService<Profiles>.maxCount), found '\(raw)'"
                )
            )
        }
        return count
    }

    /// The `user` path parameter, percent-decoded: 1–256 characters.
    static func user(_ context: some RequestContext) throws(HTTPFailure) -> String {
        let raw = context.parameters.get("user") ?? ""
        let user = raw.utf8.contains(UInt8(ascii: "%")) ? (raw.removingPercentEncoding ?? raw) : raw
        guard !user.isEmpty, user.count <= 256 else {
            throw HTTPFailure(response: Responses.error(.badRequest, "user must be 1-256 characters"))
        }
        return user
    }

    func recommendations(_ request: Request, context: some RequestContext) async throws -> Response {
        let user: String
        let count: Int
        do throws(HTTPFailure) {
            user = try Self.user(context)
            count = try Self.count(request)
        } catch {
            return error.response
        }
        let result = try await self.service.recommendations(for: user, count: count, excluding: Self.excluded(request))
        var writer = JSONWriter(capacity: 128 + result.items.count * 64)
        writer.beginObject()
        writer.field("user", result.user)
        Responses.write(result.items, into: &writer)
        writer.field("profile_version", result.profileVersion)
        writer.field("model_version", result.modelVersion)
        writer.endObject()
        return Responses.json(writer)
    }

    func profile(_ request: Request, context: some RequestContext) async throws -> Response {
        let user: String
        do throws(HTTPFailure) {
            user = try Self.user(context)
        } catch {
            return error.response
        }
        guard let profile = try await self.service.profile(for: user) else {
            return Responses.error(.notFound, "unknown user '\(user)'")
        }
        var writer = JSONWriter(capacity: 256 + profile.recent.count * 96)
        writer.beginObject()
        writer.field("user", profile.user)
        writer.field("version", profile.version)
        writer.field("event_count", profile.eventCount)
        writer.field("first_seen", profile.firstSeen.description)
        writer.field("last_seen", profile.lastSeen.description)
        writer.field("interacted_items", profile.interacted.count)
        writer.key("event_types")
        writer.beginObject()
        for (type, count) in profile.typeCounts.sorted(by: { $0.key < $1.key }) {
            writer.field(type, count)
        }
        writer.endObject()
        writer.key("recent")
        writer.beginArray()
        for interaction in profile.recent {
            writer.beginObject()
            writer.field("item", interaction.item)
            writer.field("type", interaction.type.name)
            writer.field("timestamp", interaction.timestamp.description)
            writer.endObject()
        }
        writer.endArray()
        writer.endObject()
        return Responses.json(writer)
    }

    func similar(_ request: Request, context: some RequestContext) -> Response {
        let count: Int
        do throws(HTTPFailure) {
            count = try Self.count(request)
        } catch {
            return error.response
        }
        let raw = context.parameters.get("item") ?? ""
        let item = raw.utf8.contains(UInt8(ascii: "%")) ? (raw.removingPercentEncoding ?? raw) : raw
        guard !item.isEmpty, item.count <= 256 else {
            return Responses.error(.badRequest, "item must be 1-256 characters")
        }
        guard let items = self.service.similarItems(to: ItemKey(item), count: count, excluding: Self.excluded(request))
        else {
            return Responses.error(.notFound, "unknown item '\(item)'")
        }
        var writer = JSONWriter(capacity: 64 + items.count * 64)
        writer.beginObject()
        writer.field("item", item)
        Responses.write(items, into: &writer)
        writer.endObject()
        return Responses.json(writer)
    }

    /// The `exclude` query parameter(s): comma-separated item ids.
    static func excluded(_ request: Request) -> Set<ItemKey> {
        var exclude = Set<ItemKey>()
        for value in request.uri.queryParameters.getAll("exclude") {
            for id in value.split(separator: ",") where !id.isEmpty { exclude.insert(ItemKey(String(id))) }
        }
        return exclude
    }

    func trending(_ request: Request) -> Response {
        let count: Int
        do throws(HTTPFailure) {
            count = try Self.count(request)
        } catch {
            return error.response
        }
        var writer = JSONWriter(capacity: 64 + count * 64)
        let category: String? = request.uri.queryParameters.get("category").map { String($0) }
        writer.beginObject()
        if let category { writer.field("category", category) }
        Responses.write(self.service.trending(count: count, category: category), into: &writer)
        writer.endObject()
        return Responses.json(writer)
    }
}

/// A request that fails with a prepared response.
struct HTTPFailure: Error {
    var response: Response
}
