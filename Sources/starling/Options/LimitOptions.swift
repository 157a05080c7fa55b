import ArgumentParser

/// The options of `starling serve` that bound what ingest keeps and accepts: how long event ids are remembered and
/// how large a request body may be.
struct LimitOptions: ParsableArguments {
    @Option(name: .customLong("dedup-hours"), help: "How long event ids are remembered for de-duplication, in hours.")
    var deduplicationHours = 24

    @Option(
        name: .customLong("dedup-max-ids"),
        help: "Most event ids remembered for de-duplication (about 90 bytes each); the oldest applied go first."
    )
    var deduplicationMaxIDs = 5_000_000

    @Option(name: .customLong("max-body-mb"), help: "Largest accepted request body in MiB.")
    var maxBodyMegabytes = 16

    func validate() throws {
        guard self.deduplicationMaxIDs > 0 else { throw ValidationError("--dedup-max-ids must be positive") }
    }
}
