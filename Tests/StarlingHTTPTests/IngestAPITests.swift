import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import StarlingCore
import StarlingEventLog
import StarlingStream
import StarlingTestSupport
import Testing

struct IngestAPITests {
    @Test func validEventsOfABatchAreKeptAndBadOnesNamed() async throws {
        try await APIFixture().run { client, processor in
            let response = try await client.postEvents(
                """
                {"events": [
                  {"type": "view", "user": "u1", "item": "i1"},
                  {"type": "rating", "user": "u1", "item": "i2", "value": 7},
                  {"type": "view", "item": "i3"},
                  {"type": "click", "user": "u2", "item": "i4", "timestamp": "2024-05-01T10:00:00Z"},
                  {"type": "view", "user": "u3", "item": "i5", "context": {"page": {"nested": 1}}}
                ]}
                """
            )
            #expect(response.status == .ok)
            let json = try response.json
            #expect(json["accepted"]?.int == 2)
            #expect(json["duplicates"]?.int == 0)
            let rejected = try #require(json["rejected"]?.array)
            #expect(rejected.map { $0["index"]?.int } == [1, 2, 4])
            #expect(rejected[0]["error"]?.string?.hasPrefix("value:") == true)
            #expect(rejected[1]["error"]?.string == "user: is required")
            #expect(rejected[2]["error"]?.string?.hasPrefix("context.page:") == true)
            try await eventually("2 applied") { processor.appliedCount == 2 }
        }
    }

    @Test func ndjsonBodiesAreAcceptedLineByLine() async throws {
        try await APIFixture().run { client, _ in
            let response = try await client.postEvents(
                "{\"type\":\"view\",\"user\":\"u\",\"item\":\"a\"}\n\n{not json}\n{\"type\":\"like\",\"user\":\"u\",\"item\":\"b\"}\n",
                contentType: "application/x-ndjson"
            )
            #expect(response.status == .ok)
            let json = try response.json
            #expect(json["accepted"]?.int == 2)
            let rejected = try #require(json["rejected"]?.array)
            #expect(rejected.count == 1)
            #expect(rejected[0]["index"]?.int == 1)
            #expect(rejected[0]["error"]?.string?.contains("line 3") == true)
        }
    }

    @Test func duplicateIdsAreAcknowledgedButNotAppendedAgain() async throws {
        try await APIFixture().run { client, processor in
            let body = #"{"events":[{"type":"like","user":"u","item":"a","id":"e-1"},{"type":"like","user":"u","item":"a","id":"e-1"}]}"#
            let first = try await client.postEvents(body).json
            #expect(first["accepted"]?.int == 1)
            #expect(first["duplicates"]?.int == 1)
            let second = try await client.postEvents(body).json
            #expect(second["accepted"]?.int == 0)
            #expect(second["duplicates"]?.int == 2)
            try await eventually("applied") { processor.appliedCount == 1 }
            try await Task.sleep(for: .milliseconds(50))
            #expect(processor.profiles.profile(for: "u")?.version == 1)
        }
    }

    @Test(
        arguments: [
            ("{\"events\": [", "line 1, column 13"),
            ("{\"events\": [{\"type\": \"view\",}]}", "line 1, column 29"),
            ("[1, 2]", "expected an object"),
            ("{\"something\": 1}", "\"events\" array"),
            ("", "expected an object"),
        ]
    )
    func unparseableBodiesAre400WithWhereTheyFailed(body: String, expected: String) async throws {
        try await APIFixture().run { client, _ in
            let response = try await client.postEvents(body)
            #expect(response.status == .badRequest)
            let message = try #require(try response.json["error"]?.string)
            #expect(message.contains(expected), "\(message)")
        }
    }

    @Test func bodiesOverTheLimitAre413() async throws {
        try await APIFixture(maxBodyBytes: 256).run { client, _ in
            let events = (0..<20).map { #"{"type":"view","user":"u\#($0)","item":"i"}"# }.joined(separator: ",")
            let response = try await client.postEvents("{\"events\":[\(events)]}")
            #expect(response.status == .contentTooLarge)
            #expect(try response.json["error"]?.string?.contains("256 bytes") == true)
        }
    }

    @Test func batchesWithTooManyEventsAre413() async throws {
        try await APIFixture(maxEvents: 3).run { client, _ in
            let events = (0..<4).map { #"{"type":"view","user":"u","item":"i\#($0)"}"# }.joined(separator: ",")
            let response = try await client.postEvents("{\"events\":[\(events)]}")
            #expect(response.status == .contentTooLarge)
            #expect(try response.json["error"]?.string?.contains("at most 3 events") == true)
        }
    }

    @Test func aBeaconsTextPlainBodyIsTakenAsAJSONEnvelope() async throws {
        try await APIFixture().run { client, processor in
            let response = try await client.execute(
                uri: "/v1/events",
                method: .post,
                headers: [.contentType: "text/plain;charset=UTF-8"],
                body: ByteBuffer(string: #"{"events":[{"type":"view","user":"beacon","item":"i","id":"b-1"}]}"#)
            )
            #expect(response.status == .ok)
            #expect(try response.json["accepted"]?.int == 1)
            try await eventually("the beacon's event applied") { processor.appliedCount == 1 }
            let catalogue = try await client.execute(
                uri: "/v1/items",
                method: .post,
                headers: [.contentType: "text/plain"],
                body: ByteBuffer(string: #"[{"id": "i"}]"#)
            )
            #expect(catalogue.status == .unsupportedMediaType, "only ingest takes beacons")
        }
    }

    @Test(arguments: ["text/html", "application/x-www-form-urlencoded", nil])
    func unsupportedContentTypesAre415(contentType: String?) async throws {
        try await APIFixture().run { client, _ in
            var headers: HTTPFields = [:]
            if let contentType { headers[.contentType] = contentType }
            let response = try await client.execute(
                uri: "/v1/events",
                method: .post,
                headers: headers,
                body: ByteBuffer(string: #"{"events":[]}"#)
            )
            #expect(response.status == .unsupportedMediaType)
            #expect(try response.json["error"]?.string?.contains("application/json") == true)
        }
    }

    @Test func aLogThatCannotKeepUpAnswers503WithRetryAfter() async throws {
        try await APIFixture(maxPendingBytes: 1).run { client, _ in
            let response = try await client.postEvents(#"{"events":[{"type":"view","user":"u","item":"i"}]}"#)
            #expect(response.status == .serviceUnavailable)
            #expect(response.headers[.retryAfter] == "1")
            #expect(try response.json["error"]?.string?.contains("not keeping up") == true)
        }
    }

    @Test func ingestIsClosedWhileRecovering() async throws {
        try await APIFixture(forceRecovering: true).run { client, _ in
            let response = try await client.postEvents(#"{"events":[{"type":"view","user":"u","item":"i"}]}"#)
            #expect(response.status == .serviceUnavailable)
            #expect(response.headers[.retryAfter] == "1")
            let (status, ready) = try await client.getJSON("/ready")
            #expect(status == .serviceUnavailable)
            #expect(ready["status"]?.string == "recovering")
        }
    }
}
