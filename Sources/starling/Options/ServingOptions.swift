import ArgumentParser
import StarlingServing

/// The options of `starling serve` that shape and cache the lists it serves: boost and bury rules, the category
/// cap, the recommendation cache and the read-your-writes wait.
struct ServingOptions: ParsableArguments {
    @Option(
        name: .customLong("boost"),
        help: ArgumentHelp("Boost items whose catalogue attribute matches, in every list (repeatable).", valueName: "attribute:value:factor")
    )
    var boosts: [String] = []

    @Option(
        name: .customLong("bury"),
        help: ArgumentHelp("Bury items whose catalogue attribute matches (factor 0.2 unless given; repeatable).", valueName: "attribute:value[:factor]")
    )
    var buries: [String] = []

    @Option(name: .customLong("category-cap"), help: "At most this many items per category in every list.")
    var categoryCap: Int?

    @Option(name: .customLong("cache-ttl-seconds"), help: "Lifetime of cached recommendation lists; 0 turns caching off.")
    var cacheTTLSeconds = 60

    @Option(name: .customLong("cache-capacity"), help: "Users whose lists are cached.")
    var cacheCapacity = 100_000

    @Option(
        name: .customLong("bust-on"),
        help: ArgumentHelp(
            "Events that make a user's cached lists invalid. all (the default): any event, so the next list always reflects it. A list of types (an opt-in for cheaper reads): lists are reused across other events, without the items the user touched since.",
            valueName: "all|type,type,…"
        )
    )
    var bustOn = "all"

    @Option(
        name: .customLong("read-your-writes-ms"),
        help: "Longest a request waits for the user's acknowledged events to be applied before serving what is visible (the response then says \"fresh\": false)."
    )
    var readYourWritesMilliseconds = 10

    func validate() throws {
        _ = try self.rules()
        if let cap = self.categoryCap, cap < 1 { throw ValidationError("--category-cap must be positive") }
        guard self.cacheTTLSeconds >= 0, self.cacheCapacity >= 1 else {
            throw ValidationError("--cache-ttl-seconds must not be negative and --cache-capacity must be positive")
        }
        guard self.readYourWritesMilliseconds >= 0, self.readYourWritesMilliseconds <= 60_000 else {
            throw ValidationError("--read-your-writes-ms must be from 0 to 60000")
        }
    }

    /// The events that invalidate cached lists.
    var invalidation: CacheInvalidation {
        CacheInvalidation(option: self.bustOn)
    }

    /// The configured boost and bury rules.
    func rules() throws -> [RecommendationRequest.AttributeRule] {
        var rules: [RecommendationRequest.AttributeRule] = []
        for raw in self.boosts {
            guard let rule = RecommendationRequest.AttributeRule(parsing: raw, defaultFactor: nil) else {
                throw ValidationError("--boost \(raw): expected attribute:value:factor")
            }
            rules.append(rule)
        }
        for raw in self.buries {
            guard let rule = RecommendationRequest.AttributeRule(parsing: raw, defaultFactor: 0.2) else {
                throw ValidationError("--bury \(raw): expected attribute:value or attribute:value:factor")
            }
            rules.append(rule)
        }
        return rules
    }
}
