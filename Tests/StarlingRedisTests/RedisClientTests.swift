import StarlingRedis
import StarlingTestSupport
import Testing

private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

/// Runs `body` with a client, closing it afterwards whatever happens.
private func withClient<T>(
    _ configuration: RedisClient.Configuration,
    _ body: (RedisClient) async throws -> T
) async throws -> T {
    let client = RedisClient(configuration: configuration)
    do {
        let result = try await body(client)
        await client.close()
        return result
    } catch {
        await client.close()
        throw error
    }
}

/// Retries PING until it succeeds or `limit` passes; returns whether it succeeded.
private func pingSucceeds(_ client: RedisClient, within limit: Duration) async -> Bool {
    let deadline = ContinuousClock.now + limit
    while ContinuousClock.now < deadline {
        if (try? await client.ping()) != nil { return true }
        try? await Task.sleep(for: .milliseconds(25))
    }
    return false
}

/// Against a real `redis-server` that each test starts on its own free port (see ``RedisServerProcess``).
@Suite(.serialized)
struct RedisClientTests {
    @Test func setGetDeleteRoundTripWithBinaryValues() async throws {
        let server = try await RedisServerProcess.started()
        defer { server.stop() }
        try await withClient(server.configuration()) { redis in
            let binary = (0...255).map(UInt8.init) + bytes("\r\n$-1\r\n*0\r\n")
            try await redis.set("binary", binary)
            #expect(try await redis.get("binary") == binary)

            let large = (0..<1_000_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
            try await redis.set("large", large)
            #expect(try await redis.get("large") == large)

            try await redis.set("empty", [])
            #expect(try await redis.get("empty") == [])
            #expect(try await redis.get("missing") == nil)
            #expect(try await redis.get(["binary", "missing", "empty"]) == [binary, nil, []])

            try await redis.set("clé à espaces", "valeur")
            #expect(try await redis.get("clé à espaces") == bytes("valeur"))

            #expect(try await redis.delete(["binary", "missing", "empty"]) == 2)
            #expect(try await redis.get("binary") == nil)
            #expect(try await redis.delete([]) == 0)
        }
    }

    @Test func genericCommandsServerErrorsAndPublish() async throws {
        let server = try await RedisServerProcess.started()
        defer { server.stop() }
        try await withClient(server.configuration()) { redis in
            try await redis.ping()
            #expect(try await redis.send(["INCRBY", "counter", "5"]) == .integer(5))
            #expect(try await redis.send([bytes("ECHO"), [0, 255, 13, 10]]) == .bulkString([0, 255, 13, 10]))
            #expect(try await redis.send(["HGET", "nothing", "field"]) == .bulkString(nil))
            #expect(try await redis.send(["LRANGE", "nothing", "0", "-1"]) == .array([]))

            let unknown = await #expect(throws: RedisError.serverError) {
                try await redis.send(["NOSUCHCOMMAND", "x"])
            }
            #expect(unknown?.message.hasPrefix("ERR unknown command") == true, "\(String(describing: unknown))")

            try await redis.send(["RPUSH", "list", "a"])
            let wrongType = await #expect(throws: RedisError.serverError) { try await redis.get("list") }
            #expect(wrongType?.message.hasPrefix("WRONGTYPE") == true)

            await #expect(throws: RedisError.invalidArgument) { try await redis.send([String]()) }

            #expect(try await redis.publish("hello", to: "news") == 0)
            #expect(try await redis.publish([1, 2, 3], to: "news") == 0)
            // Error replies leave the connection usable.
            #expect(try await redis.send(["GET", "counter"]) == .bulkString(bytes("5")))
        }
    }

