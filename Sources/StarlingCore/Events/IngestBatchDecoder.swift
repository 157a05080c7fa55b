/// Decodes the body of `POST /v1/events` into validated events and per-event rejections.
///
/// Two body formats are accepted:
/// - `application/json`: `{"events": [EVENT, ...]}`. A syntax error anywhere fails the whole body.
/// - `application/x-ndjson`: one EVENT per line; blank lines are skipped. A line that is not valid JSON rejects only
///   that event (its index counts non-blank lines from 0), unless no line parses at all, which fails the body.
public struct IngestBatchDecoder: Sendable {
    /// The format of a request body.
    public enum Format: Sendable {
        case json
        case ndjson
    }

    /// A body that cannot be decoded at all.
    public struct DecodingError: Error, Hashable, Sendable, CustomStringConvertible {
        /// The body is too large in event count (maps to 413) rather than malformed (400).
        public var isTooLarge: Bool
        public var description: String
    }

    /// The result for each event, in request order.
    public typealias Entry = Result<Event, EventValidationError>

    /// Per-event rules.
    public var validator: EventValidator
    /// The most events one request may carry. Defaults to 10,000.
    public var maxEvents: Int

    /// Creates a decoder.
    public init(validator: EventValidator = EventValidator(), maxEvents: Int = 10_000) {
        self.validator = validator
        self.maxEvents = maxEvents
    }

    /// Decodes a body.
    ///
    /// - Parameters:
    ///   - body: The raw request body.
    ///   - format: How the body is framed.
    ///   - receivedAt: The server's receive time for every event in the body.
    public func decode(_ body: UnsafeBufferPointer<UInt8>, format: Format, receivedAt: EventTime)
        throws(DecodingError) -> [Entry]
    {
        switch format {
        case .json: try self.decodeEnvelope(body, receivedAt: receivedAt)
        case .ndjson: try self.decodeLines(body, receivedAt: receivedAt)
        }
    }

    /// Decodes a body held in an array.
    public func decode(_ body: [UInt8], format: Format, receivedAt: EventTime) throws(DecodingError) -> [Entry] {
        let result = body.withUnsafeBufferPointer { buffer in
            Result { () throws(DecodingError) in try self.decode(buffer, format: format, receivedAt: receivedAt) }
        }
        return try result.get()
    }

    private func decodeEnvelope(_ body: UnsafeBufferPointer<UInt8>, receivedAt: EventTime) throws(DecodingError)
        -> [Entry]
    {
        var scanner = JSONScanner(body)
        var entries: [Entry]?
        var overLimit = false
        do throws(JSONSyntaxError) {
            guard scanner.peek() == UInt8(ascii: "{") else {
                throw scanner.error("expected an object of the form {\"events\": [...]}")
            }
            try scanner.readObject { scanner, key throws(JSONSyntaxError) in
                guard key == "events" else {
                    _ = try scanner.readValue()
                    return
                }
                guard entries == nil else { throw scanner.error("\"events\" appears more than once") }
                guard scanner.peek() == UInt8(ascii: "[") else {
                    throw scanner.error("\"events\" must be an array")
                }
                var decoded: [Entry] = []
                try scanner.readArray { scanner, index throws(JSONSyntaxError) in
                    let value = try scanner.readValue()
                    if index >= self.maxEvents {
                        overLimit = true
                        return
                    }
                    decoded.append(self.validator.validate(value, receivedAt: receivedAt))
                }
                entries = decoded
            }
            try scanner.expectEnd()
        } catch {
            throw DecodingError(isTooLarge: false, description: error.description)
        }
        if overLimit {
            throw DecodingError(isTooLarge: true, description: "a batch may hold at most \(self.maxEvents) events")
        }
        guard let entries else {
            throw DecodingError(isTooLarge: false, description: "the body must have an \"events\" array")
        }
        return entries
    }

    private func decodeLines(_ body: UnsafeBufferPointer<UInt8>, receivedAt: EventTime) throws(DecodingError)
        -> [Entry]
    {
        var entries: [Entry] = []
        var parsedAny = false
        var firstError: String?
        var lineStart = 0
        var lineNumber = 0
        while lineStart < body.count {
            var lineEnd = lineStart
            while lineEnd < body.count, body[lineEnd] != 0x0A { lineEnd += 1 }
            lineNumber += 1
            let line = UnsafeBufferPointer(rebasing: body[lineStart..<lineEnd])
            lineStart = lineEnd + 1
            guard line.contains(where: { $0 != 0x20 && $0 != 0x09 && $0 != 0x0D }) else { continue }
            guard entries.count < self.maxEvents else {
                throw DecodingError(isTooLarge: true, description: "a batch may hold at most \(self.maxEvents) events")
            }
            var scanner = JSONScanner(line)
            do throws(JSONSyntaxError) {
                let value = try scanner.readValue()
                try scanner.expectEnd()
                parsedAny = true
                entries.append(self.validator.validate(value, receivedAt: receivedAt))
            } catch {
                let message = "line \(lineNumber): invalid JSON at column \(error.column): \(error.message)"
                firstError = firstError ?? message
                entries.append(.failure(EventValidationError(field: nil, message)))
            }
        }
        if !parsedAny, let firstError {
            throw DecodingError(isTooLarge: false, description: firstError)
        }
        return entries
    }
}
