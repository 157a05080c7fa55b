#!/usr/bin/env python3
"""Open-loop overload of POST /v1/events, with a ledger of acknowledged batches (scripts/faults/overload.sh).

Sends batches at a fixed rate whatever the server answers (a new batch every 1/rate s, on an idle keep-alive
connection or a new one, up to --max-connections; a batch with no connection to go on is counted as not sent),
for --seconds. Meanwhile it samples the server's resident memory and lag every second and reads /ready, a profile
and a list every 100 ms. Every 503 must carry Retry-After and a JSON error. After the load it retries every refused
batch until it is acknowledged, waits until the processor's lag is 0 and compares every user's event_count with
the events of the batches acknowledged. Exits non-zero when any check fails.

Batches are the bodies of `starling-bench generate` (--templates FILE, one per line) with an id added to every
event: `b{batch}-{index}`, so a retried batch is recognised and nothing counts twice.
"""
import argparse
import asyncio
import json
import re
import statistics
import sys
import time


def parse_args():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--pid", type=int, required=True, help="the server's process id, for its resident memory")
    p.add_argument("--templates", required=True)
    p.add_argument("--rate", type=float, required=True, help="events per second offered")
    p.add_argument("--seconds", type=float, default=60)
    p.add_argument("--max-connections", type=int, default=2048)
    p.add_argument("--no-ids", action="store_true",
                   help="events without ids: the server's id index (24 h of ids) stays out of its memory; exactly once "
                        "then rests on every batch having a definite answer (no client time-outs)")
    return p.parse_args()


class Connection:
    def __init__(self, reader, writer):
        self.reader, self.writer = reader, writer

    async def request(self, method, path, body=b""):
        head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        if body:
            head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        self.writer.write(head.encode() + b"\r\n" + body)
        raw = await self.reader.readuntil(b"\r\n\r\n")
        lines = raw.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ")[1])
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                k, v = line.split(":", 1)
                headers[k.strip().lower()] = v.strip()
        length = int(headers.get("content-length", "0"))
        payload = await self.reader.readexactly(length) if length else b""
        return status, headers, payload

    def close(self):
        self.writer.close()


async def connect(port):
    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 20)
    return Connection(reader, writer)


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def percentile(values, q):
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


