/// Help text for every metric Starling exports, added to the exposition as `# HELP` lines.
///
/// swift-metrics has no notion of help text, so the exporter adds it here; `promtool check metrics` requires it.
/// A test checks that every exported metric has an entry.
public enum MetricsHelp {
    public static let catalog: [String: String] = [
        "starling_http_requests_total": "HTTP requests served, by route, method and status.",
        "starling_http_request_duration_seconds": "Time to produce an HTTP response, by route, method and status.",
        "starling_http_auth_failures_total": "Requests refused by API-key checks, by reason (missing_key, unknown_key, publishable_key, origin, rate_limited).",
        "starling_ingest_events_accepted_total": "Events accepted by ingest and durably appended to the log.",
        "starling_ingest_events_rejected_total": "Events rejected by ingest validation.",
        "starling_ingest_events_duplicate_total": "Events acknowledged as duplicates of an already accepted id.",
        "starling_ingest_events_total":
            "Events of ingest requests, by event type and result (accepted, duplicate, rejected; a rejected event's type is unknown).",
        "starling_ingest_rejected_events_total":
            "Events rejected by ingest validation, by reason: the field at fault, malformed (not an object or an unparsable line) or other.",
        "starling_ingest_refused_requests_total":
            "Ingest requests refused as a whole, nothing of them stored, by reason (overloaded, disk_full, recovering, log_stopped, malformed_body, too_large, unsupported_media_type, unavailable).",
        "starling_log_commit_batch_records": "Records made durable by one group commit (the batch size).",
        "starling_processor_partition_lag_records":
            "Records in a log partition not yet applied by the processor, by topic and partition (read at scrape time).",
        "starling_model_update_duration_seconds":
            "Time the engine took to learn one slice of events (at most 256) under its write lock.",
        "starling_retrains_total": "Full embedding retrains that ended, by result (success, failure).",
        "starling_retrain_last_success_timestamp_seconds": "Unix time at which the latest successful retrain was installed.",
        "starling_cache_invalidations_total":
            "Cached lists found no longer valid or evicted, by layer and reason (user_changed, model_changed, expired, catalog, evicted).",
        "starling_recommendation_duration_seconds":
            "Time to produce a recommendation list in the service, by endpoint (user, session, precompute: background refreshes) and cache result (process_hit, shared_hit, miss, disabled).",
        "starling_role_info": "Always 1; its role label is the process's --role (all, processor, api), for grouping by role.",
        "starling_ready": "1 while the process is ready (GET /ready answers 200), else 0 (read at scrape time).",
        "starling_users": "Users the engine holds (in an API process, those of its model replica).",
        "starling_items": "Items the engine holds (in an API process, those of its model replica).",
        "starling_store_entries": "Entries held in memory, by store (catalog items, cache users, dedup_ids).",
        "starling_memory_bytes": "Estimated bytes held in memory, by store (user_records: users' state, profiles and histories, from a sample of 1,000 users; embeddings: user and item vectors; cooccurrence: items' neighbour lists; user_index: the interned user ids).",
        "process_resident_memory_bytes": "Resident memory of the process in bytes.",
        "starling_data_disk_free_bytes": "Bytes available to Starling on the file system of the data directory.",
        "starling_data_disk_size_bytes": "Size in bytes of the file system of the data directory.",
        "starling_redis_commands_total": "Redis commands and pipelines sent, by connection kind.",
        "starling_redis_command_failures_total":
            "Redis commands and pipelines that failed because Redis was unreachable or did not answer in time, by connection kind.",
        "starling_redis_up": "1 unless the latest Redis command on the connection failed because Redis was unreachable or slow, by connection kind.",
        "starling_log_appended_records_total": "Records appended to the embedded event log.",
        "starling_log_append_duration_seconds": "Time from an append call to its durable acknowledgement.",
        "starling_log_sync_duration_seconds": "Time the log writer spent writing and syncing one group commit.",
        "starling_log_commit_batch_bytes": "Bytes written by one group commit.",
        "starling_log_storage_failures_total":
            "Failed writes or fsyncs of the event log; after one the log acknowledges nothing until restarted.",
        "starling_log_disk_full_refused_appends_total":
            "Appends the event log refused because a write found the disk full; nothing of them was stored (HTTP 507).",
        "starling_log_retention_held_segments":
            "Sealed segments retention would delete but the processor has not checkpointed yet (last pass).",
        "starling_log_quarantined_bytes_total": "Damaged log bytes recovery moved to the quarantine directory.",
        "starling_log_lost_records_total": "Damaged or missing log records recovery could not restore.",
        "starling_log_repaired_records_total": "Damaged or missing log records recovery restored from the journal.",
        "starling_kafka_appended_records_total":
            "Records appended to the Kafka event log and acknowledged by the brokers (--kafka).",
        "starling_kafka_append_duration_seconds":
            "Time from an append to the Kafka event log until the brokers acknowledged every record of it.",
        "starling_kafka_delivery_failures_total":
            "Records the Kafka brokers refused or did not acknowledge in time; their appends failed (HTTP 503).",
        "starling_processor_events_applied_total": "Events applied to profiles and models by the stream processor.",
        "starling_processor_duplicates_skipped_total": "Events skipped by the processor because their id was applied.",
        "starling_processor_undecodable_records_total": "Log records the processor could not decode.",
        "starling_processor_lag_records":
            "Records in the log not yet applied by the processor (consumer lag), summed over partitions.",
        "starling_processor_checkpoint_ahead_of_log_records_total":
            "Records a restored checkpoint had applied beyond the end of the recovered log.",
        "starling_processor_missing_records_total":
            "Log offsets skipped before the processor applied them (lost to damage or deleted).",
        "starling_freshness_seconds":
            "Time from an event's append to the log until its effect is visible to serving (includes the durable write).",
        "starling_checkpoint_duration_seconds": "Time to write one processor checkpoint.",
        "starling_checkpoint_failures_total": "Processor checkpoints that failed to write.",
        "starling_dedup_evicted_ids_total":
            "Applied event ids forgotten before their retention ended because --dedup-max-ids was reached.",
        "starling_retrain_duration_seconds": "Time of one full embedding retrain, from snapshot to hot swap.",
        "starling_model_version": "Version of the retrained embeddings in use (0 until the first full retrain).",
        "starling_cache_requests_total":
            "Recommendation cache lookups, by layer (process or shared) and result (hit, miss, or error: the shared store was unreachable).",
        "starling_read_your_writes_timeouts_total":
            "Requests served after waiting the longest allowed for the user's acknowledged events to be applied (the response says fresh: false).",
        "starling_applied_stream_entries_total": "Entries of the applied-event stream an API process replayed into its model replica.",
        "starling_applied_stream_gaps_total":
            "Times an API process found events missing from the applied-event stream (trimmed before it read them); its replica lacks them until the next snapshot.",
        "starling_redis_acknowledgement_failures_total":
            "Ingest batches whose acknowledged positions could not be written to Redis (API processes may then serve lists without those events).",
        "starling_redis_applied_dropped_total":
            "Applied events dropped from the queue for Redis while it was unreachable (API processes' replicas resynchronise from the next snapshot).",
        "starling_precompute_refreshes_total": "Cached lists of recently active users refreshed in the background.",
        "starling_precompute_queued_users": "Recently active users waiting for their cached lists to be refreshed.",
        "starling_redis_published_total": "Users' serving states written to Redis for API processes.",
        "starling_redis_publish_failures_total": "Attempts to write serving state to Redis that failed (retried).",
        "starling_redis_queue_dropped_total":
            "Queued users' states, sessions and catalogue changes dropped to stay within the queue's bounds while Redis was unreachable (published again from the engine, or with the next snapshot).",
        "starling_redis_republishes_total":
            "Times every user's and session's state was published to Redis again (Redis lost it, or queued state was dropped).",
        "starling_redis_republished_users_total": "Users' states written to Redis by republishes.",
        "starling_snapshot_exports_total": "Model snapshots published to Redis.",
        "starling_snapshot_export_failures_total": "Model snapshot exports to Redis that failed.",
        "starling_snapshot_export_duration_seconds": "Time to publish one model snapshot to Redis.",
        "starling_snapshot_loads_total": "Model snapshots loaded from Redis by an API process.",
        "starling_snapshot_bytes": "Size of the latest model snapshot published to Redis.",
    ]

    /// Inserts a `# HELP` line before each `# TYPE` line whose metric is in ``catalog``.
    public static func annotate(_ exposition: String) -> String {
        var output = ""
        output.reserveCapacity(exposition.utf8.count + 4_096)
        for line in exposition.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("# TYPE ") {
                let name = line.dropFirst(7).split(separator: " ").first.map(String.init) ?? ""
                if let help = catalog[name] {
                    output += "# HELP \(name) \(help)\n"
                }
            }
            output += line
            output += "\n"
        }
        if output.hasSuffix("\n\n") { output.removeLast() }
        return output
    }
}
