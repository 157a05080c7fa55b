/// The layout of Starling's keys in Redis, under one prefix (default `starling:`).
///
/// | Key | Type | Written by | Holds |
/// |---|---|---|---|
/// | `{prefix}user:{user}` | string | processor | ``PublishedUser`` (profile + engine state of the user) |
/// | `{prefix}lists:{user}` | hash | any serving process | one ``SharedList`` per request shape |
/// | `{prefix}session:{session}` | string | processor | the session's recent items (``PublishedSession``) |
/// | `{prefix}model:meta` | string | processor | ``SnapshotManifest`` of the current model snapshot |
/// | `{prefix}model:{generation}:{chunk}` | string | processor | the snapshot's bytes, in chunks |
/// | `{prefix}catalog:changes` | stream | processor | catalogue changes, in the order applied |
/// | `{prefix}ack:{user}` | hash | ingest (log owner) | `topic/partition` → position past the user's latest acknowledged record there |
/// | `{prefix}applied` | stream | processor | the events applied, a write slice per entry (``AppliedSlice``), for API processes' model replicas |
/// | `{prefix}publisher` | string | processor | set when the processor starts publishing every user's state; gone means Redis lost what was published (it restarted empty), so everything is published again |
public struct RedisKeys: Hashable, Sendable {
    public var prefix: String

    public init(prefix: String = "starling:") {
        self.prefix = prefix
    }

    func user(_ user: String) -> String { "\(self.prefix)user:\(user)" }
    func lists(_ user: String) -> String { "\(self.prefix)lists:\(user)" }
    func session(_ session: String) -> String { "\(self.prefix)session:\(session)" }
    var manifest: String { "\(self.prefix)model:meta" }
    func chunk(generation: Int64, index: Int) -> String { "\(self.prefix)model:\(generation):\(index)" }
    var catalogChanges: String { "\(self.prefix)catalog:changes" }
    func acknowledged(_ user: String) -> String { "\(self.prefix)ack:\(user)" }
    var applied: String { "\(self.prefix)applied" }
    var publisher: String { "\(self.prefix)publisher" }
}
