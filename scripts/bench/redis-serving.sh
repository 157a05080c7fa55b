#!/usr/bin/env bash
# Issue 4: an API process (--role api) serving recommendations from Redis and the published model snapshot, next
# to redis-benchmark GET on the same redis-server. Needs wrk, redis-server and redis-tools.
# Usage: scripts/bench/redis-serving.sh [seconds-per-run]
set -euo pipefail
cd "$(dirname "$0")/../.."
SECONDS_PER_RUN=${1:-10}
for tool in wrk redis-server redis-benchmark; do
  command -v $tool >/dev/null || { echo "missing $tool: apt-get install wrk redis-server redis-tools" >&2; exit 1; }
done
swift build -c release --product starling >/dev/null
swift build -c release --product starling-bench >/dev/null
BIN=.build/release
WORK=$(mktemp -d /tmp/starling-bench.XXXXXX)
REDIS_PORT=16390
cleanup() { kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; redis-cli -p $REDIS_PORT shutdown nosave >/dev/null 2>&1 || true; rm -rf "$WORK"; }
trap cleanup EXIT
ready() { for _ in $(seq 600); do curl -sf "localhost:$1/ready" >/dev/null && return 0; sleep 0.1; done; return 1; }
pctl() { grep -E "$1" | tr -s ' ' | sed 's/^ //'; }

redis-server --port $REDIS_PORT --bind 127.0.0.1 --save "" --appendonly no --daemonize yes --logfile "$WORK/redis.log"
sleep 0.5
REDIS=redis://127.0.0.1:$REDIS_PORT

echo "## 1. the log's owner (--role all) ingests synthetic traffic over a 100k-item catalogue"
$BIN/starling-bench generate --batches 5000 --batch 100 --users 50000 --items 100000 --zipf 0.5 > "$WORK/bodies.ndjson"
$BIN/starling serve --port 18083 --data-dir "$WORK/data" --redis $REDIS --snapshot-seconds 5 --log-level warning &
ready 18083
BODY_FILE="$WORK/bodies.ndjson" wrk -t2 -c32 -d"${SECONDS_PER_RUN}s" -s scripts/bench/post-batches.lua http://127.0.0.1:18083 \
  | grep -E "Requests/sec"
ready 18083
curl -s localhost:18083/metrics | grep -E "^starling_processor_events_applied_total"
sleep 12   # the last snapshot export (every 5 s) and the published users' writes settle
echo "published users in Redis: $(redis-cli -p $REDIS_PORT --scan --pattern 'starling:user:*' | wc -l)"
echo "snapshot chunks: $(redis-cli -p $REDIS_PORT --scan --pattern 'starling:model:*:*' | wc -l) x 8 MiB at most; $(redis-cli -p $REDIS_PORT info memory | grep '^used_memory_human')"
curl -s localhost:18083/metrics | grep -E "^starling_snapshot_(export_duration_seconds_(sum|count)|bytes)"

echo "## 2. an API process (--role api) serving from Redis"
$BIN/starling serve --role api --port 18084 --redis $REDIS --log-level warning &
ready 18084
sleep 2
curl -s localhost:18084/metrics | grep -E "^starling_snapshot_loads_total"
python3 scripts/bench/cross_process_freshness.py 18083 18084 300
# Warm the shared lists: one pass over random users (every first request of a user is a miss that stores).
USERS=50000 wrk -t2 -c32 -d"${SECONDS_PER_RUN}s" -s scripts/bench/recommendations.lua http://127.0.0.1:18084 | grep -E "Requests/sec"
curl -s localhost:18084/metrics | grep -E "^starling_cache_requests_total"

for round in 1 2; do
  echo "round $round"
  printf "  API, paced (20 connections, 1.7 ms pause): "
  USERS=50000 DELAY_MS=1.7 wrk -t2 -c20 -d"${SECONDS_PER_RUN}s" --latency -s scripts/bench/recommendations-paced.lua \
    http://127.0.0.1:18084 | grep -E "Requests/sec|^ +(50|99)%" | tr -s ' ' | tr '\n' ' '; echo
  printf "  API, closed loop, 16 connections: "
  USERS=50000 wrk -t2 -c16 -d"${SECONDS_PER_RUN}s" --latency -s scripts/bench/recommendations.lua \
    http://127.0.0.1:18084 | grep -E "Requests/sec|^ +(50|99)%" | tr -s ' ' | tr '\n' ' '; echo
  printf "  redis-benchmark GET, 16 clients, 600-byte values (rps,avg,min,p50,p95,p99,max ms): "
  redis-benchmark -p $REDIS_PORT -t get -c 16 -d 600 -n $((SECONDS_PER_RUN * 60000)) --csv | tail -1
done
curl -s localhost:18084/metrics | grep -E "^starling_cache_requests_total"
echo "value size of one shared list (bytes): $(redis-cli -p $REDIS_PORT --scan --pattern 'starling:lists:*' | head -1 | xargs -I{} redis-cli -p $REDIS_PORT hstrlen {} 10)"