    @Test func pipelineWritesAllCommandsAndReturnsRepliesInOrder() async throws {
        let server = try await RedisServerProcess.started()
        defer { server.stop() }
        try await withClient(server.configuration()) { redis in
            let replies = try await redis.pipeline([
                ["SET", "p", "1"], ["INCR", "p"], ["LPUSH", "p", "x"], ["GET", "p"], ["GET", "absent"],
            ])
            #expect(replies.count == 5)
            #expect(replies[0] == .simpleString("OK"))
            #expect(replies[1] == .integer(2))
            #expect(replies[2].errorMessage?.hasPrefix("WRONGTYPE") == true)
            #expect(replies[3] == .bulkString(bytes("2")))
            #expect(replies[4] == .bulkString(nil))

            let many = try await redis.pipeline((0..<500).map { [bytes("ECHO"), bytes("m\($0)")] })
            #expect(many == (0..<500).map { .bulkString(bytes("m\($0)")) })
            #expect(try await redis.pipeline([[String]]()) == [])
        }
    }

    @Test func expiryWithPX() async throws {
        let server = try await RedisServerProcess.started()
        defer { server.stop() }
        try await withClient(server.configuration()) { redis in
            try await redis.set("long", [1], expiresIn: .seconds(100))
            let longTTL = try #require(try await redis.send(["PTTL", "long"]).integer)
            #expect((99_000...100_000).contains(longTTL))

            // Rounded up to whole milliseconds, never down to an invalid 0.
            try await redis.set("tiny", [1], expiresIn: .microseconds(10))
            try await redis.set("forever", [1])
            #expect(try await redis.send(["PTTL", "forever"]) == .integer(-1))

            // Long enough that a loaded machine reads the TTL before it runs out.
            try await redis.set("short", [1], expiresIn: .milliseconds(1_500))
            let shortTTL = try #require(try await redis.send(["PTTL", "short"]).integer)
            #expect((1...1_500).contains(shortTTL))
            let deadline = ContinuousClock.now + .seconds(30)
            while try await redis.get("short") != nil, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(try await redis.get("short") == nil)

            await #expect(throws: RedisError.invalidArgument) { try await redis.set("k", [1], expiresIn: .zero) }
            await #expect(throws: RedisError.invalidArgument) { try await redis.set("k", [1], expiresIn: .seconds(-1)) }
        }
    }

    @Test func thousandConcurrentCommandsShareOneConnectionAndGetTheirOwnReplies() async throws {
        let server = try await RedisServerProcess.started()
        defer { server.stop() }
        try await withClient(server.configuration(commandTimeout: .seconds(5))) { redis in
            let connection = try await redis.send(["CLIENT", "ID"])
            let mismatches = try await withThrowingTaskGroup(of: Int.self) { group in
                for task in 0..<1_000 {
                    group.addTask {
                        let payload = "payload-\(task)-" + String(repeating: "x", count: task % 97)
                        async let echoed = redis.send(["ECHO", payload])
                        async let incremented = redis.send(["INCR", "counter"])
                        let reply = try await echoed
                        _ = try await incremented
                        return reply == .bulkString(bytes(payload)) ? 0 : 1
                    }
                }
                return try await group.reduce(0, +)
            }
            #expect(mismatches == 0)
            #expect(try await redis.get("counter") == bytes("1000"))
            // Every command went over the same connection: pipelined, not reconnected.
            #expect(try await redis.send(["CLIENT", "ID"]) == connection)
        }
    }

