#!/usr/bin/env bash
# Usage: scripts/bench/retrain-memory.sh BINARY PORT EVENTS
# Starts BINARY (a starling release build) on PORT with a temporary data directory, posts EVENTS synthetic views and
# likes (50,000 users, 20,000 items) and waits until they are applied, then prints the peak resident memory (VmHWM)
# before and after one retrain on demand, and the answer to a second request right after it.
set -euo pipefail
BIN=$1; PORT=$2; N=$3
source "$(dirname "$0")/server.sh"
start_server "$BIN" "$PORT" --precompute-per-second 0 --retrain-minutes 0 --max-lag 0
PID=$SERVER_PID
python3 - $PORT $N <<'PY'
import json, random, sys, urllib.request
port=sys.argv[1]; n=int(sys.argv[2]); random.seed(1)
body_cache={}
for b in range(n//5000):
    ev=[{"type":"like" if random.random()<0.3 else "view","user":f"user-{random.randrange(50000)}","item":f"item-{int(random.paretovariate(0.8))%20000}","context":{"category":f"c{b%20}","device":"ios"}} for _ in range(5000)]
    urllib.request.urlopen(urllib.request.Request(f"http://localhost:{port}/v1/events",json.dumps({"events":ev}).encode(),{"Content-Type":"application/json"})).read()
PY
wait_applied "$PORT"
echo "before retrain: $(grep -E 'VmRSS|VmHWM' /proc/$PID/status | tr -s ' \n' ' ')"
curl -s -X POST localhost:$PORT/v1/models/retrain; echo
until curl -s localhost:$PORT/v1/models | grep -q '"retrains_completed":1'; do sleep 0.5; done
curl -s localhost:$PORT/v1/models; echo
echo "after retrain:  $(grep -E 'VmRSS|VmHWM' /proc/$PID/status | tr -s ' \n' ' ')"
curl -s -i -X POST localhost:$PORT/v1/models/retrain | grep -iE "^HTTP|retry-after|error"
