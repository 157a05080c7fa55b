#!/usr/bin/env bash
# Restart to ready from a checkpoint: ingests EVENTS synthetic events over HTTP into a fresh `starling serve`
# (release, embedded defaults), waits until the processor applied them all, stops the server with SIGTERM (which
# writes its final checkpoint), starts it again on the same data directory and times it until /ready answers 200.
# Also prints the checkpoint's size and the server's resident memory before the stop.
# Usage: scripts/bench/restart.sh [events] [users] [items]
set -euo pipefail
cd "$(dirname "$0")/../.."
EVENTS=${1:-10000000}
USERS=${2:-1000000}
ITEMS=${3:-100000}
PORT=${PORT:-18097}
command -v wrk >/dev/null || { echo "missing wrk: apt-get install wrk" >&2; exit 1; }
swift build -c release --product starling >/dev/null
swift build -c release --product starling-bench >/dev/null
BIN=.build/release
WORK=$(mktemp -d /tmp/starling-restart.XXXXXX)
cleanup() { kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

counter() { curl -s "localhost:$PORT/metrics" | awk -v name="$1" '$1 ~ "^"name { total += $NF } END { printf "%d\n", total }'; }
wait_ready() { until curl -sf "localhost:$PORT/ready" >/dev/null; do sleep 0.05; done; }

$BIN/starling-bench generate --batches 5000 --batch 100 --users "$USERS" --items "$ITEMS" > "$WORK/bodies.ndjson"
$BIN/starling serve --port "$PORT" --data-dir "$WORK/data" --log-level warning &
SERVER=$!
wait_ready
BODY_FILE="$WORK/bodies.ndjson" wrk -t2 -c32 -d3600s -s scripts/bench/post-batches.lua "http://127.0.0.1:$PORT" >/dev/null &
WRK=$!
while [ "$(counter starling_ingest_events_accepted_total)" -lt "$EVENTS" ]; do sleep 1; done
kill $WRK; wait $WRK 2>/dev/null || true
until [ "$(counter starling_processor_lag_records)" -eq 0 ]; do sleep 0.5; done
echo "events in the log: $(counter starling_ingest_events_accepted_total) (users=$USERS items=$ITEMS)"
echo "resident memory before the stop: $(ps -o rss= -p $SERVER | awk '{printf "%.0f MiB", $1 / 1024}')"
stop_start=$(date +%s.%N)
kill -TERM $SERVER; wait $SERVER || true
echo "stop (final checkpoint) took $(echo "$(date +%s.%N) - $stop_start" | bc | cut -c1-5) s"
ls -l "$WORK/data/checkpoints" | awk 'NR > 1 { printf "checkpoint file %s: %.0f MiB\n", $NF, $5 / 1048576 }'
start=$(date +%s.%N)
$BIN/starling serve --port "$PORT" --data-dir "$WORK/data" --log-level warning &
SERVER=$!
wait_ready
echo "restart to ready: $(echo "$(date +%s.%N) - $start" | bc | cut -c1-5) s"
echo "resident memory after the restart: $(ps -o rss= -p $SERVER | awk '{printf "%.0f MiB", $1 / 1024}')"
