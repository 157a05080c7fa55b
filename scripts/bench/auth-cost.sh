#!/usr/bin/env bash
# Usage: scripts/bench/auth-cost.sh BINARY [SECONDS] [ROUNDS]
# What API keys cost a request (issue 11): two release servers side by side, one without keys and one with a key file
# (a secret key, a publishable key), measured alternately with wrk (2 threads, 16 connections, SECONDS each, ROUNDS
# rounds): GET /health (open on both: the baseline), GET /v1/models (a cheap route that needs the secret key) without
# keys and with `Authorization: Bearer <secret key>`, and a publishable key refused on it (403). Prints each run,
# then the median of the rounds per measurement and the secret key's cost relative to the same route without keys.
set -euo pipefail
BIN=$1; SECONDS_EACH=${2:-10}; ROUNDS=${3:-3}
WORK=$(mktemp -d /tmp/starling-auth-bench.XXXXXX)
OPEN_PORT=18201; KEYED_PORT=18202
SECRET=$("$BIN" keys create --kind secret --name bench --file "$WORK/keys.json")
PUBLISHABLE=$("$BIN" keys create --kind publishable --name page --file "$WORK/keys.json")
"$BIN" serve --port $OPEN_PORT --data-dir "$WORK/open" --log-level warning >/dev/null 2>&1 &
OPEN_PID=$!
"$BIN" serve --port $KEYED_PORT --data-dir "$WORK/keyed" --api-keys "$WORK/keys.json" --log-level warning >/dev/null 2>&1 &
KEYED_PID=$!
trap 'kill $OPEN_PID $KEYED_PID 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"' EXIT
for port in $OPEN_PORT $KEYED_PORT; do
    until curl -sf "localhost:$port/ready" >/dev/null; do sleep 0.1; done
done
measure() {  # label, wrk arguments…
    local label=$1; shift
    local rps
    rps=$(wrk -t2 -c16 -d"${SECONDS_EACH}s" "$@" | awk '/Requests\/sec/ {print $2}')
    printf '%-48s %10s requests/s\n' "$label" "$rps"
    echo "$label|$rps" >> "$WORK/results"
}
for round in $(seq "$ROUNDS"); do
    echo "round $round"
    measure "/health, server without keys" "http://127.0.0.1:$OPEN_PORT/health"
    measure "/health, server with keys" "http://127.0.0.1:$KEYED_PORT/health"
    measure "/v1/models, server without keys" "http://127.0.0.1:$OPEN_PORT/v1/models"
    measure "/v1/models, secret key" -H "Authorization: Bearer $SECRET" "http://127.0.0.1:$KEYED_PORT/v1/models"
    measure "/v1/models, publishable key (403)" -H "Authorization: Bearer $PUBLISHABLE" "http://127.0.0.1:$KEYED_PORT/v1/models"
done
python3 - "$WORK/results" <<'PY'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    label, rps = line.rstrip("\n").split("|")
    runs.setdefault(label, []).append(float(rps))
medians = {label: statistics.median(values) for label, values in runs.items()}
for label, value in medians.items():
    print(f"median {label:<41} {value:10.0f} requests/s")
base, keyed = medians["/v1/models, server without keys"], medians["/v1/models, secret key"]
print(f"a secret key costs {100 * (1 - keyed / base):.1f} % of /v1/models throughput (median of the rounds)")
PY
curl -s -o /dev/null -w 'check: secret key on /v1/models -> %{http_code}\n' -H "Authorization: Bearer $SECRET" "localhost:$KEYED_PORT/v1/models"
curl -s -o /dev/null -w 'check: publishable key on /v1/models -> %{http_code}\n' -H "Authorization: Bearer $PUBLISHABLE" "localhost:$KEYED_PORT/v1/models"
