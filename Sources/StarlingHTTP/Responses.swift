import HTTPTypes
import Hummingbird
import NIOCore
import StarlingCore
import StarlingServing

/// Building JSON responses.
enum Responses {
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

    static func write(_ items: [Recommendation], into writer: inout JSONWriter) {
        writer.key("items")
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
