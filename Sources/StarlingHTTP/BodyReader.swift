import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import StarlingCore

/// Reading request bodies the same way everywhere: a content type that says JSON or NDJSON (415 otherwise) and a
/// size limit (413 beyond).
enum BodyReader {
    /// The batch format named by the request's Content-Type.
    ///
    /// - Parameter beacons: Whether `text/plain` is taken as a JSON envelope: `navigator.sendBeacon` sends a string
    ///   body as `text/plain` and cannot set another type without a CORS preflight a closing page has no time for.
    static func batchFormat(_ request: Request, beacons: Bool = false) throws(HTTPFailure) -> IngestBatchDecoder.Format {
        switch self.mediaType(request.headers[.contentType]) {
        case "application/json": return .json
        case "application/x-ndjson", "application/jsonl", "application/jsonlines": return .ndjson
        case "text/plain" where beacons: return .json
        case let other:
            let found = other.map { "'\($0)'" } ?? "none"
            let accepted = beacons
                ? "application/json, application/x-ndjson or text/plain (a JSON envelope, as beacons send it)"
                : "application/json or application/x-ndjson"
            throw HTTPFailure(
                response: Responses.error(.unsupportedMediaType, "Content-Type must be \(accepted), found \(found)")
            )
        }
    }

    /// Requires a JSON Content-Type.
    static func requireJSON(_ request: Request) throws(HTTPFailure) {
        guard self.mediaType(request.headers[.contentType]) == "application/json" else {
            let found = self.mediaType(request.headers[.contentType]).map { "'\($0)'" } ?? "none"
            throw HTTPFailure(
                response: Responses.error(.unsupportedMediaType, "Content-Type must be application/json, found \(found)")
            )
        }
    }

    /// The whole body, up to `maxBytes`.
    static func collect(_ request: Request, maxBytes: Int) async throws -> ByteBuffer {
        do {
            return try await request.body.collect(upTo: maxBytes)
        } catch is NIOTooManyBytesError {
            throw HTTPFailure(
                response: Responses.error(.contentTooLarge, "the body is larger than the limit of \(maxBytes) bytes")
            )
        }
    }

    /// The media type of a Content-Type header, lower-cased and without parameters.
    static func mediaType(_ header: String?) -> String? {
        guard let header else { return nil }
        let type = header.split(separator: ";", maxSplits: 1).first.map(String.init) ?? header
        return type.trimmingCharacters(in: .whitespaces).lowercased()
    }
}

/// Path parameters (user, item, session ids) the same way everywhere: percent-decoded, and ids by the rule of the
/// ids in bodies (1–256 characters, at most 1,024 bytes of UTF-8), so that an item written with
/// `PUT /v1/items/{item}` is one that events can name.
enum PathParameter {
    static func decoded(_ context: some RequestContext, _ name: String) throws(HTTPFailure) -> String {
        let raw = context.parameters.get(name) ?? ""
        let value = raw.utf8.contains(UInt8(ascii: "%")) ? (raw.removingPercentEncoding ?? raw) : raw
        do throws(EventValidationError) {
            return try FieldParsing.identifier(.string(value), field: name, maxLength: 256)
        } catch {
            throw HTTPFailure(response: Responses.error(.badRequest, error.description))
        }
    }
}
