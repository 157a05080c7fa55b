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
        try PathParameter.decoded(context, "user")
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
        let options: RecommendationRequest
        do throws(HTTPFailure) {
            options = try Self.options(request, count: count)
        } catch {
            return error.response
        }
        let result = try await self.service.recommendations(for: user, options)
        var writer = JSONWriter(capacity: 128 + result.items.count * 64)
        writer.beginObject()
        writer.field("user", result.user)
        Responses.write(result, into: &writer)
        writer.field("profile_version", result.profileVersion)
        writer.field("model_version", result.modelVersion)
        writer.field("fresh", result.fresh)
        writer.endObject()
        // A list that may miss the user's latest acknowledged events says so in a header too, for proxies and logs.
        return Responses.json(writer, headers: result.fresh ? [:] : [Self.freshnessHeader: "stale"])
    }

    /// The longest `exclude_seen` window: 100 years, in milliseconds.
    static var longestSeenWindow: Int64 { 36_500 * 86_400_000 }

    /// `Starling-Freshness: stale` on a list served after the wait for the user's acknowledged events passed its
    /// bound.
    static var freshnessHeader: HTTPField.Name { HTTPField.Name("Starling-Freshness")! }

    func profile(_ request: Request, context: some RequestContext) async throws -> Response {
        let user: String
        do throws(HTTPFailure) {
            user = try Self.user(context)
        } catch {
            return error.response
        }
        let found: UserProfile?
        do {
            found = try await self.service.profile(for: user)
        } catch let error as SharedStoreUnavailable {
            return Responses.error(
                .serviceUnavailable,
                "the profile of '\(user)' is not available: \(error.description); retry later",
                headers: [.retryAfter: "1"]
            )
        }
        guard let profile = found else {
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
        writer.key("segment")
        if let segment = self.service.segment(of: user) { writer.value(segment) } else { writer.null() }
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
        let item: String
        do throws(HTTPFailure) {
            count = try Self.count(request)
            item = try PathParameter.decoded(context, "item")
        } catch {
            return error.response
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

    /// Parses the list-shaping query parameters: `exclude`, `category`, `exclude_category`, `tag`, `exclude_tag`
    /// (comma-separated, repeatable), `exclude_seen` (`true`, `false`, or a window like `30m`, `24h`, `7d`),
    /// `boost=attribute:value:factor`, `bury=attribute:value[:factor]` (default 0.2), `pin=item:position`,
    /// `category_cap=N` and `diversity=0..1`.
    static func options(_ request: Request, count: Int) throws(HTTPFailure) -> RecommendationRequest {
        // The common case (no parameters but `count`) needs no parsing.
        guard let rawQuery = request.uri.query, rawQuery.contains("&") || !rawQuery.hasPrefix("count=") else {
            return RecommendationRequest(count: count)
        }
        let query = request.uri.queryParameters
        func list(_ name: String) -> Set<String> {
            var values = Set<String>()
            for value in query.getAll(name) {
                for part in value.split(separator: ",") where !part.isEmpty { values.insert(String(part)) }
            }
            return values
        }
        func fail(_ message: String) -> HTTPFailure {
            HTTPFailure(response: Responses.error(.badRequest, message))
        }
        var options = RecommendationRequest(
            count: count,
            exclude: Self.excluded(request),
            categories: list("category"),
            excludeCategories: list("exclude_category"),
            tags: list("tag"),
            excludeTags: list("exclude_tag")
        )
        if let raw = query.get("exclude_seen").map({ String($0) }) {
            switch raw {
            case "true", "all": options.excludeSeen = .all
            case "false", "none": options.excludeSeen = .none
            default:
                let units: [Character: Int64] = ["s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000]
                guard let unit = raw.last.flatMap({ units[$0] }), let amount = Int64(raw.dropLast()), amount > 0 else {
                    throw fail("exclude_seen must be true, false or a window like 30m, 24h or 7d, found '\(raw)'")
                }
                // A window longer than the longest history kept is the whole history: at most 100 years.
                let (window, overflow) = amount.multipliedReportingOverflow(by: unit)
                guard !overflow, window <= Self.longestSeenWindow else {
                    throw fail("exclude_seen window must be at most 36500d, found '\(raw)'")
                }
                options.excludeSeen = .within(milliseconds: window)
            }
        }
        for raw in query.getAll("boost") {
            guard let rule = RecommendationRequest.AttributeRule(parsing: String(raw), defaultFactor: nil) else {
                throw fail("boost must be attribute:value:factor with a factor of 0 or more, found '\(raw)'")
            }
            options.rules.append(rule)
        }
        for raw in query.getAll("bury") {
            guard let rule = RecommendationRequest.AttributeRule(parsing: String(raw), defaultFactor: 0.2) else {
                throw fail("bury must be attribute:value or attribute:value:factor, found '\(raw)'")
            }
            options.rules.append(rule)
        }
        for raw in query.getAll("pin") {
            let parts = raw.split(separator: ":")
            guard parts.count == 2, let position = Int(parts[1]), position >= 1, position <= count else {
                throw fail("pin must be item:position with a position from 1 to \(count), found '\(raw)'")
            }
            options.pins.append((String(parts[0]), position))
        }
        if let raw = query.get("category_cap") {
            guard let cap = Int(raw), cap >= 1 else { throw fail("category_cap must be a positive integer, found '\(raw)'") }
            options.categoryCap = cap
        }
        if let raw = query.get("diversity") {
            guard let diversity = Double(raw), diversity >= 0, diversity <= 1 else {
                throw fail("diversity must be a number from 0 to 1, found '\(raw)'")
            }
            options.diversity = diversity
        }
        return options
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
