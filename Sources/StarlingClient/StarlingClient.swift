public import Foundation

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
#if canImport(UIKit) && !os(watchOS)
import UIKit
#endif

/// Sends behaviour events to a Starling server from an app (iOS, macOS, Linux) and reads recommendations.
///
/// ``track(_:)`` queues an event (on disk when ``Configuration/queueDirectory`` is set) and returns at once; events
/// go out in batches of ``Configuration/batchSize``, when a batch is full, every ``Configuration/flushInterval``
/// while ``run()`` runs, on ``flush()``, and on ``applicationDidEnterBackground()``. A batch the server did not
/// acknowledge (no answer, 5xx, 429, 503, 507) is sent again after an exponential backoff with jitter (or the
/// server's `Retry-After`); each event's `id` makes a batch that was applied but whose answer was lost harmless to
/// send again. Nothing is dropped except events the server rejects as invalid, which ``Configuration/onRejected``
/// is told about.
///
/// ```swift
/// let client = try StarlingClient(configuration: .init(
///     baseURL: URL(string: "https://recs.example.com")!,
///     apiKey: "pk_…",
///     queueDirectory: FileManager.default.urls(for: .applicationSupportDirectory, in: .userDomainMask)[0]
/// ))
/// Task { await client.run() }
/// try await client.track(StarlingEvent(type: "view", user: "u42", item: "dune"))
/// ```
public actor StarlingClient {
    public struct Configuration: Sendable {
        /// The server, e.g. `http://127.0.0.1:8080`.
        public var baseURL: URL
        /// Sent as `Authorization: Bearer …`: a publishable key for sending events, a secret key for reading
        /// recommendations; `nil` for a server without keys.
        public var apiKey: String?
        /// Events per request. Defaults to 100.
        public var batchSize: Int
        /// How often ``StarlingClient/run()`` sends what is queued. Defaults to 5 seconds.
        public var flushInterval: Duration
        /// Where unsent events are kept (`starling-events.ndjson` in it); `nil` keeps them in memory only.
        public var queueDirectory: URL?
        /// The most events queued; ``StarlingClient/track(_:)`` throws ``StarlingClientError/queueFull`` beyond.
        /// Defaults to 10,000.
        public var maxQueuedEvents: Int
        /// The first retry's delay; each retry doubles it, up to ``maxBackoff``, with ±50 % jitter. Defaults to
        /// 0.5 seconds.
        public var initialBackoff: Duration
        /// Defaults to 30 seconds.
        public var maxBackoff: Duration
        /// How long one request may take. Defaults to 10 seconds.
        public var requestTimeout: Duration
        /// Told about events the server rejected as invalid (each with the server's reason); they are not sent again.
        public var onRejected: (@Sendable ([(event: StarlingEvent, reason: String)]) -> Void)?

        public init(
            baseURL: URL,
            apiKey: String? = nil,
            batchSize: Int = 100,
            flushInterval: Duration = .seconds(5),
            queueDirectory: URL? = nil,
            maxQueuedEvents: Int = 10_000,
            initialBackoff: Duration = .milliseconds(500),
            maxBackoff: Duration = .seconds(30),
            requestTimeout: Duration = .seconds(10),
            onRejected: (@Sendable ([(event: StarlingEvent, reason: String)]) -> Void)? = nil
        ) {
            self.baseURL = baseURL
            self.apiKey = apiKey
            self.batchSize = batchSize
            self.flushInterval = flushInterval
            self.queueDirectory = queueDirectory
            self.maxQueuedEvents = maxQueuedEvents
            self.initialBackoff = initialBackoff
            self.maxBackoff = maxBackoff
            self.requestTimeout = requestTimeout
            self.onRejected = onRejected
        }
    }

    public nonisolated let configuration: Configuration
    private var queue: EventQueue
    private let session: URLSession
    /// The flush in progress, which every caller of ``flush()`` joins.
    private var flushing: Task<Void, any Error>?
    private var backgroundObserver: (any NSObjectProtocol)?

    /// Opens the client; events a previous run left in ``Configuration/queueDirectory`` are queued again.
    public init(configuration: Configuration) throws {
        precondition(configuration.batchSize > 0 && configuration.batchSize <= 10_000, "batchSize must be 1…10,000")
        self.configuration = configuration
        self.queue = try EventQueue(
            path: configuration.queueDirectory?.appendingPathComponent("starling-events.ndjson").path
        )
        let sessionConfiguration = URLSessionConfiguration.ephemeral
        sessionConfiguration.timeoutIntervalForRequest = configuration.requestTimeout.seconds
        self.session = URLSession(configuration: sessionConfiguration)
    }

    /// Events queued and not yet acknowledged by the server.
    public var pendingCount: Int { self.queue.count }

    /// Queues `event`; sends a batch once ``Configuration/batchSize`` events are queued (without waiting for it).
    public func track(_ event: StarlingEvent) throws {
        guard self.queue.count < self.configuration.maxQueuedEvents else { throw StarlingClientError.queueFull }
        try self.queue.append(event)
        if self.queue.count >= self.configuration.batchSize, self.flushing == nil {
            self.startFlush()
        }
    }

    /// Sends every queued event, retrying until the server acknowledged them all (or the task is cancelled).
    ///
    /// - Throws: ``StarlingClientError/unauthorized(_:)`` when the server refuses the key (the events stay queued),
    ///   `CancellationError` when cancelled.
    public func flush() async throws {
        while !self.queue.isEmpty {
            let task = self.flushing ?? self.startFlush()
            try await task.value
        }
    }

    /// Sends what is queued every ``Configuration/flushInterval`` until the task is cancelled (what is still queued
    /// then stays on disk for the next run).
    public func run() async {
        #if canImport(UIKit) && !os(watchOS)
        self.observeBackground()
        #endif
        while !Task.isCancelled {
            try? await Task.sleep(for: self.configuration.flushInterval)
            if Task.isCancelled { break }
            try? await self.flush()
        }
    }

    /// Sends everything queued now, as an app should when it goes to the background (iOS suspends it soon after).
    /// On iOS and tvOS ``run()`` calls it on `UIApplication.didEnterBackgroundNotification` by itself.
    public func applicationDidEnterBackground() async {
        try? await self.flush()
    }

    /// The user's recommendations (needs a secret key on a server with keys: call it from trusted code).
    public func recommendations(for user: String, count: Int = 10) async throws -> [StarlingRecommendation] {
        var components = URLComponents(
            url: self.configuration.baseURL.appendingPathComponent("v1/users").appendingPathComponent(user)
                .appendingPathComponent("recommendations"),
            resolvingAgainstBaseURL: false
        )!
        components.queryItems = [URLQueryItem(name: "count", value: "\(count)")]
        var request = URLRequest(url: components.url!)
        if let key = self.configuration.apiKey { request.setValue("Bearer \(key)", forHTTPHeaderField: "Authorization") }
        let (data, response) = try await self.session.data(for: request)
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        guard status == 200 else { throw StarlingClientError.server(status, Self.errorMessage(data)) }
        struct List: Decodable { var items: [StarlingRecommendation] }
        return try JSONDecoder().decode(List.self, from: data).items
    }

    // MARK: - Sending

    @discardableResult
    private func startFlush() -> Task<Void, any Error> {
        let task = Task {
            defer { self.flushing = nil }
            while !self.queue.isEmpty {
                let batch = Array(self.queue.events.prefix(self.configuration.batchSize))
                try await self.deliver(batch)
                // Events tracked meanwhile were appended behind the batch: the batch is still the queue's head.
                try self.queue.removeFirst(batch.count)
            }
        }
        self.flushing = task
        return task
    }

    /// Sends one batch until the server acknowledged it.
    private func deliver(_ batch: [StarlingEvent]) async throws {
        var request = URLRequest(url: self.configuration.baseURL.appendingPathComponent("v1/events"))
        request.httpMethod = "POST"
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        if let key = self.configuration.apiKey { request.setValue("Bearer \(key)", forHTTPHeaderField: "Authorization") }
        struct Envelope: Encodable { var events: [StarlingEvent] }
        request.httpBody = try JSONEncoder().encode(Envelope(events: batch))
        var backoff = self.configuration.initialBackoff
        while true {
            try Task.checkCancellation()
            var wait = backoff
            do {
                let (data, response) = try await self.session.data(for: request)
                let http = response as? HTTPURLResponse
                switch http?.statusCode ?? 0 {
                case 200:
                    self.report(rejectionsIn: data, of: batch)
                    return
                case 401, 403:
                    throw StarlingClientError.unauthorized(Self.errorMessage(data))
                case 400, 413, 415:
                    // The batch as a whole is unreadable to the server: sending it again cannot help.
                    let reason = Self.errorMessage(data)
                    self.configuration.onRejected?(batch.map { ($0, reason) })
                    return
                default:  // 408, 429, 5xx (503 overloaded or recovering, 507 disk full): not stored, try again.
                    if let seconds = http?.value(forHTTPHeaderField: "Retry-After").flatMap(Double.init) {
                        wait = .milliseconds(Int64(seconds * 1_000))
                    }
                }
            } catch let error as StarlingClientError {
                throw error
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                // No answer (connection refused, reset, timed out): the batch may or may not be stored; its ids
                // make sending it again safe.
            }
            try await Task.sleep(for: Self.jittered(wait))
            backoff = min(backoff * 2, self.configuration.maxBackoff)
        }
    }

    private func report(rejectionsIn data: Data, of batch: [StarlingEvent]) {
        guard let onRejected = self.configuration.onRejected else { return }
        struct Result: Decodable {
            struct Rejection: Decodable {
                var index: Int
                var error: String
            }
            var rejected: [Rejection]
        }
        guard let result = try? JSONDecoder().decode(Result.self, from: data), !result.rejected.isEmpty else { return }
        onRejected(result.rejected.compactMap { batch.indices.contains($0.index) ? (batch[$0.index], $0.error) : nil })
    }

    private static func jittered(_ duration: Duration) -> Duration {
        duration * Double.random(in: 0.5...1.5)
    }

    private static func errorMessage(_ data: Data) -> String {
        struct Body: Decodable { var error: String }
        return (try? JSONDecoder().decode(Body.self, from: data).error) ?? String(decoding: data.prefix(200), as: UTF8.self)
    }

    #if canImport(UIKit) && !os(watchOS)
    private func observeBackground() {
        guard self.backgroundObserver == nil else { return }
        self.backgroundObserver = NotificationCenter.default.addObserver(
            forName: UIApplication.didEnterBackgroundNotification,
            object: nil,
            queue: nil
        ) { [weak self] _ in
            guard let self else { return }
            Task { await self.applicationDidEnterBackground() }
        }
    }
    #endif
}

/// Why ``StarlingClient`` could not do what was asked.
public enum StarlingClientError: Error, Sendable, Hashable, CustomStringConvertible {
    /// ``StarlingClient/Configuration/maxQueuedEvents`` events are waiting already.
    case queueFull
    /// The server refused the API key (401 or 403); the events stay queued.
    case unauthorized(String)
    /// The server answered a read with this status and error.
    case server(Int, String)
    /// The queue file could not be written.
    case storage(String)

    public var description: String {
        switch self {
        case .queueFull: "the event queue is full: the server has not acknowledged earlier events yet"
        case .unauthorized(let message): "the server refused the API key: \(message)"
        case .server(let status, let message): "the server answered \(status): \(message)"
        case .storage(let message): "the event queue could not be stored: \(message)"
        }
    }
}

extension Duration {
    fileprivate var seconds: Double {
        Double(self.components.seconds) + Double(self.components.attoseconds) / 1e18
    }
}
