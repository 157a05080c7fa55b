#!/usr/bin/env bash
# Overload at twice the sustainable rate (issue 9, part 3; docs/reliability.md, "Staged faults", "Overload").
#
# 1. The sustainable rate: a release server with default settings (flow control on, --max-lag 5000), wrk posting
#    batches of 100 events on 64 connections for MEASURE_SECONDS (default 30); the rate the processor applied over
#    the run (after 5 s of warm-up) is what the server sustains.
# 2. A fresh server, offered twice that rate open loop (scripts/faults/overload-driver.py: a batch of BATCH events,
#    default 500, every BATCH/rate s whatever the answers, on up to 2,048 connections) for SECONDS (default 60),
#    while its resident memory and lag are sampled every second and /ready, a profile and a list are read every
#    100 ms. Every 503 must carry Retry-After and a JSON error.
# 3. After the load: every refused batch retried until acknowledged, the processor's lag back to 0, every user's
#    event_count compared with the ledger of acknowledged batches (0 lost, 0 applied twice).
#
# Usage: scripts/faults/overload.sh [BINARY_DIR] [SECONDS]
#   BINARY_DIR holds starling and starling-bench (default: .build/release, built first).
#   RATE=events/s skips step 1 and offers that rate; BATCH=events per batch of step 2 (default 500); IDS=0 sends
#   events without ids (the server's index of ids, 24 h of them, then stays out of the memory figures).
#   SERVE_ARGS="…" adds options to both servers (e.g. "--dedup-max-ids 1000000").
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${1:-}
SECONDS_TOTAL=${2:-60}
MEASURE_SECONDS=${MEASURE_SECONDS:-30}
PORT=${PORT:-18095}
command -v wrk >/dev/null || { echo "missing wrk: apt-get install wrk" >&2; exit 1; }
if [ -z "$BIN" ]; then
  swift build -c release --product starling >/dev/null
  swift build -c release --product starling-bench >/dev/null
  BIN=.build/release
fi
WORK=$(mktemp -d /tmp/starling-overload.XXXXXX)
SPID=
stop_server() { [ -n "$SPID" ] && { kill "$SPID" 2>/dev/null || true; wait "$SPID" 2>/dev/null || true; }; SPID=; }
cleanup() { stop_server; rm -rf "$WORK"; }
trap cleanup EXIT

start_server() {
  rm -rf "$WORK/data"
  # shellcheck disable=SC2086 # SERVE_ARGS is a list of options
  "$BIN/starling" serve --port "$PORT" --data-dir "$WORK/data" --log-level warning ${SERVE_ARGS:-} "$@" &
  SPID=$!
  until curl -sf "localhost:$PORT/ready" >/dev/null; do
    kill -0 "$SPID" 2>/dev/null || { echo "the server exited" >&2; exit 1; }
    sleep 0.1
  done
}
applied() { curl -s "localhost:$PORT/metrics" | awk '/^starling_processor_events_applied_total/ { n += $NF } END { printf "%d", n }'; }

echo "$(nproc) cores; binary $BIN/starling; $(date -u +%FT%TZ)"
"$BIN/starling-bench" generate --batches 2000 --batch 100 --users 5000 --items 20000 > "$WORK/bodies.ndjson"
"$BIN/starling-bench" generate --batches 400 --batch "${BATCH:-500}" --users 5000 --items 20000 --seed 11 > "$WORK/overload.ndjson"
if [ -z "${RATE:-}" ]; then
  echo "## 1. sustainable rate: wrk, 64 connections, batches of 100, ${MEASURE_SECONDS} s, default flow control"
  start_server
  BODY_FILE="$WORK/bodies.ndjson" wrk -t2 -c64 -d"${MEASURE_SECONDS}s" -s scripts/bench/post-batches.lua \
    "http://127.0.0.1:$PORT" > "$WORK/wrk.txt" &
  WRK=$!
  sleep 5
  a0=$(applied); t0=$(date +%s.%N)
  wait $WRK || true
  a1=$(applied); t1=$(date +%s.%N)
  grep -E "Requests/sec|Non-2xx" "$WORK/wrk.txt" || true
  SUSTAINED=$(echo "($a1 - $a0) / ($t1 - $t0)" | bc)
  echo "applied: $SUSTAINED events/s"
  stop_server
  RATE=$((SUSTAINED * 2))
fi
echo "## 2. overload: $RATE events/s offered for ${SECONDS_TOTAL} s"
start_server
python3 scripts/faults/overload-driver.py --port "$PORT" --pid "$SPID" --templates "$WORK/overload.ndjson" \
  --rate "$RATE" --seconds "$SECONDS_TOTAL" $([ "${IDS:-1}" = 0 ] && echo --no-ids)
