"""The built-in dashboard in headless Chromium, against a real `starling serve` on loopback.

    dashboard.py check BINARY [--screenshot PATH] [--settle SECONDS]
        Starts BINARY on a free loopback port with an empty data directory, keeps sending events and asking for
        recommendations, opens /dashboard, and fails unless every chart draws live data and moves, trending and the
        model state are shown, the user explorer shows a user's profile, segment, recent events and
        recommendations with their reasons, the page fits a phone's width, and the browser console stays free of
        errors. Prints the page's first paint (Paint Timing) in a fresh browser and on the next navigation, with its
        navigation timings, and whether the latter meets the 500 ms goal; fails only above
        $DASHBOARD_FIRST_PAINT_LIMIT_MS (2000 by default: CI machines are shared and loaded). Saves a screenshot (.build/dashboard.png unless --screenshot says otherwise), after
        --settle more seconds of traffic (docs/dashboard.png was taken with --settle 90).

    dashboard.py cost BINARY [--seconds N] [--rounds N] [--connections N]
        The price of one open dashboard: recommendation requests/s (wrk) without and with the dashboard open in
        headless Chromium, alternating in one run, and the same with only the dashboard's requests replayed (four
        GETs a second, no browser), which isolates the server's share from the browser's own CPU.
"""

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

from selenium.webdriver.common.by import By

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "browser.d"))
from support import chrome, free_port  # noqa: E402


class Server:
    """`starling serve` on a free loopback port with a temporary data directory."""

    def __init__(self, binary, *args):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.data = tempfile.mkdtemp(prefix="starling-dashboard-")
        self.process = subprocess.Popen(
            [binary, "serve", "--port", str(self.port), "--data-dir", self.data, "--log-level", "warning", *args],
            stdout=subprocess.DEVNULL,
        )
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"the server exited while starting ({self.process.returncode})")
            try:
                if self.get("/ready")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise SystemExit("the server did not become ready within 60 s")

    def request(self, method, path, body=None, content_type="application/json"):
        data = None if body is None else body.encode()
        request = urllib.request.Request(self.base + path, data=data, method=method)
        if body is not None:
            request.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def get(self, path):
        return self.request("GET", path)

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.data, ignore_errors=True)


SEED_USERS = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi"]
ITEMS = [("dune", "scifi"), ("alien", "scifi"), ("solaris", "scifi"), ("heat", "crime"), ("ronin", "crime"),
         ("thief", "crime"), ("amelie", "romance"), ("her", "romance"), ("up", "animation"), ("coco", "animation")]


def seed(server):
    events = []
    for u, user in enumerate(SEED_USERS):
        for i in range(6):
            item, category = ITEMS[(u * 3 + i) % len(ITEMS)]
            kind = ["view", "like", "click", "view", "purchase", "like"][i]
            events.append({"type": kind, "user": user, "item": item, "session": f"s-{user}",
                           "context": {"category": category}})
    status, body = server.request("POST", "/v1/events", json.dumps({"events": events}))
    if status != 200:
        raise SystemExit(f"seeding failed: {status} {body[:200]}")


class Traffic(threading.Thread):
    """Events and recommendation requests, a few dozen a second, until stopped: something for the charts."""

    def __init__(self, server):
        super().__init__(daemon=True)
        self.server = server
        self.stopped = threading.Event()
        self.failures = []

    def run(self):
        n = 0
        while not self.stopped.is_set():
            n += 1
            user = f"user-{n % 40}"
            item, category = ITEMS[n % len(ITEMS)]
            body = json.dumps({"events": [{"type": "view", "user": user, "item": item,
                                            "context": {"category": category}}]})
            status, _ = self.server.request("POST", "/v1/events", body)
            if status != 200:
                self.failures.append(f"POST /v1/events answered {status}")
            for who in (user, SEED_USERS[n % len(SEED_USERS)], SEED_USERS[n % len(SEED_USERS)]):
                status, _ = self.server.get(f"/v1/users/{who}/recommendations?count=5")
                if status != 200:
                    self.failures.append(f"recommendations answered {status}")
            time.sleep(0.02)

    def stop(self):
        self.stopped.set()
        self.join(timeout=30)


def browser(width=1280, height=1250):
    return chrome(width, height)


def wait_for(what, condition, timeout=30):
    deadline = time.time() + timeout
    last_error = None
    while time.time() < deadline:
        try:
            value = condition()
            if value:
                return value
        except Exception as error:  # the page may be between two renderings
            last_error = error
        time.sleep(0.1)
    raise SystemExit(f"FAIL: timed out after {timeout} s waiting for {what}" + (f" ({last_error})" if last_error else ""))


def points(driver, chart):
    return int(driver.find_element(By.ID, chart).get_attribute("data-points") or "0")


