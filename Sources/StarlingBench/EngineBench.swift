import ArgumentParser
import Foundation
import StarlingCore
import StarlingModels

#if canImport(Glibc)
import Glibc
#endif

/// Learn-only throughput of the recommendation engine, and memory per user at scale.
struct EngineBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "engine",
        abstract: "Engine learn-only throughput (one core) and memory per user, on synthetic traffic."
    )

    @Option(help: "Distinct users.")
    var users = 1_000_000
    @Option(help: "Distinct items.")
    var items = 20_000
    @Option(help: "Events to learn.")
    var events = 3_000_000
    @Flag(help: "Accepted for old scripts: users' profiles now live in the engine's record of each user, so they are always measured.")
    var withProfiles = false
    @Option(
        name: .customLong("model"),
        help: ArgumentHelp("Change a model setting (repeatable).", valueName: "key=value")
    )
    var modelSettings: [String] = []
    @Flag(
        help: "Generate each event just before it is learned instead of all of them first: the resident-set growth is then the engine's alone (no freed generation garbage for it to reuse), and the time includes generation."
    )
    var streaming = false

    func run() throws {
        var configuration = RecommendationEngine.Configuration()
        for setting in self.modelSettings { try configuration.apply(setting) }
        var traffic = SyntheticTraffic(users: self.users, items: self.items)
        func event(_ k: Int) -> Event {
            traffic.event(at: EventTime(milliseconds: 1_700_000_000_000 + Int64(k) * 10))
        }
        let generated: [Event] = self.streaming ? [] : (0..<self.events).map(event)
        let before = Self.residentBytes()
        var engine = RecommendationEngine(configuration: configuration)
        let start = ContinuousClock.now
        let cpuStart = Self.threadCPUNanoseconds()
        if self.streaming {
            for k in 0..<self.events { engine.learn(event(k)) }
        } else {
            for event in generated { engine.learn(event) }
        }
        let cpu = Self.threadCPUNanoseconds() - cpuStart
        let elapsed = ContinuousClock.now - start
        let afterEngine = Self.residentBytes()
        let seconds = elapsed.fractionalSeconds
        let knownUsers = engine.userCount
        // Per-user memory: the resident set growth (which also holds what is per item and per session), and the
        // per-user record measured directly (the models' state, the profile and the embedding row).
        let dimensions = configuration.factors.dimensions
        var userBytes = engine.userStates.reduce(0) { $0 + RecommendationEngine.bytes(of: $1) }
        userBytes += knownUsers * dimensions * MemoryLayout<Float>.stride
        let idBytes = engine.userIndexBytes
        print(
            "engine learn-only events=\(self.events) users=\(knownUsers) items=\(engine.itemCount) dims=\(dimensions)"
                + " seconds=\(String(format: "%.2f", seconds)) events_per_second=\(Int(Double(self.events) / seconds))"
                + " ns_per_event=\(Int(seconds * 1e9 / Double(self.events)))"
                + " cpu_ns_per_event=\(cpu / self.events)"
        )
        print(
            "engine memory rss_growth_MiB=\(String(format: "%.0f", Double(afterEngine - before) / 1_048_576))"
                + " rss_growth_bytes_per_user=\(Int(Double(afterEngine - before) / Double(max(1, knownUsers))))"
                + " user_state_bytes_per_user=\(userBytes / max(1, knownUsers))"
                + " user_id_index_bytes_per_user=\(idBytes / max(1, knownUsers))"
        )
        withExtendedLifetime(engine) {}
    }

    /// CPU time of the calling thread: on a shared machine, what the work cost rather than how long it waited.
    static func threadCPUNanoseconds() -> Int {
        var time = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
        return time.tv_sec * 1_000_000_000 + time.tv_nsec
    }

    static func residentBytes() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return 0 }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }
}
