import ArgumentParser
import StarlingCore
import StarlingModels

/// The options of `starling serve` for what ingest accepts and what the processor learns: event types and
/// timestamps, model and signal settings, and full retrains.
struct ProcessingOptions: ParsableArguments {
    @Option(
        name: .customLong("trending-half-life-hours"),
        help: "Half-life of trending scores, in hours of event time (default 96)."
    )
    var trendingHalfLifeHours: Double?

    @Option(name: .customLong("max-future-hours"), help: "How far in the future an event timestamp may be, in hours.")
    var maxFutureHours = 24.0

    @Option(
        name: .customLong("event-type"),
        help: ArgumentHelp("Declare an extra event type, optionally with its topic.", valueName: "name[:topic]")
    )
    var eventTypes: [String] = []

    @Option(
        name: .customLong("model"),
        help: ArgumentHelp(
            "Change a model or signal setting, for example blend.trending=0.5 or signal.like=6 (repeatable; see docs/models.md).",
            valueName: "key=value"
        )
    )
    var modelSettings: [String] = []

    @Option(
        name: .customLong("retrain-minutes"),
        help: "Minutes between full retrains of the embeddings from the log; 0 retrains only on demand (POST /v1/models/retrain)."
    )
    var retrainMinutes = 60

    @Option(
        name: .customLong("retrain-epochs"),
        help: "Passes over the data in a full retrain with the BPR trainer (the iALS trainer takes --model ials_iterations=N)."
    )
    var retrainEpochs = 10

    @Option(
        name: .customLong("min-retrain-interval-seconds"),
        help: "Seconds from the end of one retrain before POST /v1/models/retrain may start another (429 before then)."
    )
    var minRetrainIntervalSeconds = 60

    @Option(
        name: .customLong("max-lag"),
        help: "Ingest waits (up to 2 s, then 503) while the processor is more than this many events behind; 0 turns this flow control off."
    )
    var maxLag = 5_000

    func validate() throws {
        if let hours = self.trendingHalfLifeHours, hours <= 0 {
            throw ValidationError("--trending-half-life-hours must be positive")
        }
        guard self.maxFutureHours >= 0 else { throw ValidationError("--max-future-hours must not be negative") }
        guard self.retrainMinutes >= 0, self.retrainEpochs >= 1 else {
            throw ValidationError("--retrain-minutes must not be negative and --retrain-epochs must be positive")
        }
        guard self.minRetrainIntervalSeconds >= 0 else {
            throw ValidationError("--min-retrain-interval-seconds must not be negative")
        }
        guard self.maxLag >= 0 else { throw ValidationError("--max-lag must not be negative") }
        _ = try self.engineConfiguration()
    }

    /// The model settings in the order they apply: the trending half-life option, then every `--model`.
    var modelSettingList: [String] {
        (self.trendingHalfLifeHours.map { ["trending_half_life_hours=\($0)"] } ?? []) + self.modelSettings
    }

    /// The engine configuration: defaults, the trending half-life option, then every `--model` setting.
    func engineConfiguration() throws -> RecommendationEngine.Configuration {
        do {
            return try RecommendationEngine.Configuration(settings: self.modelSettingList)
        } catch {
            throw ValidationError("--model: \(error.description)")
        }
    }

    /// The built-in event types plus every `--event-type`.
    func schema() throws -> EventSchema {
        try Self.schema(declaring: self.eventTypes)
    }

    /// The built-in event types plus the `--event-type` declarations given.
    static func schema(declaring eventTypes: [String]) throws -> EventSchema {
        var schema = EventSchema()
        for declaration in eventTypes {
            do {
                try schema.declare(specification: declaration)
            } catch {
                throw ValidationError("--event-type \(declaration): \(error.description)")
            }
        }
        return schema
    }
}
