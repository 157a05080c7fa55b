#!/usr/bin/env python3
"""Time from an acknowledged like at the log's owner to the first response of an API process that reflects it.

Usage: cross_process_freshness.py OWNER_PORT API_PORT [SAMPLES]

For each sample, a fresh user likes an item (POST /v1/events to the owner, timed from just before the request),
then the API process is polled without pause until its recommendations response carries the new profile
version. Prints percentiles in milliseconds. Polling adds up to one request's latency (~0.3 ms) to each figure.
With read-your-writes the first request already reflects the like (it waits for the owner to publish it): the
script also reports how many first responses did, how many said "fresh": false, and the first request's latency.
"""
import http.client
import json
import sys
import time
import uuid


def main() -> None:
    owner_port, api_port = int(sys.argv[1]), int(sys.argv[2])
    samples = int(sys.argv[3]) if len(sys.argv) > 3 else 200
    owner = http.client.HTTPConnection("127.0.0.1", owner_port)
    api = http.client.HTTPConnection("127.0.0.1", api_port)
    run = uuid.uuid4().hex[:8]
    elapsed = []
    first_request = []
    reflected_first = 0
    stale = 0
    for n in range(samples):
        user = f"fresh-{run}-{n}"
        body = json.dumps({"events": [{"type": "like", "user": user, "item": f"item-{n % 50}"}]})
        start = time.perf_counter()
        owner.request("POST", "/v1/events", body, {"Content-Type": "application/json"})
        response = owner.getresponse()
        response.read()
        assert response.status == 200, response.status
        attempt = 0
        while True:
            asked = time.perf_counter()
            api.request("GET", f"/v1/users/{user}/recommendations?count=5")
            reply = api.getresponse()
            data = json.loads(reply.read())
            assert reply.status == 200, reply.status
            if attempt == 0:
                first_request.append((time.perf_counter() - asked) * 1000)
                if data["profile_version"] >= 1:
                    reflected_first += 1
                if data.get("fresh") is False:
                    stale += 1
            attempt += 1
            if data["profile_version"] >= 1:
                break
            if time.perf_counter() - start > 10:
                raise SystemExit(f"{user}: not visible after 10 s")
        elapsed.append((time.perf_counter() - start) * 1000)
    elapsed.sort()
    first_request.sort()

    def pct(values: list, p: float) -> float:
        return values[min(len(values) - 1, int(p / 100 * len(values)))]

    print(
        f"like at the owner -> visible at an API process, {samples} samples (ms): "
        f"p50 {pct(elapsed, 50):.2f}  p90 {pct(elapsed, 90):.2f}  p99 {pct(elapsed, 99):.2f}  max {elapsed[-1]:.2f}"
    )
    print(
        f"first API request after the acknowledgement: reflected the like {reflected_first}/{samples}, "
        f"fresh:false {stale}; latency (ms) p50 {pct(first_request, 50):.2f}  p99 {pct(first_request, 99):.2f}  "
        f"max {first_request[-1]:.2f}"
    )


if __name__ == "__main__":
    main()
