import HTTPTypes
import Hummingbird
import HummingbirdTesting
import InMemoryLogging
import Logging
import NIOCore
import StarlingHTTP
import Testing

/// Request ids and W3C trace context through the application `starling serve` builds, with its log kept in memory.
struct RequestTracingMiddlewareTests {
    private static let traceparent = HTTPField.Name("traceparent")!
    private static let requestID = HTTPField.Name("X-Request-Id")!

    private static func fixture() -> (APIFixture, InMemoryLogHandler) {
        let logs = InMemoryLogHandler()
        var logger = Logger(label: "starling.test", factory: { _ in logs })
        logger.logLevel = .debug
        var fixture = APIFixture()
        fixture.logger = logger
        return (fixture, logs)
    }

    @Test func aRequestsTraceAndIdAreReturnedAndOnItsLogLines() async throws {
        let (fixture, logs) = Self.fixture()
        try await fixture.run { client, _ in
            let response = try await client.execute(
                uri: "/v1/events",
                method: .post,
                headers: [
                    .contentType: "application/json",
                    Self.traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                    Self.requestID: "order-7",
                ],
                body: ByteBuffer(string: #"{"events":[{"type":"view","user":"u","item":"i"}]}"#)
            )
            #expect(response.status == .ok)
            #expect(response.headers[Self.requestID] == "order-7")
            let returned = try #require(response.headers[Self.traceparent])
            #expect(returned.hasPrefix("00-4bf92f3577b34da6a3ce929d0e0e4736-") && returned.hasSuffix("-01"))
        }
        let answered = try #require(logs.entries.first { $0.message.description == "Request answered" })
        #expect(answered.level == .debug)
        #expect(answered.metadata["trace.id"]?.description == "4bf92f3577b34da6a3ce929d0e0e4736")
        #expect(answered.metadata["span.parent_id"]?.description == "00f067aa0ba902b7")
        #expect(answered.metadata["hb.request.id"]?.description == "order-7")
        #expect(answered.metadata["http.route"]?.description == "/v1/events")
        #expect(answered.metadata["http.status"]?.description == "200")
    }

    @Test func aMalformedTraceparentStartsANewTraceInsteadOfFailing() async throws {
        let (fixture, logs) = Self.fixture()
        try await fixture.run { client, _ in
            let response = try await client.execute(
                uri: "/v1/trending",
                method: .get,
                headers: [Self.traceparent: "00-not-a-trace-01", Self.requestID: "has spaces"]
            )
            #expect(response.status == .ok)
            let returned = try #require(response.headers[Self.traceparent])
            let trace = try #require(TraceContext.parse(returned))
            let id = try #require(response.headers[Self.requestID])
            #expect(id != "has spaces" && id.count == 16)
            let answered = try #require(logs.entries.first { $0.message.description == "Request answered" })
            #expect(answered.metadata["trace.id"]?.description == trace.traceID)
            #expect(answered.metadata["span.parent_id"] == nil)
            #expect(answered.metadata["hb.request.id"]?.description == id)
        }
    }

    @Test func codeBelowTheRoutesLogsWithTheRequestsMetadata() async throws {
        let logs = InMemoryLogHandler()
        var logger = Logger(label: "starling.test", factory: { _ in logs })
        logger.logLevel = .debug
        let router = Router(context: BasicRequestContext.self)
        router.add(middleware: RequestTracingMiddleware())
        // A route that, like the Redis calls, is handed no logger and logs with the task's.
        router.get("/deep") { _, _ in
            Logger.current.info("deep below the route")
            return "ok"
        }
        let app = Application(router: router, logger: logger)
        try await app.test(.router) { client in
            let response = try await client.execute(
                uri: "/deep",
                method: .get,
                headers: [Self.traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"]
            )
            #expect(response.status == .ok)
        }
        let deep = try #require(logs.entries.first { $0.message.description == "deep below the route" })
        #expect(deep.metadata["trace.id"]?.description == "0af7651916cd43dd8448eb211c80319c")
        #expect(deep.metadata["span.id"] != nil)
    }
}
