import Foundation
import Logging
import StarlingServer
import Synchronization
import Testing

struct JSONLogHandlerTests {
    private final class Lines: Sendable {
        let lines = Mutex<[[UInt8]]>([])
        var all: [[UInt8]] { self.lines.withLock { $0 } }
    }

    private static func logger(_ lines: Lines) -> Logger {
        var logger = Logger(label: "starling.json") { label in
            JSONLogHandler(label: label) { line in lines.lines.withLock { $0.append(line) } }
        }
        logger.logLevel = .trace
        logger[metadataKey: "trace.id"] = "4bf92f3577b34da6a3ce929d0e0e4736"
        return logger
    }

    @Test func everyLineIsOneJSONObjectWithTheFiveFields() throws {
        let lines = Lines()
        let logger = Self.logger(lines)
        logger.info("plain")
        logger.warning("two\nlines \"quoted\" \u{1}", metadata: ["starling.count": "3", "list": ["a", "b"], "nested": ["k": "v"]])
        logger.trace("with a convertible", metadata: ["number": .stringConvertible(42)])

        let written = lines.all
        #expect(written.count == 3)
        var parsed: [[String: Any]] = []
        for line in written {
            #expect(line.last == UInt8(ascii: "\n"))
            #expect(line.dropLast().contains(UInt8(ascii: "\n")) == false, "one line per entry")
            let object = try JSONSerialization.jsonObject(with: Data(line))
            parsed.append(try #require(object as? [String: Any]))
        }
        for object in parsed {
            let timestamp = try #require(object["timestamp"] as? String)
            #expect(timestamp.count == 24 && timestamp.hasSuffix("Z"), "RFC 3339 with milliseconds: \(timestamp)")
            #expect(object["label"] as? String == "starling.json")
            let metadata = try #require(object["metadata"] as? [String: Any])
            #expect(metadata["trace.id"] as? String == "4bf92f3577b34da6a3ce929d0e0e4736")
        }
        #expect(parsed[0]["level"] as? String == "info")
        #expect(parsed[0]["message"] as? String == "plain")
        #expect(parsed[1]["message"] as? String == "two\nlines \"quoted\" \u{1}")
        let metadata = try #require(parsed[1]["metadata"] as? [String: Any])
        #expect(metadata["starling.count"] as? String == "3")
        #expect(metadata["list"] as? [String] == ["a", "b"])
        #expect((metadata["nested"] as? [String: String]) == ["k": "v"])
        #expect(parsed[2]["level"] as? String == "trace")
        #expect((parsed[2]["metadata"] as? [String: Any])?["number"] as? String == "42")
    }

    @Test func levelsBelowTheHandlersAreNotWritten() {
        let lines = Lines()
        var logger = Self.logger(lines)
        logger.logLevel = .info
        logger.debug("dropped")
        logger.error("kept")
        #expect(lines.all.count == 1)
    }
}