def check(arguments):
    server = Server(arguments.binary)
    traffic = None
    driver = None
    try:
        seed(server)
        traffic = Traffic(server)
        traffic.start()
        driver = browser()
        # The first navigation of a fresh browser also pays for starting its renderer; the second is the page's
        # own. Both are printed; the goal is checked on the second.
        driver.get(server.base + "/dashboard")
        paint = "return performance.getEntriesByType('paint').map(e => e.startTime)[0]"
        cold = wait_for("the first paint in a fresh browser", lambda: driver.execute_script(paint))
        driver.get(server.base + "/dashboard?again")
        wait_for("the first paint", lambda: driver.execute_script(paint))
        timing = driver.execute_script("""
            const paint = {};
            for (const entry of performance.getEntriesByType('paint')) paint[entry.name] = entry.startTime;
            const nav = performance.getEntriesByType('navigation')[0];
            return {paint, responseEnd: nav.responseEnd, domContentLoaded: nav.domContentLoadedEventEnd, load: nav.loadEventEnd,
                    transferSize: nav.transferSize};
        """)
        first_paint = timing["paint"].get("first-paint", timing["paint"].get("first-contentful-paint"))
        print(f"first paint {cold:.1f} ms in a fresh browser; on the next navigation: first paint {first_paint:.1f} ms, first contentful paint "
              f"{timing['paint'].get('first-contentful-paint', float('nan')):.1f} ms, response end "
              f"{timing['responseEnd']:.1f} ms, DOMContentLoaded {timing['domContentLoaded']:.1f} ms, "
              f"page {timing['transferSize']} bytes")
        failures = []
        # The goal is 500 ms; on a loaded CI machine (two cores shared with builds) a slow renderer can pass it,
        # so the check fails only at four times the goal, which no blocking resource or heavy script would meet.
        limit = float(os.environ.get("DASHBOARD_FIRST_PAINT_LIMIT_MS", "2000"))
        print(f"first paint goal (500 ms): {'met' if first_paint <= 500 else 'MISSED'}")
        if first_paint > limit:
            failures.append(f"first paint took {first_paint} ms (goal 500 ms, failing above {limit:.0f} ms)")

        # Every chart draws live data: the series the server samples each second.
        wait_for("the ingest chart to draw three seconds", lambda: points(driver, "chart-ingest") >= 6)
        for chart in ["chart-latency", "chart-freshness", "chart-lag", "chart-cache"]:
            wait_for(f"{chart} to draw live data", lambda: points(driver, chart) >= 2)
        wait_for("a non-zero ingest rate", lambda: float(driver.find_element(By.ID, "kpi-ingest").text.replace("k", "e3")) > 0)
        wait_for("recommendation latency", lambda: driver.find_element(By.ID, "kpi-latency").text not in ("", "–"))
        # …and keeps moving, a second at a time.
        before = driver.find_element(By.ID, "updated").text
        drawn = points(driver, "chart-ingest")
        wait_for("the next second's update", lambda: driver.find_element(By.ID, "updated").text != before
                 and points(driver, "chart-ingest") > drawn, timeout=10)
        wait_for("readiness", lambda: driver.find_element(By.ID, "status").text == "ready")
        wait_for("trending items", lambda: len(driver.find_elements(By.CSS_SELECTOR, "#trending li:not(.muted)")) >= 3)
        wait_for("the model state", lambda: "model version" in driver.find_element(By.ID, "models").text)

        # The user explorer: profile, segment, recent events and recommendations with their reasons.
        box = driver.find_element(By.ID, "user")
        box.clear()
        box.send_keys("alice")
        driver.find_element(By.CSS_SELECTOR, "#explore button").click()
        wait_for("alice's recommendations", lambda: len(driver.find_elements(By.CSS_SELECTOR, "#explorer-recs li .reason")) >= 1)
        reasons = [e.text for e in driver.find_elements(By.CSS_SELECTOR, "#explorer-recs li .reason")]
        if not all(reasons):
            failures.append(f"a recommendation without its reason: {reasons}")
        segment = driver.find_element(By.ID, "explorer-segment").text
        if not segment.isdigit():
            failures.append(f"alice's segment is '{segment}', not a number")
        rows = driver.find_elements(By.CSS_SELECTOR, "#explorer-events tr")
        if len(rows) < 7:  # the header and alice's six events
            failures.append(f"alice's recent events show {len(rows) - 1} rows, not 6")
        print(f"user explorer: segment {segment}, {len(rows) - 1} recent events, {len(reasons)} recommendations, "
              f"reasons like '{reasons[0]}'")
        time.sleep(1.5 + arguments.settle)  # one more update with the explorer open (or more), then the picture
        screenshot = arguments.screenshot or ".build/dashboard.png"
        driver.save_screenshot(screenshot)
        print(f"screenshot: {screenshot}")

        # On a phone's width nothing runs off the side.
        driver.set_window_size(390, 1600)
        time.sleep(1.2)
        overflow = driver.execute_script("return document.documentElement.scrollWidth - document.documentElement.clientWidth")
        if overflow > 0:
            failures.append(f"on a 390 px wide screen the page is {overflow} px wider than the screen")

        errors = [entry for entry in driver.get_log("browser") if entry["level"] in ("SEVERE", "ERROR")]
        if errors:
            failures.append(f"browser console errors: {errors}")
        if traffic.failures:
            failures.append(f"traffic failures: {traffic.failures[:5]}")
        if failures:
            for failure in failures:
                print("FAIL:", failure)
            sys.exit(1)
        print("dashboard check passed")
    finally:
        if driver:
            driver.quit()
        if traffic:
            traffic.stop()
        server.stop()