async def main():
    args = parse_args()
    templates = []  # (body with "@@" for the batch number, {user: events})
    for line in open(args.templates):
        batch = json.loads(line)
        users = {}
        for index, event in enumerate(batch["events"]):
            if not args.no_ids:
                event["id"] = f"b@@-{index}"
            users[event["user"]] = users.get(event["user"], 0) + 1
        templates.append((json.dumps(batch, separators=(",", ":")).encode(), users))
    batch_size = len(json.loads(open(args.templates).readline())["events"])

    def body(n):
        template = templates[n % len(templates)][0]
        return template if args.no_ids else template.replace(b"@@", str(n).encode())

    outcome = {}  # batch number -> status of its latest answer
    failures = []  # checks that failed
    statuses = {}
    refusal_latency = []
    accepted_latency = []
    idle = []
    state = {"open": 0, "not_sent": 0, "in_flight": 0}
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()

    def check_refusal(status, headers, payload):
        if status != 503:
            return
        problems = []
        if not re.fullmatch(r"\d+", headers.get("retry-after", "")):
            problems.append("no Retry-After")
        if not headers.get("content-type", "").startswith("application/json"):
            problems.append("not JSON")
        try:
            if not json.loads(payload).get("error"):
                problems.append("no error message")
        except ValueError:
            problems.append("body does not parse")
        if problems and len(failures) < 20:
            failures.append(f"503 {', '.join(problems)}: {payload[:200]!r}")

    async def send(n, connection):
        state["in_flight"] += 1
        try:
            started = loop.time()
            try:
                if connection is None:
                    connection = await connect(args.port)
                status, headers, payload = await connection.request("POST", "/v1/events", body(n))
            except (OSError, asyncio.IncompleteReadError) as error:
                state["open"] -= 1
                outcome[n] = 0
                statuses["error"] = statuses.get("error", 0) + 1
                if len(failures) < 20:
                    failures.append(f"batch {n}: {error!r}")
                return
            elapsed = loop.time() - started
            outcome[n] = status
            statuses[status] = statuses.get(status, 0) + 1
            (accepted_latency if status == 200 else refusal_latency).append(elapsed)
            if status not in (200, 503) and len(failures) < 20:
                failures.append(f"batch {n}: {status} {payload[:200]!r}")
            check_refusal(status, headers, payload)
            if headers.get("connection", "").lower() == "close":
                connection.close()
                state["open"] -= 1
            else:
                idle.append(connection)
        finally:
            state["in_flight"] -= 1

    async def metrics_text(connection):
        status, _, payload = await connection.request("GET", "/metrics")
        return payload.decode()

    def metric(text, name):
        match = re.search(rf"^{name} (\S+)$", text, re.M)
        return float(match.group(1)) if match else 0.0

    samples = []  # (t, rss MiB, lag, accepted, applied)

    async def sampler(t0):
        connection = await connect(args.port)
        while not stop.is_set():
            text = await metrics_text(connection)
            accepted = sum(float(v) for v in re.findall(r"^starling_ingest_events_accepted_total\S* (\S+)$", text, re.M))
            samples.append((loop.time() - t0, rss_mib(args.pid), metric(text, "starling_processor_lag_records"),
                            accepted, metric(text, "starling_processor_events_applied_total")))
            await asyncio.sleep(1)

    reads = {}  # path -> [(status, seconds)]

    async def reader():
        connection = await connect(args.port)
        paths = ["/ready", "/v1/users/user-7", "/v1/users/user-7/recommendations?count=10"]
        while not stop.is_set():
            for path in paths:
                started = loop.time()
                status, _, _ = await connection.request("GET", path)
                reads.setdefault(path, []).append((status, loop.time() - started))
            await asyncio.sleep(0.1)

    t0 = loop.time()
    background = [asyncio.create_task(sampler(t0)), asyncio.create_task(reader())]
    requests_per_second = args.rate / batch_size
    interval = 1 / requests_per_second
    tasks = set()
    n = 0
    next_at = t0
    end = t0 + args.seconds
    while True:
        now = loop.time()
        if now >= end:
            break
        if next_at > now:
            await asyncio.sleep(next_at - now)
        next_at += interval
        if idle:
            connection = idle.pop()
        elif state["open"] < args.max_connections:
            connection = None  # opened by the request
            state["open"] += 1
        else:
            state["not_sent"] += 1
            n += 1
            continue
        task = asyncio.create_task(send(n, connection))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        n += 1
    offered_seconds = loop.time() - t0
    await asyncio.gather(*tasks)
    load_end = loop.time() - t0

    # Retry every refused batch until it is acknowledged (a 503 appended nothing).
    refused = [b for b, s in outcome.items() if s != 200]
    retry_queue = list(refused)

    async def retrier():
        connection = await connect(args.port)
        while retry_queue:
            b = retry_queue.pop()
            while True:
                status, headers, payload = await connection.request("POST", "/v1/events", body(b))
                check_refusal(status, headers, payload)
                if status == 200:
                    answer = json.loads(payload)
                    if answer["accepted"] + answer["duplicates"] != batch_size:
                        failures.append(f"retry of batch {b}: {answer}")
                    outcome[b] = 200
                    break
                await asyncio.sleep(0.05)

    retry_started = loop.time()
    await asyncio.gather(*(retrier() for _ in range(16)))
    retry_seconds = loop.time() - retry_started
    # The processor catches up.
    drain_started = loop.time()
    connection = await connect(args.port)
    while metric(await metrics_text(connection), "starling_processor_lag_records") > 0:
        await asyncio.sleep(0.2)
    drain_seconds = loop.time() - drain_started
    stop.set()
    await asyncio.gather(*background, return_exceptions=True)

    # Exactly once: every user's event_count against the batches acknowledged.
    expected = {}
    for b, status in outcome.items():
        if status == 200:
            for user, count in templates[b % len(templates)][1].items():
                expected[user] = expected.get(user, 0) + count
    lost = doubled = 0
    for user, count in expected.items():
        status, _, payload = await connection.request("GET", f"/v1/users/{user}")
        found = json.loads(payload).get("event_count", 0) if status == 200 else 0
        if found < count:
            lost += count - found
        elif found > count:
            doubled += found - count
    if lost or doubled:
        failures.append(f"{lost} acknowledged events lost, {doubled} applied twice")

    # Report.
    sent = len(outcome)
    first_ok = sum(1 for b in outcome if b not in refused)
    print(f"offered: {args.rate:,.0f} events/s = {requests_per_second:,.1f} batches of {batch_size}/s for {offered_seconds:.1f} s; "
          f"{n:,} batches scheduled, {sent:,} sent, {state['not_sent']:,} not sent (all {args.max_connections} connections busy)")
    print(f"answers during the load: " + ", ".join(f"{k}: {v:,}" for k, v in sorted(statuses.items(), key=str)))
    if sent:
        print(f"acknowledged at first try: {first_ok:,} batches ({first_ok * batch_size / load_end:,.0f} events/s over {load_end:.1f} s); "
              f"refused: {len(refused):,} ({100 * len(refused) / sent:.1f} %)")
    print(f"latency of acknowledgements p50/p99/max: {percentile(accepted_latency, .5) * 1000:.1f} / "
          f"{percentile(accepted_latency, .99) * 1000:.1f} / {max(accepted_latency, default=0) * 1000:.1f} ms; "
          f"of refusals: {percentile(refusal_latency, .5) * 1000:.1f} / {percentile(refusal_latency, .99) * 1000:.1f} / "
          f"{max(refusal_latency, default=0) * 1000:.1f} ms")
    for path, values in reads.items():
        times = [v[1] for v in values]
        bad = sum(1 for v in values if v[0] not in (200, 404))
        print(f"reads {path}: {len(values)}, not 200/404: {bad}, p50/p99/max {percentile(times, .5) * 1000:.1f} / "
              f"{percentile(times, .99) * 1000:.1f} / {max(times) * 1000:.1f} ms")
        if bad:
            failures.append(f"{bad} reads of {path} failed")
    print("t(s)  RSS MiB  lag  accepted/s  applied/s")
    previous = None
    for t, rss, lag, accepted, applied in samples:
        if previous and int(t) % 5 == 0:
            dt = t - previous[0]
            print(f"{t:5.0f} {rss:8.0f} {lag:6.0f} {(accepted - previous[3]) / dt:10,.0f} {(applied - previous[4]) / dt:10,.0f}")
        if not previous or int(t) % 5 == 0:
            previous = (t, rss, lag, accepted, applied)
    during = [s for s in samples if s[0] <= load_end]
    if during:
        third = max(1, len(during) // 3)
        print(f"RSS during the load: min {min(s[1] for s in during):.0f}, max {max(s[1] for s in during):.0f} MiB; "
              f"max in the first third {max(s[1] for s in during[:third]):.0f}, in the last third "
              f"{max(s[1] for s in during[-third:]):.0f} MiB; lag max {max(s[2] for s in during):,.0f} records")
    print(f"after the load: {len(refused):,} refused batches retried in {retry_seconds:.1f} s, lag 0 {drain_seconds:.1f} s later; "
          f"{sum(expected.values()):,} events acknowledged for {len(expected):,} users: {lost} lost, {doubled} applied twice")
    for failure in failures:
        print("FAILED:", failure)
    sys.exit(1 if failures else 0)


asyncio.run(main())
