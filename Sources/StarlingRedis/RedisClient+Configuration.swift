extension RedisClient {
    /// Where Redis is and how long to wait for it.
    ///
    /// ```swift
    /// let configuration = try RedisClient.Configuration(url: "redis://127.0.0.1:6379/2")
    /// ```
    public struct Configuration: Hashable, Sendable {
        /// The host name or IP address of the server. Default `127.0.0.1`.
        public var host: String
        /// The TCP port. Default 6379.
        public var port: Int
        /// The database index, selected with `SELECT` after connecting when it is not 0. Default 0.
        public var database: Int
        /// How long a command (or a pipeline) may take from the call to the reply, including any wait for a
        /// connection. Default 1 second.
        ///
        /// A command that times out fails with ``RedisError/timeout``; the connection is then closed, since its
        /// replies are stuck behind the late one, and the next command opens a new one.
        public var commandTimeout: Duration
        /// How long opening a connection (TCP, then `SELECT`) may take. Default 1 second.
        public var connectTimeout: Duration
        /// The longest wait between two connection attempts while Redis is unreachable. Default 1 second.
        ///
        /// After a failed attempt, commands fail at once with ``RedisError/unavailable`` for 50 ms, then the next
        /// command tries again; the wait doubles after each failure up to this value. A connection that drops
        /// after it was established is retried at once.
        public var maximumReconnectBackoff: Duration

        /// Creates a configuration.
        ///
        /// - Parameters:
        ///   - host: The host name or IP address of the server.
        ///   - port: The TCP port (1–65535).
        ///   - database: The database index (0 or more).
        ///   - commandTimeout: The most a command may take (more than zero).
        ///   - connectTimeout: The most opening a connection may take (more than zero).
        ///   - maximumReconnectBackoff: The longest wait between two connection attempts.
        public init(
            host: String = "127.0.0.1",
            port: Int = 6379,
            database: Int = 0,
            commandTimeout: Duration = .seconds(1),
            connectTimeout: Duration = .seconds(1),
            maximumReconnectBackoff: Duration = .seconds(1)
        ) {
            precondition(!host.isEmpty, "the Redis host must not be empty")
            precondition((1...65_535).contains(port), "the Redis port must be in 1...65535, not \(port)")
            precondition(database >= 0, "the Redis database index must not be negative")
            precondition(commandTimeout > .zero && connectTimeout > .zero, "Redis timeouts must be positive")
            precondition(maximumReconnectBackoff >= .zero, "the Redis reconnect backoff must not be negative")
            self.host = host
            self.port = port
            self.database = database
            self.commandTimeout = commandTimeout
            self.connectTimeout = connectTimeout
            self.maximumReconnectBackoff = maximumReconnectBackoff
        }

        /// Creates a configuration from a URL of the form `redis://host[:port][/database]`.
        ///
        /// The port defaults to 6379 and the database to 0. An IPv6 address goes in brackets
        /// (`redis://[::1]:6379`). Timeouts keep their defaults.
        ///
        /// - Throws: ``RedisError/invalidConfiguration`` naming the problem for anything else: another scheme
        ///   (including `rediss://`, TLS is not supported), credentials, a missing host, a port that is not a number
        ///   in 1–65535, a database that is not a non-negative integer, a query or a fragment.
        public init(url: String) throws {
            func invalid(_ problem: String) -> RedisError {
                .invalidConfiguration("invalid Redis URL '\(url)': \(problem); expected redis://host:port[/db]")
            }
            guard let colon = url.firstIndex(of: ":"), url[colon...].hasPrefix("://") else {
                throw invalid("no scheme")
            }
            let scheme = url[..<colon].lowercased()
            guard scheme == "redis" else {
                if scheme == "rediss" { throw invalid("TLS (rediss://) is not supported") }
                throw invalid("the scheme must be 'redis', not '\(scheme)'")
            }
            var rest = url[url.index(colon, offsetBy: 3)...]
            guard !rest.contains(where: { $0.isWhitespace || $0.isNewline }) else {
                throw invalid("it contains whitespace")
            }
            guard !rest.contains("?") else { throw invalid("query parameters are not supported") }
            guard !rest.contains("#") else { throw invalid("a fragment is not supported") }
            guard !rest.contains("@") else { throw invalid("credentials are not supported") }

            var path: Substring = ""
            if let slash = rest.firstIndex(of: "/") {
                path = rest[rest.index(after: slash)...]
                rest = rest[..<slash]
            }

            let host: Substring
            var portText: Substring?
            if rest.hasPrefix("[") {
                guard let close = rest.firstIndex(of: "]") else { throw invalid("an IPv6 address lacks its ']'") }
                host = rest[rest.index(after: rest.startIndex)..<close]
                let afterHost = rest[rest.index(after: close)...]
                if !afterHost.isEmpty {
                    guard afterHost.hasPrefix(":") else { throw invalid("unexpected '\(afterHost)' after the host") }
                    portText = afterHost.dropFirst()
                }
            } else if let colon = rest.firstIndex(of: ":") {
                host = rest[..<colon]
                portText = rest[rest.index(after: colon)...]
            } else {
                host = rest
            }
            guard !host.isEmpty else { throw invalid("the host is missing") }

            var port = 6379
            if let portText {
                guard !portText.isEmpty, portText.allSatisfy(\.isASCIIDigit), let value = Int(portText),
                    (1...65_535).contains(value)
                else { throw invalid("the port must be a number in 1...65535, not '\(portText)'") }
                port = value
            }

            var database = 0
            if !path.isEmpty {
                guard path.allSatisfy(\.isASCIIDigit), let value = Int(path), value <= Int(Int32.max) else {
                    throw invalid("the database must be a non-negative integer, not '\(path)'")
                }
                database = value
            }

            self.init(host: String(host), port: port, database: database)
        }
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { self >= "0" && self <= "9" }
}
