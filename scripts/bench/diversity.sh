#!/usr/bin/env bash
# Usage: scripts/bench/diversity.sh BINARY PORT
# Starts BINARY (a starling release build) on PORT with a temporary data directory, seeds 40,000 views, likes and
# clicks of 2,000 users over 3,000 items, then prints the median time of five requests for each list shape
# (issue 9: count=200&diversity=1 used to cost seconds under the engine lock).
set -euo pipefail
BIN=$1; PORT=$2
source "$(dirname "$0")/server.sh"
start_server "$BIN" "$PORT" --precompute-per-second 0
python3 - $PORT <<'PY'
import json, random, sys, urllib.request
port=sys.argv[1]; random.seed(1)
for b in range(40):
    ev=[]
    for _ in range(1000):
        u=random.randrange(2000); taste=u%10
        item=taste*300+int(random.paretovariate(1.2))%300 if random.random()<0.8 else random.randrange(3000)
        ev.append({"type":random.choice(["view","like","click"]),"user":f"u{u}","item":f"i{item}","context":{"category":f"c{item%20}"}})
    req=urllib.request.Request(f"http://localhost:{port}/v1/events",json.dumps({"events":ev}).encode(),{"Content-Type":"application/json"})
    urllib.request.urlopen(req).read()
PY
wait_applied "$PORT"
for q in "count=10" "count=200" "count=10&diversity=1" "count=200&diversity=1" "count=200&diversity=0.5&category=c1&category=c2"; do
  t=$( { for k in $(seq 5); do curl -s -o /dev/null -w '%{time_total}\n' "localhost:$PORT/v1/users/u$k/recommendations?$q&exclude_seen=false"; done; } | sort -n | sed -n 3p)
  echo "$q median_s=$t"
done
curl -s "localhost:$PORT/v1/users/u1/recommendations?count=5&diversity=1" | head -c 400; echo
