public import Hummingbird
import HTTPTypes
import NIOCore

/// `GET /health`, `GET /ready` and `GET /metrics`.
public struct OperationsController: Sendable {
    /// Readiness as reported by the processor: whether it is ready, and its lag in records.
    public typealias Readiness = @Sendable () -> (ready: Bool, recovered: Bool, lag: Int64)

    let readiness: Readiness
    let storageFailure: @Sendable () -> String?
    let diskFull: @Sendable () -> String?
    let metricsText: @Sendable () -> String

    /// - Parameters:
    ///   - readiness: Reports whether recovery finished and the processor caught up.
    ///   - storageFailure: Why the process's event log stopped accepting events (a failed `fsync`), or `nil`.
    ///     While it is set `/health` and `/ready` answer 503 with `"status": "failed"` and the reason: the process
    ///     acknowledges nothing more until it is restarted.
    ///   - diskFull: Why the event log's latest commit was refused while its disk is full, or `nil`. `/ready` reports
    ///     it as `disk_full` but stays ready, and `/health` ignores it: reads are still served, ingest answers 507
    ///     until space is freed and then resumes by itself, and restarting or taking the process out of rotation
    ///     would free no space — it would only stop the reads.
    ///   - metricsText: Renders the Prometheus text exposition.
    public init(
        readiness: @escaping Readiness,
        storageFailure: @escaping @Sendable () -> String? = { nil },
        diskFull: @escaping @Sendable () -> String? = { nil },
        metricsText: @escaping @Sendable () -> String
    ) {
        self.readiness = readiness
        self.storageFailure = storageFailure
        self.diskFull = diskFull
        self.metricsText = metricsText
    }

    public func addRoutes(to router: Router<some RequestContext>) {
        router.get("/health") { _, _ in
            var writer = JSONWriter(capacity: 32)
            writer.beginObject()
            let failure = self.storageFailure()
            writer.field("status", failure == nil ? "ok" : "failed")
            if let failure { writer.field("error", failure) }
            writer.endObject()
            return Responses.json(writer, status: failure == nil ? .ok : .serviceUnavailable)
        }
        router.get("/ready") { _, _ in
            let state = self.readiness()
            let failure = self.storageFailure()
            let ready = state.ready && failure == nil
            var writer = JSONWriter(capacity: 96)
            writer.beginObject()
            writer.field(
                "status",
                failure != nil ? "failed" : state.ready ? "ready" : (state.recovered ? "catching_up" : "recovering"))
            writer.field("recovered", state.recovered ? 1 : 0)
            writer.key("lag")
            writer.value(state.lag)
            if let failure { writer.field("error", failure) }
            if let diskFull = self.diskFull() { writer.field("disk_full", diskFull) }
            writer.endObject()
            return Responses.json(writer, status: ready ? .ok : .serviceUnavailable)
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
