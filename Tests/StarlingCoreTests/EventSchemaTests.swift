import StarlingCore
import Testing

struct EventSchemaTests {
    @Test func builtInTypesRouteToTheirDocumentedTopics() {
        let schema = EventSchema()
        let expected: [EventType: String] = [
            .view: "views", .click: "clicks",
            .like: "feedback", .dislike: "feedback", .rating: "feedback",
            .purchase: "conversions", .addToCart: "conversions",
            .dwell: "engagement", .scroll: "engagement", .share: "engagement",
            .navigate: "navigation",
        ]
        #expect(expected.count == EventType.builtIn.count)
        for type in EventType.builtIn {
            #expect(schema.topic(for: type) == expected[type], "\(type)")
        }
        #expect(schema.topic(for: EventType("unknown")) == nil)
        #expect(schema.topics == ["clicks", "conversions", "engagement", "feedback", "navigation", "views"])
    }

    @Test func declaredTypesGoToCustomTopicUnlessTheyNameOne() throws {
        var schema = EventSchema()
        try schema.declare("wishlist")
        try schema.declare(specification: "review_posted:reviews")
        #expect(schema.topic(for: EventType("wishlist")) == EventSchema.customTopic)
        #expect(schema.topic(for: EventType("review_posted")) == "reviews")
        #expect(schema.topics.contains("custom"))
        #expect(schema.topics.contains("reviews"))
    }

    @Test(arguments: ["", "Wishlist", "wish-list", "wish list", String(repeating: "a", count: 65), "view", "rating"])
    func rejectsMalformedOrBuiltInDeclarations(_ name: String) {
        var schema = EventSchema()
        #expect(throws: EventSchemaError.self) { try schema.declare(name) }
        #expect(schema.topic(for: EventType(name)) == EventSchema().topic(for: EventType(name)))
    }

    @Test func rejectsMalformedTopic() {
        var schema = EventSchema()
        #expect(throws: EventSchemaError.self) { try schema.declare("ok_type", topic: "Bad-Topic") }
        #expect(schema.topic(for: EventType("ok_type")) == nil)
    }

    @Test func acceptsSixtyFourCharacterName() throws {
        var schema = EventSchema()
        let name = String(repeating: "a", count: 64)
        try schema.declare(name)
        #expect(schema.topic(for: EventType(name)) == "custom")
    }

    /// `declare(specification:)` documents the forms `name` and `name:topic`. An empty name or topic must be
    /// rejected rather than reinterpreted: `":reviews"` must not declare a type called `reviews`.
    @Test(arguments: ["", ":", ":reviews", "wishlist:"])
    func rejectsSpecificationWithAnEmptyNameOrTopic(_ specification: String) {
        var schema = EventSchema()
        #expect(throws: EventSchemaError.self) { try schema.declare(specification: specification) }
        #expect(schema.routes == EventSchema().routes, "the schema changed to \(schema.routes)")
    }
}
