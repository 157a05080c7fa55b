public import Logging
public import StarlingCore

/// Validates, enriches, de-duplicates and durably appends batches of events: the work behind `POST /v1/events`.
public struct IngestService<Log: EventLog>: Sendable {
    /// What happened to a batch.
    public struct Result: Sendable, Equatable {
        /// Events appended (durable when this is returned).
        public var accepted: Int
        /// Events whose id was already accepted: acknowledged, not appended again.
        public var duplicates: Int
        /// Events rejected, by index in the request, with the reason.
        public var rejected: [(index: Int, error: EventValidationError)]

        public static func == (lhs: Result, rhs: Result) -> Bool {
            lhs.accepted == rhs.accepted && lhs.duplicates == rhs.duplicates
                && lhs.rejected.elementsEqual(rhs.rejected, by: { $0.index == $1.index && $0.error == $1.error })
        }
    }

    private let log: Log
    private let deduplication: DeduplicationIndex
    /// Decodes request bodies.
    public let decoder: IngestBatchDecoder
    private let sinks: [any AcknowledgementSink]
    private let backlog: ProcessingBacklog?
    private let metrics = IngestMetrics()

    /// - Parameters:
    ///   - acknowledgements: Told about every durable batch before ``ingest(_:format:)`` returns, so that reads after
    ///     the acknowledgement can wait for the processor to apply it (read-your-writes).
    ///   - backlog: When given, a batch is appended only once the processor is close enough behind the log
    ///     (flow control; see ``ProcessingBacklog``).
    public init(
        log: Log,
        deduplication: DeduplicationIndex,
        decoder: IngestBatchDecoder,
        acknowledgements: [any AcknowledgementSink] = [],
        backlog: ProcessingBacklog? = nil
    ) {
        self.log = log
        self.deduplication = deduplication
        self.decoder = decoder
        self.sinks = acknowledgements
        self.backlog = backlog
    }

    /// Ingests one request body.
    ///
    /// - Throws: ``IngestBatchDecoder/DecodingError`` when the body cannot be decoded at all, or the log's error
    ///   (``EventLogError/overloaded`` when it is not keeping up, or when the processor stayed too far behind)
    ///   when the append failed; nothing was acknowledged then.
    public func ingest(_ body: UnsafeBufferPointer<UInt8>, format: IngestBatchDecoder.Format) async throws -> Result {
        let receivedAt = EventTime.now()
        let entries = try self.decoder.decode(body, format: format, receivedAt: receivedAt)
        return try await self.ingest(entries, receivedAt: receivedAt)
    }

    /// Ingests already decoded entries.
    ///
    /// - Parameter logger: The request's logger (carrying its trace and request ids): the append to the log, embedded
    ///   or Kafka, is logged with it at `trace`, and a failed append at `debug`, so a request can be followed into its
    ///   log append.
    public func ingest(
        _ entries: [IngestBatchDecoder.Entry],
        receivedAt: EventTime,
        logger: Logger? = nil
    ) async throws -> Result {
        if let backlog = self.backlog, !(await backlog.admit(events: entries.count)) {
            throw EventLogError.overloaded(backlog: backlog.lag())
        }
        var result = Result(accepted: 0, duplicates: 0, rejected: [])
        var appends: [LogAppend] = []
        appends.reserveCapacity(entries.count)
        var reserved: Set<String> = []
        var accepted: [EventType: Int] = [:]
        var duplicates: [EventType: Int] = [:]
        for (index, entry) in entries.enumerated() {
            switch entry {
            case .failure(let error):
                result.rejected.append((index, error))
            case .success(let event):
                guard let topic = self.decoder.validator.configuration.schema.topic(for: event.type) else {
                    result.rejected.append((index, EventValidationError(field: "type", "has no topic")))
                    continue
                }
                if let id = event.id {
                    // The same id twice in one batch: the second is a duplicate of the first (waiting for our own
                    // reservation's outcome would never end).
                    guard !reserved.contains(id), await self.reserve(id, at: receivedAt) else {
                        result.duplicates += 1
                        duplicates[event.type, default: 0] += 1
                        continue
                    }
                    reserved.insert(id)
                }
                accepted[event.type, default: 0] += 1
                appends.append(LogAppend(topic: topic, key: event.user, payload: event.encoded()))
            }
        }
        guard !appends.isEmpty else {
            self.metrics.record(accepted: [:], duplicates: duplicates, rejected: result.rejected.map(\.error))
            return result
        }
        let positions: [LogPosition]
        let started = ContinuousClock.now
        do {
            positions = try await self.log.append(appends)
        } catch {
            for id in reserved { self.deduplication.release(id) }
            logger?.debug(
                "Event log append failed",
                metadata: ["starling.log.records": "\(appends.count)", "starling.log.error": "\(error)"]
            )
            throw error
        }
        logger?.trace(
            "Event log append",
            metadata: [
                "starling.log.records": "\(appends.count)",
                "starling.log.duration_ms": "\(Double((ContinuousClock.now - started).wholeNanoseconds) / 1e6)",
                "starling.log.kind": "\(Log.self)",
            ]
        )
        for id in reserved { self.deduplication.commit(id) }
        for sink in self.sinks { await sink.acknowledged(appends, at: positions) }
        result.accepted = appends.count
        self.metrics.record(accepted: accepted, duplicates: duplicates, rejected: result.rejected.map(\.error))
        return result
    }

    /// Reserves `id`, waiting out another request's append of the same id: `false` when the event is a duplicate
    /// (durable already, or made durable by that request), so that a retry is acknowledged as a duplicate only once
    /// the original really is durable.
    private func reserve(_ id: String, at receivedAt: EventTime) async -> Bool {
        while true {
            switch self.deduplication.reserve(id, at: receivedAt) {
            case .reserved: return true
            case .duplicate: return false
            case .inFlight: await self.deduplication.waitForOutcome(id)
            }
        }
    }
}
