#!/usr/bin/env bash
# Runs every benchmark named in docs/benchmarks.md on this machine, release build, and prints the figures.
# Needs redis-server, redis-benchmark and wrk (apt-get install redis-server redis-tools wrk).
# Usage: scripts/bench/run.sh [seconds-per-run]
set -euo pipefail
cd "$(dirname "$0")/../.."
SECONDS_PER_RUN=${1:-10}
for tool in redis-server redis-benchmark wrk; do
  command -v $tool >/dev/null || { echo "missing $tool: apt-get install redis-server redis-tools wrk" >&2; exit 1; }
done
swift build -c release --product starling >/dev/null
swift build -c release --product starling-bench >/dev/null
BIN=.build/release
WORK=$(mktemp -d /tmp/starling-bench.XXXXXX)
cleanup() { kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

echo "## machine"
echo "$(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(uname -r), $(swift --version 2>&1 | head -1)"

echo "## 1. event log append (in-process, 64 concurrent appenders x 100 events)"
$BIN/starling-bench log --durability fsync --seconds "$SECONDS_PER_RUN" --directory "$WORK/log-fsync"
$BIN/starling-bench log --durability fsync --writers 8 --seconds "$SECONDS_PER_RUN" --directory "$WORK/log-fsync8"
$BIN/starling-bench log --durability buffered --seconds "$SECONDS_PER_RUN" --directory "$WORK/log-buffered"

echo "## 1b. redis-benchmark XADD -P 16 (63-byte field, same size as a Starling event payload)"
VALUE=$(head -c 63 /dev/zero | tr '\0' 'x')
run_redis() {
  local label=$1; shift
  mkdir -p "$WORK/redis"
  redis-server --port 6399 --bind 127.0.0.1 --save "" --dir "$WORK/redis" "$@" >/dev/null &
  local rpid=$!
  for _ in $(seq 50); do redis-cli -p 6399 ping >/dev/null 2>&1 && break; sleep 0.1; done
  printf "redis %-16s " "$label"
  redis-benchmark -p 6399 -P 16 -c 50 -n 3000000 -q XADD bench '*' e "$VALUE" | tr '\r' '\n' | grep XADD | tail -1
  kill $rpid; wait $rpid 2>/dev/null || true
  rm -rf "$WORK/redis"
}
run_redis "no-persistence" --appendonly no
run_redis "aof-everysec" --appendonly yes --appendfsync everysec
run_redis "aof-always" --appendonly yes --appendfsync always

echo "## 3. freshness at a sustained 50k events/s (in-process: ingest service -> durable log -> processor)"
$BIN/starling-bench freshness --rate 50000 --seconds "$((SECONDS_PER_RUN * 2))" --directory "$WORK/fresh" 2>/dev/null

echo "## 2. HTTP ingest, batches of 100 events (wrk, 2 threads, 64 connections)"
$BIN/starling-bench generate --batches 200 --batch 100 --users 10000 --items 5000 > "$WORK/bodies.ndjson"
$BIN/starling serve --port 18080 --data-dir "$WORK/data" --log-level warning &
SPID=$!
for _ in $(seq 100); do curl -sf localhost:18080/ready >/dev/null && break; sleep 0.1; done
BODY_FILE="$WORK/bodies.ndjson" wrk -t2 -c64 -d"${SECONDS_PER_RUN}s" -s scripts/bench/post-batches.lua http://127.0.0.1:18080 \
  | grep -E "Requests/sec|Latency|Non-2xx|requests in"
curl -s localhost:18080/metrics | grep -E "^starling_ingest_events_accepted_total|^starling_processor_events_applied_total"

echo "## 4. recommendations vs /health on the same server (wrk, 2 threads, 64 connections)"
for _ in $(seq 300); do curl -sf localhost:18080/ready >/dev/null && break; sleep 0.1; done
# Alternate the two endpoints three times: single runs on 2 shared cores vary by ±15%.
for round in 1 2 3; do
  printf "round $round /health: "
  wrk -t2 -c64 -d"${SECONDS_PER_RUN}s" --latency http://127.0.0.1:18080/health | grep -E "Requests/sec|99%" | tr -s ' ' | tr '\n' ' '
  echo
  printf "round $round recommendations: "
  USERS=10000 wrk -t2 -c64 -d"${SECONDS_PER_RUN}s" --latency -s scripts/bench/recommendations.lua http://127.0.0.1:18080 \
    | grep -E "Requests/sec|99%" | tr -s ' ' | tr '\n' ' '
  echo
done
ps -o rss= -p $SPID | awk '{printf "server RSS after the run: %.0f MiB\n", $1/1024}'
kill $SPID; wait $SPID 2>/dev/null || true
