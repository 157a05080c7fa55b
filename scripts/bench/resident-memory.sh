#!/usr/bin/env bash
# Usage: scripts/bench/resident-memory.sh MILLIONS 'BINARY [serve options…]' ['BINARY [serve options…]' …]
# Resident memory side by side: starts one release server per argument (a binary and its serve options, e.g.
# '.build/release/starling --checkpoint-seconds 100000'), posts the same MILLIONS million views (20,000 users,
# 5,000 items, batches of 5,000) to each, and after each million, once every server applied everything, prints
# each server's VmRSS.
set -euo pipefail
MILLIONS=$1; shift
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/server.sh"
PIDS=(); PORTS=(); NAMES=(); DIRS=()
cleanup() { kill "${PIDS[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "${DIRS[@]}"; }
trap cleanup EXIT
port=18291
for server in "$@"; do
    read -r -a argv <<< "$server"
    data=$(mktemp -d /tmp/starling-rss.XXXXXX)
    "${argv[0]}" serve --port "$port" --data-dir "$data" --precompute-per-second 0 "${argv[@]:1}" >/dev/null 2>&1 &
    PIDS+=($!); PORTS+=("$port"); NAMES+=("$server"); DIRS+=("$data")
    until curl -sf "localhost:$port/ready" >/dev/null; do sleep 0.1; done
    port=$((port + 1))
done
for million in $(seq 1 "$MILLIONS"); do
    python3 - "$million" "${PORTS[@]}" <<'PY'
import json, random, sys, time, urllib.error, urllib.request
million, ports = int(sys.argv[1]), sys.argv[2:]
random.seed(million)
for _ in range(200):
    events = [{"type": "view", "user": f"user-{random.randrange(20000)}",
               "item": f"item-{int(random.paretovariate(0.8)) % 5000}", "context": {"category": f"c-{k % 20}"}}
              for k in range(5000)]
    body = json.dumps({"events": events}).encode()
    for port in ports:
        while True:  # flow control answers 503 with Retry-After while the processor catches up
            try:
                urllib.request.urlopen(urllib.request.Request(
                    f"http://localhost:{port}/v1/events", body, {"Content-Type": "application/json"})).read()
                break
            except urllib.error.HTTPError as error:
                if error.code != 503:
                    raise
                time.sleep(float(error.headers.get("Retry-After", "1")))
PY
    for p in "${PORTS[@]}"; do wait_applied "$p"; done
    for k in "${!PIDS[@]}"; do
        printf 'after %dM  %-60s rss_mib=%d\n' "$million" "${NAMES[$k]}" \
            $(( $(awk '/VmRSS/ {print $2}' "/proc/${PIDS[$k]}/status") / 1024 ))
    done
done