    @Test func commandTimesOutWhileTheServerIsPausedThenTheClientRecovers() async throws {
        let server = try await RedisServerProcess.started()
        defer { server.stop() }
        let admin = RedisClient(configuration: server.configuration())
        let redis = RedisClient(configuration: server.configuration(commandTimeout: .milliseconds(300)))
        try await redis.ping()
        try await admin.send(["CLIENT", "PAUSE", "2500", "ALL"])

        let (elapsed, error) = await measure { try await redis.get("key") }
        let timeout = try #require(error as? RedisError)
        #expect(timeout == .timeout)
        #expect(timeout.message.contains("no reply to GET from Redis at 127.0.0.1:\(server.port) within 300 ms"))
        // Bounded by the command timeout, not by the 2.5 s pause.
        #expect(elapsed < .seconds(2), "took \(elapsed)")

        // Concurrent commands during the pause all fail within the bound too.
        let errors = await withTaskGroup(of: (any Error)?.self) { group in
            for index in 0..<20 {
                group.addTask { await measure { try await redis.get("key\(index)") }.error }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        #expect(errors.allSatisfy { $0 as? RedisError == .timeout || $0 as? RedisError == .connectionLost })

        // Once the pause is over, the next commands reconnect and succeed.
        #expect(await pingSucceeds(redis, within: .seconds(5)))
        try await redis.set("after", [1])
        #expect(try await redis.get("after") == [1])
        await redis.close()
        await admin.close()
    }

    @Test func redisKilledMidTestFailsFastThenTheClientReconnectsAfterARestart() async throws {
        let server = try await RedisServerProcess.started()
        let admin = RedisClient(configuration: server.configuration())
        let redis = RedisClient(configuration: server.configuration(commandTimeout: .seconds(5)))
        try await redis.set("before", [1])

        // Commands in flight when Redis dies fail with connectionLost, not a timeout or a hang.
        try await admin.send(["CLIENT", "PAUSE", "10000", "ALL"])
        try await withThrowingTaskGroup(of: (Duration, (any Error)?).self) { group in
            for index in 0..<20 {
                group.addTask { await measure { try await redis.get("key\(index)") } }
            }
            try await Task.sleep(for: .milliseconds(200))
            await server.killAndWait()
            for try await (elapsed, error) in group {
                #expect(error as? RedisError == .connectionLost, "\(String(describing: error))")
                #expect(elapsed < .seconds(3), "took \(elapsed)")
            }
        }

        // While Redis is down, commands fail fast with `unavailable` naming the server.
        let start = ContinuousClock.now
        for _ in 0..<50 {
            let (elapsed, error) = await measure { try await redis.get("before") }
            let unavailable = try #require(error as? RedisError)
            #expect(unavailable == .unavailable)
            #expect(unavailable.message.contains("127.0.0.1:\(server.port)"), "\(unavailable.message)")
            #expect(elapsed < .seconds(1), "took \(elapsed)")
        }
        #expect(ContinuousClock.now - start < .seconds(5))

        // Restarted on the same port: the client reconnects by itself.
        let restarted = try RedisServerProcess(port: server.port)
        try await restarted.start()
        defer { restarted.stop() }
        #expect(await pingSucceeds(redis, within: .seconds(5)))
        try await redis.set("after", [2])
        #expect(try await redis.get("after") == [2])
        #expect(try await redis.get("before") == nil)  // a fresh server, without persistence
        await redis.close()
        await admin.close()
    }

    @Test func failsFastWhenRedisWasNeverUp() async throws {
        let port = try freeLoopbackPort()
        try await withClient(.init(port: port, commandTimeout: .seconds(5))) { redis in
            let first = await measure { try await redis.ping() }
            let refused = try #require(first.error as? RedisError)
            #expect(refused == .unavailable)
            #expect(refused.message.contains("cannot connect to Redis at 127.0.0.1:\(port)"), "\(refused.message)")
            #expect(first.elapsed < .seconds(1))
            for _ in 0..<100 {
                let (elapsed, error) = await measure { try await redis.get("key") }
                #expect(error as? RedisError == .unavailable)
                #expect(elapsed < .seconds(1), "took \(elapsed)")
            }
        }
    }

    @Test func selectsTheDatabaseFromTheURL() async throws {
        let server = try await RedisServerProcess.started()
        defer { server.stop() }
        try await withClient(try .init(url: server.url + "/3")) { database3 in
            try await database3.set("key", "three")
            let inDatabase0 = try await withClient(try .init(url: server.url)) { database0 in
                try await database0.get("key")
            }
            #expect(inDatabase0 == nil)
            #expect(try await database3.get("key") == bytes("three"))
            #expect(try await database3.send(["CLIENT", "INFO"]).string?.contains("db=3") == true)
        }
        try await withClient(try .init(url: server.url + "/99")) { outOfRange in
            let error = await #expect(throws: RedisError.unavailable) { try await outOfRange.ping() }
            #expect(error?.message.contains("SELECT 99 failed") == true, "\(String(describing: error))")
        }
    }

    @Test func closeFailsInFlightAndLaterCommands() async throws {
        let server = try await RedisServerProcess.started()
        defer { server.stop() }
        let admin = RedisClient(configuration: server.configuration())
        let redis = RedisClient(configuration: server.configuration(commandTimeout: .seconds(5)))
        try await redis.ping()
        try await admin.send(["CLIENT", "PAUSE", "5000", "ALL"])
        async let inFlight = measure { try await redis.get("key") }
        try await Task.sleep(for: .milliseconds(200))
        await redis.close()
        let (elapsed, error) = await inFlight
        #expect(error as? RedisError == .closed, "\(String(describing: error))")
        #expect(elapsed < .seconds(5))
        await #expect(throws: RedisError.closed) { try await redis.ping() }
        await redis.close()
        await admin.close()
    }

    @Test func cancellingTheCallerEndsItsWait() async throws {
        let server = try await RedisServerProcess.started()
        defer { server.stop() }
        let admin = RedisClient(configuration: server.configuration())
        let redis = RedisClient(configuration: server.configuration(commandTimeout: .seconds(5)))
        try await redis.ping()
        try await admin.send(["CLIENT", "PAUSE", "5000", "ALL"])
        let task = Task { await measure { try await redis.get("key") } }
        try await Task.sleep(for: .milliseconds(200))
        task.cancel()
        let (elapsed, error) = await task.value
        #expect(error is CancellationError, "\(String(describing: error))")
        #expect(elapsed < .seconds(5))
        await redis.close()
        await admin.close()
    }
}

/// Against servers that are not Redis, to see the client's bounds without one.
struct RedisClientFakeServerTests {
    @Test func timesOutAgainstAServerThatNeverAnswers() async throws {
        let server = try await FakeServer.start(reply: nil)
        let configuration = RedisClient.Configuration(port: server.port, commandTimeout: .milliseconds(200))
        try await withClient(configuration) { redis in
            let (elapsed, error) = await measure { try await redis.ping() }
            let timeout = try #require(error as? RedisError)
            #expect(timeout == .timeout)
            #expect(timeout.message.contains("no reply to PING"))
            // Bounded, not hanging (a generous bound: a busy machine may be slow to run the timer).
            #expect(elapsed < .seconds(30), "took \(elapsed)")
        }
        await server.close()
    }

    @Test func connectTimesOutWhenSelectIsNeverAnswered() async throws {
        let server = try await FakeServer.start(reply: nil)
        let configuration = RedisClient.Configuration(
            port: server.port,
            database: 2,
            commandTimeout: .seconds(60),
            connectTimeout: .milliseconds(200)
        )
        try await withClient(configuration) { redis in
            let (elapsed, error) = await measure { try await redis.ping() }
            let unavailable = try #require(error as? RedisError)
            #expect(unavailable == .unavailable)
            #expect(unavailable.message.contains("no reply to SELECT within 200 ms"), "\(unavailable.message)")
            // The connect timeout ended it, long before the command timeout could have.
            #expect(elapsed < .seconds(30), "took \(elapsed)")
        }
        await server.close()
    }

    @Test func rejectsAPeerThatDoesNotSpeakRESP() async throws {
        let server = try await FakeServer.start(reply: bytes("HTTP/1.1 400 Bad Request\r\n\r\n"))
        try await withClient(.init(port: server.port)) { redis in
            let error = await #expect(throws: RedisError.protocolError) { try await redis.ping() }
            #expect(error?.message.contains("unexpected byte 'H'") == true, "\(String(describing: error))")
        }
        await server.close()
    }
}
