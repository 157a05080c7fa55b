public import Hummingbird
import HTTPTypes
import NIOCore
import StarlingCore
public import StarlingStream

/// `GET /v1/models` and `POST /v1/models/retrain`: the state of the embeddings and on-demand full retraining.
public struct ModelsController: Sendable {
    /// What the models endpoint reports.
    public struct Status: Sendable {
        public var modelVersion: UInt64
        public var retraining: Bool
        public var retrainsCompleted: Int
        public var lastRetrainSeconds: Double?
        public var lastInteractions: Int
        public var lastError: String?

        public init(
            modelVersion: UInt64,
            retraining: Bool,
            retrainsCompleted: Int,
            lastRetrainSeconds: Double?,
            lastInteractions: Int,
            lastError: String?
        ) {
            self.modelVersion = modelVersion
            self.retraining = retraining
            self.retrainsCompleted = retrainsCompleted
            self.lastRetrainSeconds = lastRetrainSeconds
            self.lastInteractions = lastInteractions
            self.lastError = lastError
        }
    }

    let status: @Sendable () -> Status
    let requestRetrain: (@Sendable () -> RetrainRequestOutcome)?

    /// - Parameters:
    ///   - status: Reports the current model state.
    ///   - requestRetrain: Starts a retrain in the background, unless one is running or the last ended too recently. `nil`
    ///     in a process that does not retrain (`--role api`): `POST /v1/models/retrain` then answers 503.
    public init(status: @escaping @Sendable () -> Status, requestRetrain: (@Sendable () -> RetrainRequestOutcome)?) {
        self.status = status
        self.requestRetrain = requestRetrain
    }

    public func addRoutes(to router: Router<some RequestContext>) {
        router.get("/v1/models") { _, _ in
            Responses.json(self.write(self.status()))
        }
        router.post("/v1/models/retrain") { _, _ in
            guard let requestRetrain = self.requestRetrain else {
                return Responses.error(
                    .serviceUnavailable,
                    "this process does not retrain (--role api): send the request to the process that owns the log; "
                        + "its retrained model reaches this process with the next snapshot"
                )
            }
            switch requestRetrain() {
            case .started:
                break
            case .alreadyRunning:
                return Responses.error(.conflict, "a retrain is already running")
            case .tooSoon(let retryAfter):
                let seconds = Int(retryAfter.fractionalSeconds.rounded(.up))
                return Responses.error(
                    .tooManyRequests,
                    "the previous retrain ended less than the minimum interval ago (--min-retrain-interval-seconds); "
                        + "retry in \(seconds) s",
                    headers: [.retryAfter: "\(seconds)"]
                )
            }
            var writer = JSONWriter(capacity: 64)
            writer.beginObject()
            writer.field("status", "started")
            writer.endObject()
            return Responses.json(writer, status: .accepted)
        }
    }

    private func write(_ status: Status) -> JSONWriter {
        var writer = JSONWriter(capacity: 256)
        writer.beginObject()
        writer.field("model_version", status.modelVersion)
        writer.key("retraining")
        writer.value(status.retraining)
        writer.field("retrains_completed", status.retrainsCompleted)
        writer.key("last_retrain_seconds")
        if let seconds = status.lastRetrainSeconds { writer.value(seconds) } else { writer.null() }
        writer.field("last_retrain_interactions", status.lastInteractions)
        writer.key("last_error")
        if let error = status.lastError { writer.value(error) } else { writer.null() }
        writer.endObject()
        return writer
    }
}
