import StarlingRedis
import Testing

struct RedisConfigurationTests {
    static let valid: [(url: String, host: String, port: Int, database: Int)] = [
        ("redis://127.0.0.1:6379", "127.0.0.1", 6379, 0),
        ("redis://localhost:6380/", "localhost", 6380, 0),
        ("redis://cache.internal:7000/3", "cache.internal", 7000, 3),
        ("redis://cache.internal", "cache.internal", 6379, 0),
        ("REDIS://host:1/15", "host", 1, 15),
        ("redis://[::1]:6379/2", "::1", 6379, 2),
        ("redis://[::1]", "::1", 6379, 0),
    ]

    @Test(arguments: RedisConfigurationTests.valid)
    func parsesRedisURLs(url: String, host: String, port: Int, database: Int) throws {
        let configuration = try RedisClient.Configuration(url: url)
        #expect(configuration.host == host)
        #expect(configuration.port == port)
        #expect(configuration.database == database)
        #expect(configuration.commandTimeout == .seconds(1))
    }

    static let invalid: [(url: String, problem: String)] = [
        ("", "no scheme"),
        ("127.0.0.1:6379", "no scheme"),
        ("localhost", "no scheme"),
        ("http://localhost:6379", "the scheme must be 'redis', not 'http'"),
        ("rediss://localhost:6379", "TLS (rediss://) is not supported"),
        ("redis://", "the host is missing"),
        ("redis://:6379", "the host is missing"),
        ("redis://localhost:", "the port must be a number in 1...65535, not ''"),
        ("redis://localhost:0", "the port must be a number in 1...65535, not '0'"),
        ("redis://localhost:65536", "not '65536'"),
        ("redis://localhost:-1", "not '-1'"),
        ("redis://localhost:63x9", "not '63x9'"),
        ("redis://localhost:6379/x", "the database must be a non-negative integer, not 'x'"),
        ("redis://localhost:6379/-1", "not '-1'"),
        ("redis://localhost:6379/1/2", "not '1/2'"),
        ("redis://localhost:6379/99999999999", "not '99999999999'"),
        ("redis://user:secret@localhost:6379", "credentials are not supported"),
        ("redis://localhost:6379?timeout=1", "query parameters are not supported"),
        ("redis://localhost:6379#x", "a fragment is not supported"),
        ("redis://local host:6379", "it contains whitespace"),
        ("redis://[::1:6379", "an IPv6 address lacks its ']'"),
        ("redis://[::1]6379", "unexpected '6379' after the host"),
    ]

    @Test(arguments: RedisConfigurationTests.invalid)
    func rejectsBadURLsWithAClearMessage(url: String, problem: String) {
        let error = #expect(throws: RedisError.invalidConfiguration) { try RedisClient.Configuration(url: url) }
        #expect(error?.message.contains(problem) == true, "\(String(describing: error))")
        #expect(error?.message.contains("redis://host:port[/db]") == true)
    }
}