def wrk(server, seconds, connections, users):
    script = os.path.join(os.path.dirname(__file__), "..", "bench", "recommendations.lua")
    output = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "-s", script, server.base],
        env={**os.environ, "USERS": str(users)}, capture_output=True, text=True, check=True,
    ).stdout
    return float(re.search(r"Requests/sec:\s+([0-9.]+)", output).group(1))


class Replay(threading.Thread):
    """The dashboard's requests without a browser: /v1/stats, /ready, /v1/trending and /v1/models every second."""

    def __init__(self, server):
        super().__init__(daemon=True)
        self.server = server
        self.stopped = threading.Event()

    def run(self):
        while not self.stopped.is_set():
            for path in ["/v1/stats", "/ready", "/v1/trending?count=10", "/v1/models"]:
                self.server.get(path)
            self.stopped.wait(1)

    def stop(self):
        self.stopped.set()
        self.join()


def cpu_seconds(pid):
    """User plus system CPU time of a process so far, from /proc."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_per_dashboard_second(server, cycles=1000):
    """The server's CPU time for one second of an open dashboard: its four requests, `cycles` times back to back
    on one kept-alive connection, as the browser keeps it."""
    import http.client
    connection = http.client.HTTPConnection("127.0.0.1", server.port)
    paths = ["/v1/stats", "/ready", "/v1/trending?count=10", "/v1/models"]
    before = cpu_seconds(server.process.pid)
    for _ in range(cycles):
        for path in paths:
            connection.request("GET", path)
            connection.getresponse().read()
    used = cpu_seconds(server.process.pid) - before
    connection.close()
    return used / cycles


def cost(arguments):
    users = 2000
    server = Server(arguments.binary, "--cache-ttl-seconds", "0")
    try:
        events = [{"type": "view", "user": f"user-{u}", "item": f"item-{(u * 7 + k) % 500}"}
                  for u in range(users) for k in range(5)]
        for start in range(0, len(events), 5000):
            server.request("POST", "/v1/events", json.dumps({"events": events[start:start + 5000]}))
        wrk(server, 3, arguments.connections, users)  # warm-up
        # The server's own CPU: what one dashboard second costs, against what one recommendation costs under load.
        dashboard_cpu = cpu_per_dashboard_second(server)
        before = cpu_seconds(server.process.pid)
        rate = wrk(server, arguments.seconds, arguments.connections, users)
        load_cpu = (cpu_seconds(server.process.pid) - before) / arguments.seconds
        print(f"server CPU: {1e3 * dashboard_cpu:.2f} ms per dashboard second (its four requests); under wrk it "
              f"used {load_cpu:.2f} CPU-seconds per second for {rate:.0f} requests/s, so a dashboard takes "
              f"{100 * dashboard_cpu / load_cpu:.3f} % of the server's CPU at that load", flush=True)
        results = {"none": [], "dashboard": [], "replay": []}
        for round in range(arguments.rounds):
            for mode in ["none", "dashboard", "none", "replay"]:
                driver = replay = None
                if mode == "dashboard":
                    driver = browser()
                    driver.get(server.base + "/dashboard")
                    wait_for("the dashboard's first data", lambda: points(driver, "chart-ingest") >= 1)
                elif mode == "replay":
                    replay = Replay(server)
                    replay.start()
                rate = wrk(server, arguments.seconds, arguments.connections, users)
                if driver:
                    driver.quit()
                if replay:
                    replay.stop()
                results[mode].append(rate)
                print(f"round {round + 1}, {mode:9}: {rate:9.1f} recommendation requests/s", flush=True)
        mean = {mode: sum(rates) / len(rates) for mode, rates in results.items()}
        print(f"mean without a dashboard: {mean['none']:.1f} requests/s")
        print(f"mean with one dashboard open in Chromium: {mean['dashboard']:.1f} requests/s "
              f"({100 * (mean['dashboard'] / mean['none'] - 1):+.2f} %)")
        print(f"mean with the dashboard's requests replayed (no browser): {mean['replay']:.1f} requests/s "
              f"({100 * (mean['replay'] / mean['none'] - 1):+.2f} %)")
    finally:
        server.stop()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    c = commands.add_parser("check")
    c.add_argument("binary")
    c.add_argument("--screenshot")
    c.add_argument("--settle", type=float, default=0, help="seconds of traffic before the screenshot")
    m = commands.add_parser("cost")
    m.add_argument("binary")
    m.add_argument("--seconds", type=int, default=10)
    m.add_argument("--rounds", type=int, default=3)
    m.add_argument("--connections", type=int, default=8)
    arguments = parser.parse_args()
    {"check": check, "cost": cost}[arguments.command](arguments)


if __name__ == "__main__":
    main()
