#!/usr/bin/env bash
# Usage: scripts/bench/abusive-keys.sh BINARY [PORT] [EVENTS]
# Issue 9: state that grows with client-chosen keys must stay bounded. Starts BINARY (a starling release build) on
# PORT (default 18090) with a temporary data directory and reports resident memory (VmRSS) and the latency of
# ordinary list reads after each phase:
#   ordinary   EVENTS (default 1,000,000) views of 20,000 users over 5,000 items in 20 categories, twice
#   categories EVENTS events, each with a category never seen before, twice
#   sessions   EVENTS events, each in a session never seen before, twice
#   queries    60 s of list reads whose query strings never repeat (wrk, scripts/bench/abusive-keys.lua), twice
set -euo pipefail
BIN=$1; PORT=${2:-18090}; EVENTS=${3:-1000000}
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/server.sh"
start_server "$BIN" "$PORT" --precompute-per-second 0
PID=$SERVER_PID

post() { # phase name: posts EVENTS events whose category or session is made unique by the phase
  python3 - "$PORT" "$EVENTS" "$1" <<'PY'
import json, random, sys, urllib.request, urllib.error, time
port, n, phase = sys.argv[1], int(sys.argv[2]), sys.argv[3]
random.seed(phase)
for b in range(n // 5000):
    events = []
    for k in range(5000):
        key = b * 5000 + k
        event = {"type": "view", "user": f"user-{random.randrange(20000)}", "item": f"item-{int(random.paretovariate(0.8)) % 5000}"}
        event["context"] = {"category": f"cat-{phase}-{key}" if phase.startswith("categories") else f"c-{key % 20}"}
        if phase.startswith("sessions"):
            event["session"] = f"session-{phase}-{key}"
        events.append(event)
    body = json.dumps({"events": events}).encode()
    while True:  # flow control answers 503 with Retry-After while the processor catches up
        try:
            urllib.request.urlopen(urllib.request.Request(f"http://localhost:{port}/v1/events", body, {"Content-Type": "application/json"})).read()
            break
        except urllib.error.HTTPError as error:
            if error.code != 503:
                raise
            time.sleep(float(error.headers.get("Retry-After", "1")))
PY
  wait_applied "$PORT"
}

report() {
  local rss
  rss=$(awk '/VmRSS/ {print $2}' "/proc/$PID/status")
  local latency
  latency=$(cd "$HERE" && USERS=20000 WRITES=0 wrk -t2 -c8 -d5s --latency -s mixed.lua "http://localhost:$PORT" |
    awk '/ 50%/ {p50=$2} / 99%/ {p99=$2} /Requests\/sec/ {rps=$2} END {print "reads p50 " p50 " p99 " p99 " " rps " req/s"}')
  printf '%-11s rss_mib=%d  %s\n' "$1" $((rss / 1024)) "$latency"
}

report start
post ordinary; report ordinary
post ordinary2; report ordinary2
# Each abusive phase runs twice: a bounded structure grows in the first round at most.
for round in 1 2; do
  post categories$round; report categories$round
done
for round in 1 2; do
  post sessions$round; report sessions$round
done
for round in 1 2; do
  (cd "$HERE" && USERS=20000 wrk -t2 -c16 -d60s -s abusive-keys.lua "http://localhost:$PORT" | grep -E "requests in")
  report queries$round
done
