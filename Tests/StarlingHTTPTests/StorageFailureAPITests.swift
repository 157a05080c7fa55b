import HTTPTypes
import Hummingbird
import HummingbirdTesting
import StarlingCore
import StarlingEventLog
import StarlingStream
import StarlingTestSupport
import Testing

/// Issue 9, part 3: after a failed `fsync` the server acknowledges nothing more, and says so — on ingest, on
/// `/health` and on `/ready` — instead of answering "retry later" while it can no longer promise durability.
struct StorageFailureAPITests {
    @Test func afterAFailedFsyncIngestIsRefusedAndHealthSaysWhy() async throws {
        let faults = FileSyncFaults()
        var fixture = APIFixture()
        fixture.syncFaults = faults
        try await fixture.run { client, processor in
            let event = #"{"events":[{"type":"view","user":"u","item":"a"}]}"#
            #expect(try await client.postEvents(event).status == .ok)
            #expect(try await client.getJSON("/health").0 == .ok)

            // The journal's next sync fails: that batch is not acknowledged…
            faults.failNext(where: { $0.hasSuffix(".journal") })
            let failed = try await client.postEvents(event)
            #expect(failed.status == .serviceUnavailable)
            // …and neither is anything after it, though the disk would now "accept" a sync again.
            let refused = try await client.postEvents(event)
            #expect(refused.status == .serviceUnavailable)
            #expect(refused.headers[.retryAfter] == nil)
            let message = try #require(try refused.json["error"]?.string)
            #expect(message.contains("fsync"), "\(message)")
            #expect(message.contains("restarted"), "\(message)")

            let (health, healthBody) = try await client.getJSON("/health")
            #expect(health == .serviceUnavailable)
            #expect(healthBody["status"]?.string == "failed")
            #expect(healthBody["error"]?.string?.contains("fsync") == true)
            let (ready, readyBody) = try await client.getJSON("/ready")
            #expect(ready == .serviceUnavailable)
            #expect(readyBody["status"]?.string == "failed")
            // The acknowledged event was applied; the refused ones were not.
            try await eventually("the acknowledged event applied") { processor.appliedCount >= 1 }
        }
    }
}
