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

    /// A full disk is not a failed `fsync`: the batch whose write found no space is answered 507 with `Retry-After`,
    /// nothing of it is applied, reads go on, `/ready` says why but stays ready, and the next batch is taken as soon
    /// as the write succeeds again — no restart.
    @Test func aFullDiskRefusesTheBatchWith507AndIngestResumesWhenSpaceReturns() async throws {
        let faults = FileWriteFaults()
        var fixture = APIFixture()
        fixture.writeFaults = faults
        try await fixture.run { client, processor in
            #expect(try await client.postEvents(#"{"events":[{"type":"view","user":"u","item":"a"}]}"#).status == .ok)

            faults.failNext(afterWriting: 9, where: { $0.hasSuffix(".journal") })
            let refused = try await client.postEvents(#"{"events":[{"type":"view","user":"u","item":"b","id":"e-b"}]}"#)
            #expect(refused.status.code == 507)
            #expect(refused.headers[.retryAfter] == "5")
            let message = try #require(try refused.json["error"]?.string)
            #expect(message.contains("disk") && message.contains("full"), "\(message)")

            // The process is healthy and ready (reads are served); /ready names the condition.
            #expect(try await client.getJSON("/health").0 == .ok)
            let (ready, readyBody) = try await client.getJSON("/ready")
            #expect(ready == .ok)
            #expect(readyBody["disk_full"]?.string?.contains("full") == true, "\(readyBody)")
            let (profileStatus, profile) = try await client.getJSON("/v1/users/u")
            #expect(profileStatus == .ok)
            #expect(profile["event_count"]?.int == 1)

            // Space is back: the retried batch is accepted (its id was not taken by the refusal) and applied once.
            let retried = try await client.postEvents(#"{"events":[{"type":"view","user":"u","item":"b","id":"e-b"}]}"#)
            #expect(retried.status == .ok)
            #expect(try retried.json["accepted"]?.int == 1)
            #expect(try await client.getJSON("/ready").1["disk_full"] == nil)
            try await eventually("both acknowledged events applied") { processor.appliedCount >= 2 }
            let (_, after) = try await client.getJSON("/v1/users/u")
            #expect(after["event_count"]?.int == 2)
        }
    }

    /// Catalogue changes go through the same log: 507 while the disk is full, stored once it is not.
    @Test func aCatalogueChangeRefusedForAFullDiskIs507AndTheRetryIsStored() async throws {
        let faults = FileWriteFaults()
        var fixture = APIFixture()
        fixture.writeFaults = faults
        try await fixture.run { client, processor in
            faults.failNext(where: { $0.hasSuffix(".journal") })
            let refused = try await client.sendJSON(.put, "/v1/items/book-1", #"{"category":"books"}"#)
            #expect(refused.status.code == 507)
            #expect(refused.headers[.retryAfter] == "5")
            #expect(try refused.json["error"]?.string?.contains("full") == true)
            #expect(try await client.getJSON("/v1/items/book-1").0 == .notFound)

            let stored = try await client.sendJSON(.put, "/v1/items/book-1", #"{"category":"books"}"#)
            #expect(stored.status == .ok)
            try await eventually("the entry applied") { try await client.getJSON("/v1/items/book-1").0 == .ok }
        }
    }
}
