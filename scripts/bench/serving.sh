#!/usr/bin/env bash
# Serving benchmarks of issue 4 on a 100k-item catalogue: recommendations computed live, then cached.
# Needs wrk (apt-get install wrk). Usage: scripts/bench/serving.sh [seconds-per-run]
set -euo pipefail
cd "$(dirname "$0")/../.."
SECONDS_PER_RUN=${1:-10}
command -v wrk >/dev/null || { echo "missing wrk: apt-get install wrk" >&2; exit 1; }
swift build -c release --product starling >/dev/null
swift build -c release --product starling-bench >/dev/null
BIN=.build/release
WORK=$(mktemp -d /tmp/starling-bench.XXXXXX)
cleanup() { kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

echo "## 5. a 100k-item catalogue: recommendations computed live, then cached (wrk)"
$BIN/starling-bench generate --batches 5000 --batch 100 --users 50000 --items 100000 --zipf 0.5 > "$WORK/bodies-100k.ndjson"
$BIN/starling serve --port 18082 --data-dir "$WORK/data-100k" --cache-ttl-seconds 0 --log-level warning &
SPID=$!
for _ in $(seq 100); do curl -sf localhost:18082/ready >/dev/null && break; sleep 0.1; done
BODY_FILE="$WORK/bodies-100k.ndjson" wrk -t2 -c32 -d"${SECONDS_PER_RUN}s" -s scripts/bench/post-batches.lua http://127.0.0.1:18082 \
  | grep -E "Requests/sec"
# Measure once the processor has applied everything and written the checkpoint that follows (both compete for
# the same two cores as wrk and the server).
for _ in $(seq 600); do
  [ "$(curl -s localhost:18082/metrics | awk '/^starling_processor_lag_records/ {print $2}')" = "0.0" ] && break
  sleep 0.1
done
sleep 5
curl -s localhost:18082/metrics | grep -E "^starling_processor_events_applied_total"
for round in 1 2 3; do
  printf "live, 8 connections, round $round: "
  USERS=50000 wrk -t2 -c8 -d"${SECONDS_PER_RUN}s" --latency -s scripts/bench/recommendations.lua http://127.0.0.1:18082 \
    | grep -E "Requests/sec|99%|50%" | tr -s ' ' | tr '\n' ' '; echo
done
kill $SPID; wait $SPID 2>/dev/null || true
# The same, with the blend also retrieving the 50 nearest items by embedding over the whole catalogue (an exact
# 100k x 64 scan per request; off by default, see docs/models.md).
$BIN/starling serve --port 18082 --data-dir "$WORK/data-100k" --cache-ttl-seconds 0 --model embedding_candidates=50 \
  --log-level warning &
SPID=$!
for _ in $(seq 600); do curl -sf localhost:18082/ready >/dev/null && break; sleep 0.1; done
sleep 2
for round in 1 2; do
  printf "live with whole-catalogue embedding retrieval, paced (8 connections, 4 ms pause), round $round: "
  USERS=50000 DELAY_MS=4 wrk -t2 -c8 -d"${SECONDS_PER_RUN}s" --latency -s scripts/bench/recommendations-paced.lua \
    http://127.0.0.1:18082 | grep -E "Requests/sec|^ +(50|99)%" | tr -s ' ' | tr '\n' ' '; echo
  printf "live with whole-catalogue embedding retrieval, closed loop (8 connections), round $round: "
  USERS=50000 wrk -t2 -c8 -d"${SECONDS_PER_RUN}s" --latency -s scripts/bench/recommendations.lua http://127.0.0.1:18082 \
    | grep -E "Requests/sec|^ +(50|99)%" | tr -s ' ' | tr '\n' ' '; echo
done
kill $SPID; wait $SPID 2>/dev/null || true
$BIN/starling serve --port 18082 --data-dir "$WORK/data-100k" --cache-ttl-seconds 600 --log-level warning &
SPID=$!
for _ in $(seq 600); do curl -sf localhost:18082/ready >/dev/null && break; sleep 0.1; done
USERS=50000 wrk -t2 -c64 -d"${SECONDS_PER_RUN}s" -s scripts/bench/recommendations.lua http://127.0.0.1:18082 >/dev/null
curl -s localhost:18082/metrics | grep -E "^starling_cache_requests_total"
for round in 1 2 3; do
  printf "round $round /health: "
  wrk -t2 -c64 -d"${SECONDS_PER_RUN}s" http://127.0.0.1:18082/health | grep -E "Requests/sec" | tr -s ' ' | tr '\n' ' '
  echo
  printf "round $round cached recommendations: "
  USERS=50000 wrk -t2 -c64 -d"${SECONDS_PER_RUN}s" -s scripts/bench/recommendations.lua http://127.0.0.1:18082 \
    | grep -E "Requests/sec" | tr -s ' ' | tr '\n' ' '
  echo
done
printf "cached, 8 connections: "
USERS=50000 wrk -t2 -c8 -d"${SECONDS_PER_RUN}s" --latency -s scripts/bench/recommendations.lua http://127.0.0.1:18082 \
  | grep -E "Requests/sec|99%|50%" | tr -s ' ' | tr '\n' ' '; echo
curl -s localhost:18082/metrics | grep -E "^starling_cache_requests_total"
kill $SPID; wait $SPID 2>/dev/null || true
