public import Hummingbird
import Foundation
import HTTPTypes
import Logging
import Metrics
import NIOCore
public import StarlingCore
public import StarlingStream

/// `POST /v1/events`.
public struct IngestController<Log: EventLog>: Sendable {
    let ingest: IngestService<Log>
    let maxBodyBytes: Int
    let isAccepting: @Sendable () -> Bool
    private let acceptedCounter = Counter(label: "starling_ingest_events_accepted_total")
    private let rejectedCounter = Counter(label: "starling_ingest_events_rejected_total")
    private let duplicateCounter = Counter(label: "starling_ingest_events_duplicate_total")
    private let refusals = IngestRefusals()

    /// - Parameters:
    ///   - ingest: The ingest pipeline.
    ///   - maxBodyBytes: The largest body accepted (413 beyond).
    ///   - isAccepting: Whether ingest is open: it stays closed (503) until recovery has rebuilt the id index, so
    ///     that a retried event is reported as a duplicate rather than appended again.
    public init(ingest: IngestService<Log>, maxBodyBytes: Int, isAccepting: @escaping @Sendable () -> Bool) {
        self.ingest = ingest
        self.maxBodyBytes = maxBodyBytes
        self.isAccepting = isAccepting
    }

    public func addRoutes(to router: Router<some RequestContext>) {
        router.post("/v1/events") { request, context in
            try await self.post(request, context: context)
        }
    }

    func post(_ request: Request, context: some RequestContext) async throws -> Response {
        let format: IngestBatchDecoder.Format
        do throws(HTTPFailure) {
            format = try BodyReader.batchFormat(request, beacons: true)
        } catch {
            self.refusals.record(.unsupportedMediaType)
            return error.response
        }
        guard self.isAccepting() else {
            self.refusals.record(.recovering)
            return Responses.error(
                .serviceUnavailable,
                "events not accepted: the server is recovering its state; retry later",
                headers: [.retryAfter: "1"]
            )
        }
        let body: ByteBuffer
        do {
            body = try await BodyReader.collect(request, maxBytes: self.maxBodyBytes)
        } catch let failure as HTTPFailure {
            self.refusals.record(failure.response.status == .contentTooLarge ? .tooLarge : .malformedBody)
            return failure.response
        }
        let receivedAt = EventTime.now()
        let entries: [IngestBatchDecoder.Entry]
        do {
            entries = try body.withUnsafeReadableBytes { raw in
                try self.ingest.decoder.decode(raw.assumingMemoryBound(to: UInt8.self), format: format, receivedAt: receivedAt)
            }
        } catch let error as IngestBatchDecoder.DecodingError {
            self.refusals.record(error.isTooLarge ? .tooLarge : .malformedBody)
            return Responses.error(error.isTooLarge ? .contentTooLarge : .badRequest, error.description)
        }
        let result: IngestService<Log>.Result
        do {
            result = try await self.ingest.ingest(entries, receivedAt: receivedAt, logger: context.logger)
        } catch let error as EventLogError where error == .diskFull("") {
            // Nothing of the batch was stored; the log takes appends again as soon as space is freed. The log says so
            // once when the disk fills and once when it has room again: one line per refused request would flood it.
            context.logger.debug("Ingest refused: the disk is full", metadata: ["starling.ingest.error": "\(error.message)"])
            self.refusals.record(.diskFull)
            return Responses.error(
                .insufficientStorage,
                "events not accepted: \(error.message)",
                headers: [.retryAfter: Responses.diskFullRetryAfter]
            )
        } catch let error as EventLogError where error == .stopped("") {
            // Not a retry-later condition: the log acknowledges nothing more until the process is restarted.
            context.logger.error("Ingest refused: the event log has stopped", metadata: ["starling.ingest.error": "\(error.message)"])
            self.refusals.record(.logStopped)
            return Responses.error(.serviceUnavailable, "events not accepted: \(error.message)")
        } catch let error as EventLogError {
            // Flow control refusing a batch is expected under load (one per request at thousands a second would
            // flood the log; 503s are counted by the HTTP metrics); anything else is worth a warning.
            let level: Logger.Level = error == .overloaded ? .debug : .warning
            context.logger.log(level: level, "Ingest append failed", metadata: ["starling.ingest.error": "\(error.message)"])
            self.refusals.record(error == .overloaded ? .overloaded : .unavailable)
            return Responses.error(
                .serviceUnavailable,
                "events not accepted: \(error.message); retry later",
                headers: [.retryAfter: "1"]
            )
        }
        self.acceptedCounter.increment(by: result.accepted)
        if !result.rejected.isEmpty { self.rejectedCounter.increment(by: result.rejected.count) }
        if result.duplicates > 0 { self.duplicateCounter.increment(by: result.duplicates) }
        var writer = JSONWriter(capacity: 64 + result.rejected.count * 64)
        writer.beginObject()
        writer.field("accepted", result.accepted)
        writer.field("duplicates", result.duplicates)
        writer.key("rejected")
        writer.beginArray()
        for rejection in result.rejected {
            writer.beginObject()
            writer.field("index", rejection.index)
            writer.field("error", rejection.error.description)
            writer.endObject()
        }
        writer.endArray()
        writer.endObject()
        return Responses.json(writer)
    }
}

/// `starling_ingest_refused_requests_total`: ingest requests refused as a whole (nothing of them stored), by reason.
struct IngestRefusals: Sendable {
    enum Reason: String, CaseIterable, Sendable {
        /// 415: neither JSON nor NDJSON.
        case unsupportedMediaType = "unsupported_media_type"
        /// 413: a body or batch over the limit.
        case tooLarge = "too_large"
        /// 400: a body that does not parse.
        case malformedBody = "malformed_body"
        /// 503: the processor is still recovering.
        case recovering
        /// 503: flow control (the processor or the log is not keeping up).
        case overloaded
        /// 503: the log failed to write or sync and acknowledges nothing until restarted.
        case logStopped = "log_stopped"
        /// 503: another log error.
        case unavailable
        /// 507: the disk holding the data directory is full.
        case diskFull = "disk_full"
    }

    private let counters: [Reason: Counter]

    init() {
        var counters: [Reason: Counter] = [:]
        for reason in Reason.allCases {
            counters[reason] = Counter(label: "starling_ingest_refused_requests_total", dimensions: [("reason", reason.rawValue)])
        }
        self.counters = counters
    }

    func record(_ reason: Reason) {
        self.counters[reason]?.increment()
    }
}
