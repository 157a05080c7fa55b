#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A minimal blocking HTTP/1.1 client over one kept-alive TCP connection.
///
/// It exists so that evaluation can drive a server through its public API the way a simple client does: one
/// request at a time, on one reused connection, with no thread hops (URLSession on Linux adds several per request).
/// It understands what a Starling server sends: `Content-Length` and `chunked` bodies, `Connection: close`.
/// When the server has closed the kept-alive connection, a request is sent again once on a new connection; that
/// is safe for the requests evaluation makes (reads, and events that carry an id).
///
/// ```swift
/// let connection = try HTTPConnection(host: "127.0.0.1", port: 8080)
/// let response = try connection.send(method: "GET", path: "/ready")
/// ```
package final class HTTPConnection {
    /// A response: status, headers (names as sent) and body.
    package struct Response: Sendable {
        package var status: Int
        package var headers: [(name: String, value: String)]
        package var body: [UInt8]

        package init(status: Int, headers: [(name: String, value: String)], body: [UInt8]) {
            self.status = status
            self.headers = headers
            self.body = body
        }

        /// The value of the first header named `name` (compared case-insensitively).
        package func header(_ name: String) -> String? {
            let lowered = name.lowercased()
            return self.headers.first(where: { $0.name.lowercased() == lowered })?.value
        }

        /// The body as UTF-8 text.
        package var text: String { String(decoding: self.body, as: UTF8.self) }
    }

    package let host: String
    package let port: Int
    /// How long one read or write may block.
    package let timeoutSeconds: Int
    private var socket: Int32 = -1
    private var buffer: [UInt8] = []

    /// Connects to `host:port`.
    ///
    /// - Throws: ``APIClientError`` when the host does not resolve or the connection is refused.
    package init(host: String, port: Int, timeoutSeconds: Int = 60) throws(APIClientError) {
        self.host = host
        self.port = port
        self.timeoutSeconds = timeoutSeconds
        try self.connect()
    }

    deinit {
        self.close()
    }

    /// Closes the connection; the next request opens a new one.
    package func close() {
        if self.socket >= 0 {
            _ = posixClose(self.socket)
            self.socket = -1
        }
        self.buffer.removeAll(keepingCapacity: true)
    }

    /// Sends one request and reads its response.
    ///
    /// - Parameters:
    ///   - method: `GET`, `POST`, …
    ///   - path: The path and query, already percent-encoded (`/v1/users/alice/recommendations?count=10`).
    ///   - contentType: The body's content type, sent when there is a body.
    ///   - body: The request body.
    /// - Throws: ``APIClientError`` when the exchange fails (also after one retry on a fresh connection).
    package func send(method: String, path: String, contentType: String = "application/json", body: [UInt8] = [])
        throws(APIClientError) -> Response
    {
        let request = Self.request(method: method, path: path, host: self.host, port: self.port, contentType: contentType, body: body)
        let reused = self.socket >= 0
        do {
            if !reused { try self.connect() }
            return try self.exchange(request, method: method)
        } catch {
            // A kept-alive connection the server has since closed fails on first use: try once more, anew.
            guard reused else { throw error }
            self.close()
            try self.connect()
            return try self.exchange(request, method: method)
        }
    }

    /// The bytes of a request: request line, `Host`, `Content-Length` and, with a body, `Content-Type`.
    package static func request(method: String, path: String, host: String, port: Int, contentType: String, body: [UInt8])
        -> [UInt8]
    {
        var head = "\(method) \(path) HTTP/1.1\r\nHost: \(host):\(port)\r\n"
        if !body.isEmpty || method == "POST" || method == "PUT" {
            head += "Content-Type: \(contentType)\r\nContent-Length: \(body.count)\r\n"
        }
        head += "\r\n"
        return Array(head.utf8) + body
    }

    private func exchange(_ request: [UInt8], method: String) throws(APIClientError) -> Response {
        try self.write(request)
        let (response, keepAlive) = try self.readResponse(method: method)
        if !keepAlive { self.close() }
        return response
    }

    // MARK: - Socket

    private func connect() throws(APIClientError) {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(self.host, String(self.port), &hints, &list)
        guard status == 0, let first = list else {
            throw APIClientError("cannot resolve the host '\(self.host)': \(String(cString: gai_strerror(status)))")
        }
        defer { freeaddrinfo(list) }
        var lastError: Int32 = 0
        var entry: UnsafeMutablePointer<addrinfo>? = first
        while let info = entry {
            entry = info.pointee.ai_next
            let fd = posixSocket(info.pointee.ai_family, info.pointee.ai_socktype, info.pointee.ai_protocol)
            guard fd >= 0 else {
                lastError = errno
                continue
            }
            if posixConnect(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 {
                var one: Int32 = 1
                _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
                var timeout = timeval(tv_sec: self.timeoutSeconds, tv_usec: 0)
                _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
                _ = setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
                self.socket = fd
                self.buffer.removeAll(keepingCapacity: true)
                return
            }
            lastError = errno
            _ = posixClose(fd)
        }
        throw APIClientError("cannot connect to \(self.host):\(self.port): \(String(cString: strerror(lastError)))")
    }

    private func write(_ bytes: [UInt8]) throws(APIClientError) {
        var sent = 0
        while sent < bytes.count {
            let result = bytes.withUnsafeBytes { raw in
                posixSend(self.socket, raw.baseAddress! + sent, raw.count - sent, noSignal)
            }
            if result < 0 {
                if errno == EINTR { continue }
                throw APIClientError("sending to \(self.host):\(self.port) failed: \(String(cString: strerror(errno)))")
            }
            sent += result
        }
    }

    /// Reads more bytes into the buffer; `false` at the end of the stream.
    private func fill() throws(APIClientError) -> Bool {
        var chunk = [UInt8](repeating: 0, count: 16_384)
        while true {
            let count = chunk.withUnsafeMutableBytes { posixRecv(self.socket, $0.baseAddress!, $0.count, 0) }
            if count > 0 {
                self.buffer.append(contentsOf: chunk[0..<count])
                return true
            }
            if count == 0 { return false }
            if errno == EINTR { continue }
            if errno == EAGAIN || errno == EWOULDBLOCK {
                throw APIClientError("no response from \(self.host):\(self.port) within \(self.timeoutSeconds) s")
            }
            throw APIClientError("reading from \(self.host):\(self.port) failed: \(String(cString: strerror(errno)))")
        }
    }

    /// The index just past the next CRLF at or after `start`, filling the buffer as needed.
    private func line(from start: Int) throws(APIClientError) -> (line: ArraySlice<UInt8>, next: Int) {
        var searched = start
        while true {
            var index = searched
            while index + 1 < self.buffer.count {
                if self.buffer[index] == 13, self.buffer[index + 1] == 10 {
                    return (self.buffer[start..<index], index + 2)
                }
                index += 1
            }
            searched = max(start, self.buffer.count - 1)
            guard try self.fill() else { throw self.truncated() }
        }
    }

    private func truncated() -> APIClientError {
        APIClientError("the connection to \(self.host):\(self.port) closed in the middle of a response")
    }

    private func need(_ count: Int) throws(APIClientError) {
        while self.buffer.count < count {
            guard try self.fill() else { throw self.truncated() }
        }
    }

    private func readResponse(method: String) throws(APIClientError) -> (Response, keepAlive: Bool) {
        let (statusLine, afterStatus) = try self.line(from: 0)
        let parts = String(decoding: statusLine, as: UTF8.self).split(separator: " ", maxSplits: 2)
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), let status = Int(parts[1]) else {
            throw APIClientError(
                "\(self.host):\(self.port) did not answer with HTTP/1.x: '\(String(decoding: statusLine.prefix(80), as: UTF8.self))'"
            )
        }
        var headers: [(name: String, value: String)] = []
        var position = afterStatus
        while true {
            let (line, next) = try self.line(from: position)
            position = next
            if line.isEmpty { break }
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { continue }
            let name = String(decoding: line[line.startIndex..<colon], as: UTF8.self)
            let value = String(decoding: line[(colon + 1)...], as: UTF8.self).trimmingSpaces()
            headers.append((name, value))
        }
        var response = Response(status: status, headers: headers, body: [])
        var keepAlive = !(parts[0] == "HTTP/1.0") && response.header("Connection")?.lowercased() != "close"
        if method == "HEAD" || status == 204 || status == 304 || (100..<200).contains(status) {
            // No body.
        } else if response.header("Transfer-Encoding")?.lowercased().contains("chunked") == true {
            while true {
                let (sizeLine, afterSize) = try self.line(from: position)
                let sizeText = String(decoding: sizeLine, as: UTF8.self).split(separator: ";")[0].trimmingSpaces()
                guard let size = Int(sizeText, radix: 16), size >= 0 else {
                    throw APIClientError("\(self.host):\(self.port) sent a malformed chunk size '\(sizeText)'")
                }
                position = afterSize
                if size == 0 {
                    // Trailers, up to the empty line.
                    while true {
                        let (trailer, next) = try self.line(from: position)
                        position = next
                        if trailer.isEmpty { break }
                    }
                    break
                }
                try self.need(position + size + 2)
                response.body.append(contentsOf: self.buffer[position..<(position + size)])
                position += size + 2
            }
        } else if let length = response.header("Content-Length").flatMap({ Int($0) }) {
            try self.need(position + length)
            response.body = Array(self.buffer[position..<(position + length)])
            position += length
        } else {
            // No length: the body runs to the end of the stream.
            while try self.fill() {}
            response.body = Array(self.buffer[position...])
            position = self.buffer.count
            keepAlive = false
        }
        self.buffer.removeFirst(position)
        return (response, keepAlive)
    }
}

