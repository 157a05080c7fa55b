import Foundation
public import Hummingbird
import HTTPTypes
import NIOCore
public import StarlingCore
public import StarlingServing

/// Recommendations for anonymous visitors: `GET /v1/sessions/{session}/recommendations` from the events that
/// carried that session id, and `POST /v1/recommendations/session` from a list of recent items in the body
/// (`{"items": ["a", "b"], "count": 10}`; nothing is stored).
public struct SessionController<Profiles: ProfileStore>: Sendable {
    let service: RecommendationService<Profiles>

    public init(service: RecommendationService<Profiles>) {
        self.service = service
    }

    public func addRoutes(to router: Router<some RequestContext>) {
        router.get("/v1/sessions/:session/recommendations") { request, context in
            await self.get(request, context: context)
        }
        router.post("/v1/recommendations/session") { request, context in
            try await self.post(request, context: context)
        }
    }

    func get(_ request: Request, context: some RequestContext) async -> Response {
        let session: String
        let options: RecommendationRequest
        do throws(HTTPFailure) {
            session = try PathParameter.decoded(context, "session")
            let count = try RecommendationController<Profiles>.count(request)
            options = try RecommendationController<Profiles>.options(request, count: count)
        } catch {
            return error.response
        }
        return Self.respond(await self.service.sessionRecommendations(session: session, options), session: session)
    }

    func post(_ request: Request, context: some RequestContext) async throws -> Response {
        do {
            try BodyReader.requireJSON(request)
            let body = try await BodyReader.collect(request, maxBytes: 1 << 20)
            let json: JSONValue
            do {
                json = try JSONScanner.parse(Array(buffer: body))
            } catch {
                return Responses.error(.badRequest, error.description)
            }
            guard case .array(let values)? = json["items"] else {
                return Responses.error(.badRequest, "items: is required and must be an array of item ids")
            }
            guard values.count <= 100 else { return Responses.error(.badRequest, "items: at most 100 recent items") }
            var items: [String] = []
            for value in values {
                do throws(EventValidationError) {
                    items.append(try FieldParsing.identifier(value, field: "items", maxLength: 256))
                } catch {
                    return Responses.error(.badRequest, error.description)
                }
            }
            var count = try RecommendationController<Profiles>.count(request)
            if let value = json["count"] {
                guard case .number(_, let integer?) = value, integer >= 1, integer <= 200 else {
                    return Responses.error(.badRequest, "count: must be an integer from 1 to 200")
                }
                count = Int(integer)
            }
            let options = try RecommendationController<Profiles>.options(request, count: count)
            return Self.respond(
                await self.service.sessionRecommendations(session: nil, recentItems: items, options),
                session: nil
            )
        } catch let failure as HTTPFailure {
            return failure.response
        }
    }

    static func respond(_ items: [Recommendation], session: String?) -> Response {
        var writer = JSONWriter(capacity: 64 + items.count * 64)
        writer.beginObject()
        if let session { writer.field("session", session) }
        Responses.write(items, into: &writer)
        writer.endObject()
        return Responses.json(writer)
    }
}
