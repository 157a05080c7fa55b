import ArgumentParser
import Foundation
import Hummingbird
import Logging
import ServiceLifecycle
import StarlingCore
import StarlingEventLog
import StarlingHTTP
import StarlingModels
import StarlingServer
import StarlingStream

/// `starling demo`: the server on embedded defaults plus a demo site at `/demo` — a catalogue (generated, or read
/// from a file), a few hundred synthetic shoppers' history so that co-occurrence has something to say, and a page
/// that uses the browser SDK and shows the visitor's recommendations, with their reasons, after every click.
struct Demo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a demo site at /demo: recommendations that change, with their reasons, as you click."
    )

    @Option(help: "The port to listen on (on 127.0.0.1).")
    var port = 8080

    @Option(name: .customLong("data-dir"), help: "Where the demo keeps its log and checkpoints.")
    var dataDirectory = "./starling-demo-data"

    @Option(
        help: ArgumentHelp(
            "A JSON array of items, each {\"id\", \"title\", \"category\"}; a generated catalogue of 96 books when absent.",
            valueName: "file"
        )
    )
    var catalog: String?

    @Option(help: "Synthetic shoppers whose history is sent when the demo starts with an empty data directory.")
    var shoppers = 300

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel = "info"

    func validate() throws {
        guard (1...65_535).contains(self.port) else { throw ValidationError("--port must be from 1 to 65535") }
        guard self.shoppers >= 0 else { throw ValidationError("--shoppers must not be negative") }
        guard Logger.Level(rawValue: self.logLevel) != nil else {
            throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical")
        }
    }

    func run() async throws {
        let (registry, stats) = Serve.bootstrapObservability(
            level: Logger.Level(rawValue: self.logLevel) ?? .info,
            json: false
        )
        let logger = Logger(label: "starling.demo")
        let items = try self.catalog.map(DemoCatalog.read) ?? DemoCatalog.generated()
        var configuration = ServerConfiguration()
        configuration.http.host = "127.0.0.1"
        configuration.http.port = self.port
        configuration.storage.directory = self.dataDirectory
        var role = try ProcessorRole(
            configuration: configuration,
            metricsText: { registry.emitToString() },
            logger: logger
        )
        role.components.demo = .init(catalogJSON: DemoCatalog.json(items))
        role.services.append(
            DemoSeeder(role: role, items: items, shoppers: self.shoppers, address: "http://127.0.0.1:\(self.port)/demo")
        )
        try await role.application(logger: logger, stats: stats).runService()
    }
}

/// One item of the demo's catalogue.
struct DemoItem: Codable, Sendable {
    var id: String
    var title: String
    var category: String
}

enum DemoCatalog {
    /// Reads `[{"id", "title", "category"}, …]`.
    static func read(_ path: String) throws -> [DemoItem] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ValidationError("--catalog: cannot read \(path)")
        }
        do {
            let items = try JSONDecoder().decode([DemoItem].self, from: data)
            guard !items.isEmpty else { throw ValidationError("--catalog \(path): the catalogue is empty") }
            return items
        } catch let error as DecodingError {
            throw ValidationError("--catalog \(path): expected a JSON array of {\"id\", \"title\", \"category\"}: \(error)")
        }
    }

    /// 96 books in 8 categories, the same every time.
    static func generated() -> [DemoItem] {
        let categories = ["sci-fi", "mystery", "romance", "history", "cooking", "travel", "poetry", "fantasy"]
        let adjectives = ["Silent", "Golden", "Last", "Hidden", "Distant", "Crimson", "Quiet", "Burning", "Lost", "Iron",
                          "Winter", "Secret"]
        let nouns = ["Orbit", "Garden", "Harbour", "Letters", "Kitchen", "Road", "Verses", "Crown", "Archive", "Tide",
                     "Lantern", "Map"]
        var items: [DemoItem] = []
        for (c, category) in categories.enumerated() {
            for k in 0..<12 {
                let title = "The \(adjectives[(k + c * 5) % 12]) \(nouns[(k * 7 + c) % 12])"
                items.append(DemoItem(id: "\(category)-\(k + 1)", title: title, category: category))
            }
        }
        return items
    }

    static func json(_ items: [DemoItem]) -> [UInt8] {
        Array((try? JSONEncoder().encode(items)) ?? Data("[]".utf8))
    }
}

/// Once the processor has recovered, writes the catalogue and sends the synthetic shoppers' history (only into an
/// empty data directory), then stays until shutdown.
struct DemoSeeder: Service {
    let processor: StreamProcessor<SegmentedEventLog>
    let catalog: CatalogService<SegmentedEventLog>?
    let ingest: IngestService<SegmentedEventLog>?
    let items: [DemoItem]
    let shoppers: Int
    let address: String
    let logger = Logger(label: "starling.demo")

    init(role: ProcessorRole<SegmentedEventLog>, items: [DemoItem], shoppers: Int, address: String) {
        self.processor = role.processor
        self.catalog = role.components.catalog
        self.ingest = role.components.ingest
        self.items = items
        self.shoppers = shoppers
        self.address = address
    }

    func run() async throws {
        while !self.processor.isRecovered {
            try await Task.sleep(for: .milliseconds(10))
        }
        if self.processor.catalog.count == 0 {
            try await self.seed()
        }
        self.logger.notice("Demo ready: open \(self.address)")
        try? await gracefulShutdown()
    }

    private func seed() async throws {
        let now = EventTime.now()
        try await self.catalog?.apply(
            self.items.map { item in
                .upsert(
                    CatalogItem(
                        id: item.id,
                        category: item.category,
                        attributes: ["title": .string(item.title)],
                        updatedAt: now
                    )
                )
            }
        )
        // Shoppers with one or two favourite categories, who mostly browse those: co-occurrence learns which books
        // go together, and a visitor's first likes already say something.
        var generator = SplitMix64(seed: 42)
        let byCategory = Dictionary(grouping: self.items, by: \.category)
        let categories = byCategory.keys.sorted()
        var entries: [IngestBatchDecoder.Entry] = []
        for shopper in 0..<self.shoppers {
            let favourites = (0..<2).map { _ in categories[Int(generator.next() % UInt64(categories.count))] }
            for k in 0..<15 {
                let pool = generator.next() % 5 == 0 ? self.items : byCategory[favourites[k % 2]]!
                let item = pool[Int(generator.next() % UInt64(pool.count))]
                let roll = generator.next() % 10
                let type: EventType = roll < 6 ? .view : roll < 8 ? .click : .like
                let minutesAgo = Int64((self.shoppers - shopper) * 15 - k)
                entries.append(
                    .success(
                        Event(
                            type: type,
                            user: "shopper-\(shopper)",
                            item: item.id,
                            timestamp: EventTime(milliseconds: now.milliseconds - minutesAgo * 60_000)
                        )
                    )
                )
            }
        }
        var start = 0
        while start < entries.count {
            let end = min(entries.count, start + 1_000)
            _ = try await self.ingest?.ingest(Array(entries[start..<end]), receivedAt: now)
            start = end
        }
        self.logger.info("Demo catalogue and history sent", metadata: ["starling.demo.events": "\(entries.count)"])
    }
}
