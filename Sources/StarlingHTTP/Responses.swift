import HTTPTypes
import Hummingbird
import NIOCore
import StarlingCore
public import StarlingServing

extension HTTPResponse.Status {
    /// 507: the event log's disk is full (RFC 4918); the request may succeed once space is freed.
    static let insufficientStorage = Self(code: 507, reasonPhrase: "Insufficient Storage")
}

/// Building JSON responses.
public enum Responses {
    /// `Retry-After` of a 507: freeing space takes an operator or a retention pass, not a moment.
    static let diskFullRetryAfter = "5"

    static func json(_ writer: JSONWriter, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
        var fields = headers
        fields[.contentType] = "application/json"
        return Response(status: status, headers: fields, body: ResponseBody(byteBuffer: writer.buffer))
    }

    /// `{"error": message}` with `status`.
    static func error(_ status: HTTPResponse.Status, _ message: String, headers: HTTPFields = [:]) -> Response {
        var writer = JSONWriter(capacity: 64 + message.utf8.count)
        writer.beginObject()
        writer.field("error", message)
        writer.endObject()
        return json(writer, status: status, headers: headers)
    }

    /// Writes `"items": […]`.
    static func write(_ items: [Recommendation], into writer: inout JSONWriter) {
        writer.key("items")
        writeArray(items, into: &writer)
    }

    /// Writes `"items": …` from a list as ``renderItems(_:)`` wrote it, or else from the items.
    static func write(_ result: Recommendations, into writer: inout JSONWriter) {
        if let rendered = result.renderedItems {
            writer.key("items")
            writer.raw(rendered)
        } else {
            write(result.items, into: &writer)
        }
    }

    /// The JSON array of `items`, as the `items` member of a recommendations response holds it: what a
    /// ``RecommendationCache`` renders once per stored list (`RecommendationCache.Configuration.render`).
    public static func renderItems(_ items: [Recommendation]) -> [UInt8] {
        var writer = JSONWriter(capacity: 16 + items.count * 64)
        writeArray(items, into: &writer)
        return writer.bytes
    }

    private static func writeArray(_ items: [Recommendation], into writer: inout JSONWriter) {
        writer.beginArray()
        for item in items {
            writer.beginObject()
            writer.field("item", item.item)
            writer.field("score", item.score)
            writer.field("reason", item.reason)
            writer.endObject()
        }
        writer.endArray()
    }
}
