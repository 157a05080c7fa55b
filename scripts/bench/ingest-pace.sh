#!/usr/bin/env bash
# Does the processor keep pace with HTTP ingest? Starts `starling serve` (release, embedded defaults), posts
# synthetic batches of 100 events with wrk for the given time, and samples the server's own counters every 5 s:
# events accepted (acknowledged) and applied per second over each interval, and the processor's lag in records.
# Usage: [SERVE_ARGS="--max-lag 0"] scripts/bench/ingest-pace.sh [seconds] [connections] [users] [items]
set -euo pipefail
cd "$(dirname "$0")/../.."
SECONDS_TOTAL=${1:-60}
CONNECTIONS=${2:-64}
USERS=${3:-5000}
ITEMS=${4:-20000}
PORT=${PORT:-18090}
command -v wrk >/dev/null || { echo "missing wrk: apt-get install wrk" >&2; exit 1; }
swift build -c release --product starling >/dev/null
swift build -c release --product starling-bench >/dev/null
BIN=.build/release
WORK=$(mktemp -d /tmp/starling-pace.XXXXXX)
cleanup() { kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

$BIN/starling-bench generate --batches 2000 --batch 100 --users "$USERS" --items "$ITEMS" > "$WORK/bodies.ndjson"
$BIN/starling serve --port "$PORT" --data-dir "$WORK/data" --log-level warning ${SERVE_ARGS:-} &
for _ in $(seq 300); do curl -sf "localhost:$PORT/ready" >/dev/null && break; sleep 0.1; done

counters() {
  curl -s "localhost:$PORT/metrics" | awk '
    /^starling_ingest_events_accepted_total/ { accepted += $NF }
    /^starling_processor_events_applied_total/ { applied += $NF }
    /^starling_processor_lag_records/ { lag = $NF }
    END { printf "%d %d %d\n", accepted, applied, lag }'
}

echo "users=$USERS items=$ITEMS connections=$CONNECTIONS seconds=$SECONDS_TOTAL ($(nproc) cores)"
BODY_FILE="$WORK/bodies.ndjson" wrk -t2 -c"$CONNECTIONS" -d"${SECONDS_TOTAL}s" -s scripts/bench/post-batches.lua \
  "http://127.0.0.1:$PORT" > "$WORK/wrk.txt" &
WRK=$!
read -r accepted0 applied0 _ < <(counters)
start=$(date +%s.%N)
previous=$start
while kill -0 $WRK 2>/dev/null; do
  sleep 5
  read -r accepted applied lag < <(counters)
  now=$(date +%s.%N)
  awk -v t="$(echo "$now - $start" | bc)" -v dt="$(echo "$now - $previous" | bc)" \
    -v a="$((accepted - accepted0))" -v p="$((applied - applied0))" -v lag="$lag" \
    'BEGIN { printf "t=%5.1fs accepted/s=%8.0f applied/s=%8.0f lag_records=%d\n", t, a / dt, p / dt, lag }'
  accepted0=$accepted; applied0=$applied; previous=$now
done
wait $WRK || true
grep -E "Requests/sec|Latency|Non-2xx|requests in" "$WORK/wrk.txt"
read -r accepted applied lag < <(counters)
echo "total accepted=$accepted applied=$applied lag_records_at_end_of_ingest=$lag"
# How long the processor needs to drain what is left.
drain_start=$(date +%s.%N)
while [ "$lag" -gt 0 ]; do sleep 0.5; read -r accepted applied lag < <(counters); done
echo "drained in $(echo "$(date +%s.%N) - $drain_start" | bc | cut -c1-5) s"
