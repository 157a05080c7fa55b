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
        try BatchBody.decode(body, format: format, envelopeKey: "events", noun: "events", maxEntries: self.maxEvents) {
            self.validator.validate($0, receivedAt: receivedAt)
        }
    }

    /// Decodes a body held in an array.
    public func decode(_ body: [UInt8], format: Format, receivedAt: EventTime) throws(DecodingError) -> [Entry] {
        let result = body.withUnsafeBufferPointer { buffer in
            Result { () throws(DecodingError) in try self.decode(buffer, format: format, receivedAt: receivedAt) }
        }
        return try result.get()
    }
}

/// Decoding of batch request bodies shared by events and catalogue items: a JSON body (an envelope object holding an
/// array, or a bare array) or NDJSON, with one validation result per entry.
public enum BatchBody {
    /// Decodes a batch.
    ///
    /// - Parameters:
    ///   - envelopeKey: The key of the array in a JSON object body (`"events"`); `nil` when the body is the array.
    ///   - noun: What the entries are, for messages (`"events"`, `"items"`).
    ///   - maxEntries: The most entries accepted; more fail the body as too large.
    ///   - validate: Validates one entry.
    public static func decode<T>(
        _ body: UnsafeBufferPointer<UInt8>,
        format: IngestBatchDecoder.Format,
        envelopeKey: String?,
        noun: String,
        maxEntries: Int,
        validate: (JSONValue) -> Result<T, EventValidationError>
    ) throws(IngestBatchDecoder.DecodingError) -> [Result<T, EventValidationError>] {
        switch format {
        case .json:
            try self.decodeJSON(body, envelopeKey: envelopeKey, noun: noun, maxEntries: maxEntries, validate: validate)
        case .ndjson:
            try self.decodeLines(body, noun: noun, maxEntries: maxEntries, validate: validate)
        }
    }

    private static func decodeJSON<T>(
        _ body: UnsafeBufferPointer<UInt8>,
        envelopeKey: String?,
        noun: String,
        maxEntries: Int,
        validate: (JSONValue) -> Result<T, EventValidationError>
    ) throws(IngestBatchDecoder.DecodingError) -> [Result<T, EventValidationError>] {
        var scanner = JSONScanner(body)
        var entries: [Result<T, EventValidationError>]?
        var overLimit = false
        func readArray(_ scanner: inout JSONScanner) throws(JSONSyntaxError) {
            var decoded: [Result<T, EventValidationError>] = []
            try scanner.readArray { scanner, index throws(JSONSyntaxError) in
                let value = try scanner.readValue()
                if index >= maxEntries {
                    overLimit = true
                    return
                }
                decoded.append(validate(value))
            }
            entries = decoded
        }
        do throws(JSONSyntaxError) {
            if let envelopeKey {
                guard scanner.peek() == UInt8(ascii: "{") else {
                    throw scanner.error("expected an object of the form {\"\(envelopeKey)\": [...]}")
                }
                try scanner.readObject { scanner, key throws(JSONSyntaxError) in
                    guard key == envelopeKey else {
                        _ = try scanner.readValue()
                        return
                    }
                    guard entries == nil else { throw scanner.error("\"\(envelopeKey)\" appears more than once") }
                    guard scanner.peek() == UInt8(ascii: "[") else {
                        throw scanner.error("\"\(envelopeKey)\" must be an array")
                    }
                    try readArray(&scanner)
                }
            } else {
                guard scanner.peek() == UInt8(ascii: "[") else {
                    throw scanner.error("expected a JSON array of \(noun)")
                }
                try readArray(&scanner)
            }
            try scanner.expectEnd()
        } catch {
            throw IngestBatchDecoder.DecodingError(isTooLarge: false, description: error.description)
        }
        if overLimit {
            throw IngestBatchDecoder.DecodingError(isTooLarge: true, description: "a batch may hold at most \(maxEntries) \(noun)")
        }
        guard let entries else {
            throw IngestBatchDecoder.DecodingError(
                isTooLarge: false,
                description: "the body must have an \"\(envelopeKey ?? noun)\" array"
            )
        }
        return entries
    }

    private static func decodeLines<T>(
        _ body: UnsafeBufferPointer<UInt8>,
        noun: String,
        maxEntries: Int,
        validate: (JSONValue) -> Result<T, EventValidationError>
    ) throws(IngestBatchDecoder.DecodingError) -> [Result<T, EventValidationError>] {
        var entries: [Result<T, EventValidationError>] = []
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
            guard entries.count < maxEntries else {
                throw IngestBatchDecoder.DecodingError(isTooLarge: true, description: "a batch may hold at most \(maxEntries) \(noun)")
            }
            var scanner = JSONScanner(line)
            do throws(JSONSyntaxError) {
                let value = try scanner.readValue()
                try scanner.expectEnd()
                parsedAny = true
                entries.append(validate(value))
            } catch {
                let message = "line \(lineNumber): invalid JSON at column \(error.column): \(error.message)"
                firstError = firstError ?? message
                entries.append(.failure(EventValidationError(field: nil, message)))
            }
        }
        if !parsedAny, let firstError {
            throw IngestBatchDecoder.DecodingError(isTooLarge: false, description: firstError)
        }
        return entries
    }
}