@available(*, unavailable, message: "an HTTPConnection is one blocking connection, used from one task")
extension HTTPConnection: Sendable {}

extension StringProtocol {
    /// The text without leading and trailing spaces and tabs.
    fileprivate func trimmingSpaces() -> String {
        var slice = Substring(self)
        while let first = slice.first, first == " " || first == "\t" { slice.removeFirst() }
        while let last = slice.last, last == " " || last == "\t" { slice.removeLast() }
        return String(slice)
    }
}

// The socket calls, under names that the methods of the same names in `HTTPConnection` do not shadow.
private func posixClose(_ fd: Int32) -> Int32 { close(fd) }
private func posixSocket(_ family: Int32, _ type: Int32, _ proto: Int32) -> Int32 { socket(family, type, proto) }
private func posixConnect(_ fd: Int32, _ address: UnsafePointer<sockaddr>!, _ length: socklen_t) -> Int32 {
    connect(fd, address, length)
}
private func posixSend(_ fd: Int32, _ bytes: UnsafeRawPointer, _ count: Int, _ flags: Int32) -> Int {
    send(fd, bytes, count, flags)
}
private func posixRecv(_ fd: Int32, _ bytes: UnsafeMutableRawPointer, _ count: Int, _ flags: Int32) -> Int {
    recv(fd, bytes, count, flags)
}

#if os(Linux)
/// Report a closed peer as `EPIPE`, not `SIGPIPE`.
private let noSignal = Int32(MSG_NOSIGNAL)
#else
private let noSignal: Int32 = 0
#endif
