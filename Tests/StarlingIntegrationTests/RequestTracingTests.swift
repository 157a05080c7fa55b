import Foundation
import StarlingTestSupport
import Testing

/// `starling serve --log-format json` with Redis: every line of the log is one JSON object, and one request can be
/// followed by its trace id from the HTTP answer down to the Redis commands made for it.
@Suite(.serialized)
struct RequestTracingTests {
    private struct Line {
        var message: String
        var level: String
        var metadata: [String: Any]
    }

    /// Every line of the log, each parsed on its own; a line that is not a JSON object with the five fields fails.
    private static func lines(of path: String) throws -> [Line] {
        let text = String(decoding: FileManager.default.contents(atPath: path) ?? Data(), as: UTF8.self)
        var lines: [Line] = []
        // The file may end in a line still being written: only whole lines count.
        let whole = text[..<(text.lastIndex(of: "\n") ?? text.startIndex)]
        for raw in whole.split(separator: "\n") {
            let object = try JSONSerialization.jsonObject(with: Data(raw.utf8))
            guard let fields = object as? [String: Any], let timestamp = fields["timestamp"] as? String,
                let level = fields["level"] as? String, fields["label"] is String,
                let message = fields["message"] as? String, let metadata = fields["metadata"] as? [String: Any]
            else { throw ServerError("a log line lacks timestamp, level, label, message or metadata: \(raw)") }
            #expect(timestamp.hasSuffix("Z") && timestamp.contains("T"), "timestamp \(timestamp)")
            lines.append(Line(message: message, level: level, metadata: metadata))
        }
        return lines
    }

    @Test func jsonLogLinesFollowARequestByItsTraceIntoItsRedisCommands() async throws {
        let redis = try await RedisServerProcess.started()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("starling-trace-\(UUID())").path
        let log = directory + ".log"
        defer {
            try? FileManager.default.removeItem(atPath: directory)
            try? FileManager.default.removeItem(atPath: log)
        }
        let server = try StarlingServer(
            dataDirectory: directory,
            extraArguments: ["--redis", redis.url, "--log-format", "json"],
            logLevel: "trace",
            standardError: log
        )
        try await server.start()

        // Ingest with a trace: the answer continues it with a span of its own and keeps the sane request id.
        let ingestTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
        let ingest = try await server.response(
            "POST",
            "/v1/events",
            body: #"{"events":[{"type":"like","user":"ann","item":"dune"},{"type":"like","user":"bob","item":"dune"}]}"#,
            headers: ["traceparent": "00-\(ingestTrace)-00f067aa0ba902b7-01", "X-Request-Id": "ingest-1"]
        )
        #expect(ingest.status == 200)
        #expect(ingest.headers["x-request-id"] == "ingest-1")
        let continued = try #require(ingest.headers["traceparent"])
        #expect(continued.hasPrefix("00-\(ingestTrace)-") && continued.hasSuffix("-01"))
        #expect(!continued.contains("00f067aa0ba902b7"), "the answer names this server's span, not the caller's")

        // A recommendation request with another trace: its Redis look-up (the shared list) is logged with it.
        let readTrace = "0af7651916cd43dd8448eb211c80319c"
        let read = try await server.response(
            "GET",
            "/v1/users/ann/recommendations?count=3",
            headers: ["traceparent": "00-\(readTrace)-b7ad6b7169203331-00"]
        )
        #expect(read.status == 200)
        #expect(read.headers["traceparent"]?.hasPrefix("00-\(readTrace)-") == true)
        #expect(read.headers["x-request-id"]?.isEmpty == false)

        // A malformed traceparent and an insane request id are replaced, never refused.
        let malformed = try await server.response(
            "GET",
            "/health",
            headers: ["traceparent": "00-\(readTrace.uppercased())-b7ad6b7169203331-01", "X-Request-Id": "bad id"]
        )
        #expect(malformed.status == 200)
        let fresh = try #require(malformed.headers["traceparent"])
        #expect(fresh.count == 55 && fresh.hasPrefix("00-") && !fresh.lowercased().contains(readTrace))
        #expect(malformed.headers["x-request-id"].map { $0.count == 16 && !$0.contains(" ") } == true)

        func withTrace(_ trace: String, _ lines: [Line]) -> [Line] {
            lines.filter { $0.metadata["trace.id"] as? String == trace }
        }
        try await eventually("the log lines of both requests, their Redis commands included") {
            let lines = try Self.lines(of: log)
            let ingestLines = withTrace(ingestTrace, lines)
            let readLines = withTrace(readTrace, lines)
            return ingestLines.contains { $0.message == "Request answered" }
                && ingestLines.contains { $0.message == "Redis command" }
                && readLines.contains { $0.message == "Request answered" }
                && readLines.contains { $0.message == "Redis command" }
        }
        let lines = try Self.lines(of: log)
        let ingestLines = withTrace(ingestTrace, lines)
        #expect(ingestLines.allSatisfy { $0.metadata["hb.request.id"] as? String == "ingest-1" })
        #expect(ingestLines.allSatisfy { $0.metadata["span.parent_id"] as? String == "00f067aa0ba902b7" })
        let answered = try #require(ingestLines.first { $0.message == "Request answered" })
        #expect(answered.level == "debug")
        #expect(answered.metadata["http.route"] as? String == "/v1/events")
        #expect(answered.metadata["http.status"] as? String == "200")
        // The events' append to the log is on the request's trace too (with Kafka, its produce and delivery).
        let append = try #require(ingestLines.first { $0.message == "Event log append" })
        #expect(append.level == "trace")
        #expect(append.metadata["starling.log.records"] as? String != nil)
        let redisCommand = try #require(withTrace(readTrace, lines).first { $0.message == "Redis command" })
        #expect(redisCommand.level == "trace")
        #expect(redisCommand.metadata["starling.redis.endpoint"] as? String == "127.0.0.1:\(redis.port)")
        // The malformed request's lines carry the new trace, not the malformed one.
        #expect(withTrace(readTrace.uppercased(), lines).isEmpty)
        try await server.stop()
    }
}
