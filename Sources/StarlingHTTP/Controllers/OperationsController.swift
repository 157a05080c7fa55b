public import Hummingbird
import HTTPTypes
import NIOCore

/// `GET /health`, `GET /ready` and `GET /metrics`.
public struct OperationsController: Sendable {
    /// Readiness as reported by the processor: whether it is ready, and its lag in records.
    public typealias Readiness = @Sendable () -> (ready: Bool, recovered: Bool, lag: Int64)

    let readiness: Readiness
    let metricsText: @Sendable () -> String

    /// - Parameters:
    ///   - readiness: Reports whether recovery finished and the processor caught up.
    ///   - metricsText: Renders the Prometheus text exposition.
    public init(readiness: @escaping Readiness, metricsText: @escaping @Sendable () -> String) {
        self.readiness = readiness
        self.metricsText = metricsText
    }

    public func addRoutes(to router: Router<some RequestContext>) {
        router.get("/health") { _, _ in
            var writer = JSONWriter(capacity: 32)
            writer.beginObject()
            writer.field("status", "ok")
            writer.endObject()
            return Responses.json(writer)
        }
        router.get("/ready") { _, _ in
            let state = self.readiness()
            var writer = JSONWriter(capacity: 96)
            writer.beginObject()
            writer.field("status", state.ready ? "ready" : (state.recovered ? "catching_up" : "recovering"))
            writer.field("recovered", state.recovered ? 1 : 0)
            writer.key("lag")
            writer.value(state.lag)
            writer.endObject()
            return Responses.json(writer, status: state.ready ? .ok : .serviceUnavailable)
        }
        router.get("/metrics") { _, _ in
            Response(
                status: .ok,
                headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: self.metricsText()))
            )
        }
    }
}
