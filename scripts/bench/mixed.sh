#!/usr/bin/env bash
# Issue 8's mixed workload on a 100k-item catalogue: 90 % list reads spread uniformly over 20,000 users, 10 % single
# events (view/click/like) of random users, with the cache on (the default) and off, alternated. Each server start
# is warmed with one unmeasured run (the cache lives in the process), then measured. Reports requests/s and latency
# from wrk and the cache hit ratio of the measured run from /metrics.
# Needs wrk (apt-get install wrk). Usage: scripts/bench/mixed.sh [seconds-per-run]
set -euo pipefail
cd "$(dirname "$0")/../.."
SECONDS_PER_RUN=${1:-10}
command -v wrk >/dev/null || { echo "missing wrk: apt-get install wrk" >&2; exit 1; }
swift build -c release --product starling >/dev/null
swift build -c release --product starling-bench >/dev/null
BIN=.build/release
WORK=$(mktemp -d /tmp/starling-bench.XXXXXX)
PORT=18085
USERS=20000
ITEMS=100000
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
mixed() {
  USERS=$USERS ITEMS=$ITEMS WRITES=0.1 wrk -t2 -c"$2" -d"$1s" --latency -s scripts/bench/mixed.lua http://127.0.0.1:$PORT
}

echo "## mixed workload: seeding (${USERS} users, ${ITEMS} items, Zipf 0.5)"
$BIN/starling-bench generate --batches 3000 --batch 100 --users $USERS --items $ITEMS --zipf 0.5 > "$WORK/bodies.ndjson"
$BIN/starling serve --port $PORT --data-dir "$WORK/data" --log-level warning &
SPID=$!
wait_ready
BODY_FILE="$WORK/bodies.ndjson" wrk -t2 -c32 -d"${SECONDS_PER_RUN}s" -s scripts/bench/post-batches.lua http://127.0.0.1:$PORT \
  | grep -E "Requests/sec"
wait_applied
curl -s localhost:$PORT/metrics | grep -E "^starling_processor_events_applied_total"
kill $SPID; wait $SPID 2>/dev/null || true

hit='starling_cache_requests_total{layer="process",result="hit"}'
miss='starling_cache_requests_total{layer="process",result="miss"}'
for round in 1 2; do
  for mode in on off; do
    if [ $mode = on ]; then args=(); else args=(--cache-ttl-seconds 0); fi
    $BIN/starling serve --port $PORT --data-dir "$WORK/data" --log-level warning "${args[@]}" &
    SPID=$!
    wait_ready
    wait_applied
    mixed "$SECONDS_PER_RUN" 32 >/dev/null
    for connections in 32 8; do
      hits0=$(counter "$hit"); misses0=$(counter "$miss")
      printf "round $round cache $mode, $connections connections: "
      mixed "$SECONDS_PER_RUN" $connections | grep -E "Requests/sec|^ +(50|99)%|Non-2xx" | tr -s ' ' | tr '\n' ' '
      hits=$(counter "$hit"); misses=$(counter "$miss")
      stale=$(counter starling_read_your_writes_timeouts_total)
      awk -v h0="${hits0:-0}" -v m0="${misses0:-0}" -v h="${hits:-0}" -v m="${misses:-0}" -v s="${stale:-0}" \
        'BEGIN { d = (h - h0) + (m - m0); r = 0; if (d > 0) r = (h - h0) / d
                 printf "hit ratio %.3f (%d of %d lookups); read-your-writes timeouts so far %d\n", r, h - h0, d, s }'
    done
    kill $SPID; wait $SPID 2>/dev/null || true
  done
done
