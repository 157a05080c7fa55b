#!/usr/bin/env bash
# Issue 8's mixed workload: 90 % list reads spread over 10,000 users, 10 % single events, with the cache on (the
# default) and off, alternated. Reports requests/s and latency from wrk and the cache hit ratio from /metrics.
# Needs wrk (apt-get install wrk). Usage: scripts/bench/mixed.sh [seconds-per-run]
set -euo pipefail
cd "$(dirname "$0")/../.."
SECONDS_PER_RUN=${1:-10}
command -v wrk >/dev/null || { echo "missing wrk: apt-get install wrk" >&2; exit 1; }
swift build -c release --product starling >/dev/null
swift build -c release --product starling-bench >/dev/null
BIN=.build/release
WORK=$(mktemp -d /tmp/starling-bench.XXXXXX)
PORT=18083
cleanup() { kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

wait_ready() { for _ in $(seq 600); do curl -sf localhost:$PORT/ready >/dev/null && return; sleep 0.1; done; }
wait_applied() {
  for _ in $(seq 600); do
    [ "$(curl -s localhost:$PORT/metrics | awk '/^starling_processor_lag_records/ {print $2}')" = "0.0" ] && return
    sleep 0.1
  done
}
counter() { curl -s localhost:$PORT/metrics | awk -v name="$1" '$1 == name {print $2}'; }

echo "## mixed workload: seeding 20,000 events (10,000 users, 5,000 items)"
$BIN/starling-bench generate --batches 200 --batch 100 --users 10000 --items 5000 > "$WORK/bodies.ndjson"
$BIN/starling serve --port $PORT --data-dir "$WORK/data" --log-level warning &
SPID=$!
wait_ready
while read -r line; do
  curl -sf -X POST localhost:$PORT/v1/events -H 'Content-Type: application/json' --data-binary "$line" >/dev/null
done < "$WORK/bodies.ndjson"
wait_applied
kill $SPID; wait $SPID 2>/dev/null || true

for round in 1 2; do
  for mode in on off; do
    if [ $mode = on ]; then args=(); else args=(--cache-ttl-seconds 0); fi
    $BIN/starling serve --port $PORT --data-dir "$WORK/data" --log-level warning "${args[@]}" &
    SPID=$!
    wait_ready
    wait_applied
    hit='starling_cache_requests_total{layer="process",result="hit"}'
    miss='starling_cache_requests_total{layer="process",result="miss"}'
    printf "round $round cache $mode: "
    USERS=10000 ITEMS=5000 WRITES=0.1 wrk -t2 -c32 -d"${SECONDS_PER_RUN}s" --latency -s scripts/bench/mixed.lua \
      http://127.0.0.1:$PORT | grep -E "Requests/sec|^ +(50|99)%|Non-2xx" | tr -s ' ' | tr '\n' ' '
    hits=$(counter "$hit"); misses=$(counter "$miss")
    stale=$(counter starling_read_your_writes_timeouts_total)
    echo "cache hits ${hits:-0} misses ${misses:-0} read-your-writes timeouts ${stale:-0}"
    kill $SPID; wait $SPID 2>/dev/null || true
  done
done
