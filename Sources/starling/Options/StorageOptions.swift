import ArgumentParser

/// The options of `starling serve` for what it keeps on disk: the embedded event log and the processor's
/// checkpoints.
struct StorageOptions: ParsableArguments {
    @Option(name: .customLong("data-dir"), help: "Where the event log and checkpoints are kept.")
    var dataDirectory = "./starling-data"

    @Option(
        help: ArgumentHelp(
            "fsync: acknowledge events only after they are on stable storage (group commit). buffered: acknowledge once in the OS buffers; survives a process crash but may lose the last moments on power loss.",
            valueName: "fsync|buffered"
        )
    )
    var durability = "fsync"

    @Option(help: "Partitions per topic for a new log (an existing log keeps its count).")
    var partitions = 4

    @Option(name: .customLong("segment-mb"), help: "Segment size in MiB.")
    var segmentMegabytes = 64

    @Option(name: .customLong("retention-mb"), help: "Retained log size per partition in MiB.")
    var retentionMegabytes = 1_024

    @Option(name: .customLong("retention-hours"), help: "Retained log age in hours.")
    var retentionHours = 168

    @Option(name: .customLong("checkpoint-seconds"), help: "Seconds between processor checkpoints.")
    var checkpointSeconds = 30

    func validate() throws {
        guard ["fsync", "buffered"].contains(self.durability) else {
            throw ValidationError("--durability must be fsync or buffered")
        }
        guard self.partitions >= 1, self.partitions <= 1_024 else {
            throw ValidationError("--partitions must be from 1 to 1024")
        }
        guard self.segmentMegabytes >= 1, self.retentionMegabytes >= 1, self.retentionHours >= 1 else {
            throw ValidationError("--segment-mb, --retention-mb and --retention-hours must be positive")
        }
        guard self.checkpointSeconds >= 1 else { throw ValidationError("--checkpoint-seconds must be positive") }
    }
}
