public import StarlingCore

extension RecommendationEngine.Configuration {
    /// The settings ``apply(_:)`` understands, with what they mean.
    public static let overridableSettings: [(key: String, meaning: String)] = [
        ("dimensions", "embedding size (default 64)"),
        ("learning_rate", "SGD step size of the embeddings (default 0.05)"),
        ("regularization", "L2 regularisation of the embeddings (default 0.01)"),
        ("negatives", "sampled negatives per positive event (default 4)"),
        ("trainer", "how the embeddings are fitted: bpr or ials (default bpr)"),
        ("ials_alpha", "iALS confidence per unit of signal, c = 1 + alpha·|signal| (default 1)"),
        ("ials_regularization", "iALS L2 regularisation (default 10)"),
        ("ials_iterations", "alternating passes of an iALS refit (default 15)"),
        ("ials_cg_steps", "conjugate-gradient steps per iALS row solve; 0 solves exactly (default 3)"),
        ("ials_item_fold_in_limit", "items with at most this many users are folded in per event (default 200)"),
        ("ials_user_fold_in_limit", "users with at most this many items are folded in per event (default 1000)"),
        ("recent_window", "recent items per user and session used for co-occurrence (default 20)"),
        ("cooccurrence_window", "most recent items each positive event is paired with in co-occurrence (default 20)"),
        ("trending_half_life_hours", "half-life of trending, category and segment popularity (default 96)"),
        ("cooccurrence_half_life_days", "half-life of co-occurrence (default 365)"),
        ("cooccurrence_neighbours", "neighbours kept per item (default 150)"),
        ("segments", "k-means segments (default 16)"),
        ("max_categories", "categories (context.category) with their own trending list (default 10000)"),
        ("blend_depth", "candidates per source in the blend (default 50)"),
        ("embedding_candidates", "nearest items by embedding over the whole catalogue added to the blend (default 0)"),
        ("activity_half_life_hours", "idle time after which personal sources count half in the blend (default 168)"),
        ("cold_start_events", "users with at most this many events get segment candidates (default 5)"),
        ("cold_start_segment_weight", "blend weight of segment popularity for those users (default 0.5)"),
        ("session_timeout_minutes", "idle time after which a session may be forgotten (default 30)"),
        ("max_sessions", "sessions kept before idle ones expire (default 100000)"),
        ("recency_decay", "weight of each older recent item relative to the next newer one (default 0.9)"),
        ("blend.<source>", "weight of a source in the blend: embedding, cooccurrence, trending, segment, popularity"),
        ("signal.<type>", "signal weight of an event type, for example signal.view=1"),
        ("rating_base", "signal of a rating at the user's mean (default 2)"),
        ("rating_scale", "signal per star above the user's mean (default 1)"),
        ("dwell_scale", "seconds at which a dwell reaches 63% of its weight (default 30)"),
        ("scroll_scale", "depth at which a scroll reaches 63% of its weight (default 0.5)"),
    ]

    /// The defaults with every `key=value` setting applied in order.
    public init(settings: [String]) throws(EventSchemaError) {
        self.init()
        for setting in settings { try self.apply(setting) }
    }

    /// Applies one `key=value` setting, as given to `starling serve --model` and `starling eval --model`.
    public mutating func apply(_ setting: String) throws(EventSchemaError) {
        let parts = setting.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        if parts.count == 2, parts[0] == "trainer" {
            guard let trainer = EmbeddingTrainer(named: parts[1]) else {
                throw EventSchemaError(
                    description: "model setting 'trainer' must be one of "
                        + EmbeddingTrainer.all.map(\.name).joined(separator: ", ") + ", found '\(parts[1])'"
                )
            }
            self.trainer = trainer
            return
        }
        guard parts.count == 2, let value = Double(parts[1]), value.isFinite else {
            throw EventSchemaError(description: "model setting '\(setting)' must be KEY=NUMBER")
        }
        let key = parts[0]
        func positiveInt() throws(EventSchemaError) -> Int {
            guard value >= 1, value == value.rounded() else {
                throw EventSchemaError(description: "model setting '\(key)' must be a positive integer")
            }
            return Int(value)
        }
        func positive() throws(EventSchemaError) -> Double {
            guard value > 0 else { throw EventSchemaError(description: "model setting '\(key)' must be positive") }
            return value
        }
        switch key {
        case "dimensions": self.factors.dimensions = try positiveInt()
        case "learning_rate": self.factors.learningRate = Float(try positive())
        case "regularization": self.factors.regularization = Float(value)
        case "negatives": self.factors.negatives = value == 0 ? 0 : try positiveInt()
        case "ials_alpha": self.implicitALS.alpha = Float(try positive())
        case "ials_regularization": self.implicitALS.regularization = Float(try positive())
        case "ials_iterations": self.implicitALS.iterations = try positiveInt()
        case "ials_cg_steps": self.implicitALS.conjugateGradientSteps = value == 0 ? 0 : try positiveInt()
        case "ials_item_fold_in_limit": self.implicitALS.itemFoldInLimit = value == 0 ? 0 : try positiveInt()
        case "ials_user_fold_in_limit": self.implicitALS.userFoldInLimit = value == 0 ? 0 : try positiveInt()
        case "recent_window": self.recentWindow = try positiveInt()
        case "max_categories": self.maxCategories = try positiveInt()
        case "cooccurrence_window": self.cooccurrenceWindow = try positiveInt()
        case "trending_half_life_hours": self.trendingHalfLife = .seconds(try positive() * 3_600)
        case "cooccurrence_half_life_days": self.cooccurrence.halfLife = .seconds(try positive() * 86_400)
        case "cooccurrence_neighbours": self.cooccurrence.maxNeighbours = try positiveInt()
        case "segments": self.segments.clusters = try positiveInt()
        case "blend_depth": self.blendDepth = try positiveInt()
        case "embedding_candidates": self.embeddingCandidates = value == 0 ? 0 : try positiveInt()
        case "recency_decay": self.recencyDecay = Float(try positive())
        case "session_timeout_minutes": self.sessionTimeout = .seconds(try positive() * 60)
        case "max_sessions": self.maxSessions = try positiveInt()
        case "cold_start_events": self.coldStartEvents = Int(value)
        case "cold_start_segment_weight": self.coldStartSegmentWeight = value
        case "activity_half_life_hours": self.activityHalfLife = .seconds(try positive() * 3_600)
        case "dwell_scale": self.signals.dwellScale = try positive()
        case "rating_base": self.signals.ratingBase = value
        case "rating_scale": self.signals.ratingScale = value
        case "scroll_scale": self.signals.scrollScale = try positive()
        default:
            if key.hasPrefix("blend.") {
                let source = RecommendationSource(String(key.dropFirst(6)))
                guard [.embedding, .cooccurrence, .trending, .segment, .popularity].contains(source) else {
                    throw EventSchemaError(
                        description: "model setting '\(key)' names an unknown source; known: embedding, cooccurrence, "
                            + "trending, segment, popularity"
                    )
                }
                self.blendWeights[source] = value
            } else if key.hasPrefix("signal.") {
                self.signals.weights[String(key.dropFirst(7))] = value
            } else {
                throw EventSchemaError(
                    description: "unknown model setting '\(key)'; known: "
                        + Self.overridableSettings.map(\.key).joined(separator: ", ")
                )
            }
        }
    }
}
