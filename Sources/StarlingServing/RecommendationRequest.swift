public import StarlingCore

/// What a caller asks of a recommendation list: how many, what to leave out, and how to shape it.
public struct RecommendationRequest: Sendable {
    /// Which already-seen items stay out of the list.
    public enum SeenFilter: Sendable, Equatable {
        /// Every item the user ever interacted with (the default).
        case all
        /// Only items interacted with within this many milliseconds (as far as the profile's recent history goes).
        case within(milliseconds: Int64)
        /// None: seen items may come back. Disliked items never do.
        case none
    }

    /// Multiplies the score of items whose catalogue attribute `attribute` equals `value` by `factor`: above 1
    /// boosts, below 1 buries. `value` is compared as text: `"acme"` matches the string, `"3"` the number 3,
    /// `"true"` the boolean.
    public struct AttributeRule: Sendable, Equatable {
        public var attribute: String
        public var value: String
        public var factor: Double

        public init(attribute: String, value: String, factor: Double) {
            self.attribute = attribute
            self.value = value
            self.factor = factor
        }

        /// Parses `attribute:value:factor` (or `attribute:value` with `defaultFactor`).
        public init?(parsing text: String, defaultFactor: Double?) {
            let parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            guard parts.count == 2 || parts.count == 3, !parts[0].isEmpty else { return nil }
            let factor = parts.count == 3 ? Double(parts[2]) : defaultFactor
            guard let factor, factor.isFinite, factor >= 0 else { return nil }
            self.init(attribute: parts[0], value: parts[1], factor: factor)
        }

        func matches(_ attribute: ContextValue?) -> Bool {
            switch attribute {
            case .string(let s): s == self.value
            case .number(let d): Double(self.value) == d
            case .bool(let b): self.value == (b ? "true" : "false")
            case nil: false
            }
        }
    }

    public var count: Int
    public var exclude: Set<ItemKey>
    /// Only items in one of these categories (when not empty).
    public var categories: Set<String>
    public var excludeCategories: Set<String>
    /// Only items with at least one of these catalogue tags (when not empty).
    public var tags: Set<String>
    public var excludeTags: Set<String>
    public var excludeSeen: SeenFilter
    public var rules: [AttributeRule]
    /// Items placed at fixed 1-based positions, whatever their score.
    public var pins: [(item: String, position: Int)]
    /// At most this many items per category.
    public var categoryCap: Int?
    /// Maximal-marginal-relevance trade-off from 0 (pure relevance) to 1 (pure novelty), on embedding similarity.
    public var diversity: Double?

    public init(
        count: Int = 10,
        exclude: Set<ItemKey> = [],
        categories: Set<String> = [],
        excludeCategories: Set<String> = [],
        tags: Set<String> = [],
        excludeTags: Set<String> = [],
        excludeSeen: SeenFilter = .all,
        rules: [AttributeRule] = [],
        pins: [(item: String, position: Int)] = [],
        categoryCap: Int? = nil,
        diversity: Double? = nil
    ) {
        self.count = count
        self.exclude = exclude
        self.categories = categories
        self.excludeCategories = excludeCategories
        self.tags = tags
        self.excludeTags = excludeTags
        self.excludeSeen = excludeSeen
        self.rules = rules
        self.pins = pins
        self.categoryCap = categoryCap
        self.diversity = diversity
    }

    /// A canonical text of every option, the key of cached lists.
    var cacheKey: String {
        var key = "\(self.count)"
        func add(_ name: String, _ values: some Collection<String>) {
            if !values.isEmpty { key += "|\(name)=" + values.sorted().joined(separator: ",") }
        }
        add("x", self.exclude.map(\.name))
        add("c", self.categories)
        add("xc", self.excludeCategories)
        add("t", self.tags)
        add("xt", self.excludeTags)
        switch self.excludeSeen {
        case .all: break
        case .none: key += "|seen=none"
        case .within(let ms): key += "|seen=\(ms)"
        }
        for rule in self.rules { key += "|r=\(rule.attribute):\(rule.value):\(rule.factor)" }
        for pin in self.pins { key += "|p=\(pin.item):\(pin.position)" }
        if let cap = self.categoryCap { key += "|cap=\(cap)" }
        if let diversity = self.diversity { key += "|d=\(diversity)" }
        return key
    }

    /// Whether the list needs more candidates than `count` before filtering.
    var filters: Bool {
        !self.categories.isEmpty || !self.excludeCategories.isEmpty || !self.tags.isEmpty || !self.excludeTags.isEmpty
            || !self.rules.isEmpty || self.categoryCap != nil || (self.diversity ?? 0) > 0
    }
}
