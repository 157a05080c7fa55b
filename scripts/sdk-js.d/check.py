"""The browser SDK (sdk/js/starling.js) in headless Chromium against a real starling server on loopback.

The page is served from another origin (a static server on its own port), as a site would embed it; the server has
a publishable key for that origin and a secret key the check reads profiles with. Checked, each against the
server's own counts:

- a batch of 100 events is one request;
- no event is lost and none is counted twice across a page reload with events queued and in flight, the server
  killed (SIGKILL) and restarted while the page tracks, and a page left with events queued (sent by beacon, then
  sent again by the next page: the server counts them once);
- dwell and scroll events for the page's item when the page is hidden;
- no JavaScript error in the console (network errors while the server is down are expected and ignored).

It also prints what track() costs on the page's main thread (the mean of 2,000 calls).

Usage: check.py STARLING_BINARY
"""

import functools
import http.server
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import urllib.error
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "browser.d"))
from support import chrome, free_port, wait_until  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))






class Server:
    """A starling server on a loopback port, keeping its data directory across restarts."""

    def __init__(self, binary, work, keys):
        self.binary, self.port, self.data, self.keys = binary, free_port(), os.path.join(work, "data"), keys
        self.log = open(os.path.join(work, "server.log"), "ab")
        self.process = None

    def start(self):
        self.process = subprocess.Popen(
            [self.binary, "serve", "--port", str(self.port), "--data-dir", self.data, "--api-keys", self.keys,
             "--log-level", "warning"],
            stdout=self.log, stderr=self.log)
        wait_until("the server to be ready", lambda: self.get("/ready")[0] == 200)

    def kill9(self):
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self):
        self.process.terminate()
        self.process.wait()

    def get(self, path, key=None):
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}")
        if key:
            request.add_header("Authorization", f"Bearer {key}")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()
        except (urllib.error.URLError, ConnectionError):
            return 0, b""

    def event_count(self, user, secret):
        status, body = self.get(f"/v1/users/{user}", secret)
        return json.loads(body)["event_count"] if status == 200 else 0

    def event_types(self, user, secret):
        status, body = self.get(f"/v1/users/{user}", secret)
        return json.loads(body).get("event_types", {}) if status == 200 else {}

    def ingest_requests(self):
        """POST /v1/events requests answered 200, from the server's metrics."""
        _, body = self.get("/metrics")
        total = 0
        for line in body.decode().splitlines():
            if line.startswith("starling_http_requests_total{") and 'route="/v1/events"' in line \
                    and 'status="200"' in line:
                total += int(float(line.rsplit(" ", 1)[1]))
        return total


def make_key(binary, keys, kind, name, *extra):
    return subprocess.run([binary, "keys", "create", "--kind", kind, "--name", name, "--file", keys, *extra],
                          check=True, capture_output=True, text=True).stdout.strip()


def main():
    binary = os.path.abspath(sys.argv[1])
    work = tempfile.mkdtemp(prefix="starling-sdk-js-")
    site = os.path.join(work, "site")
    os.makedirs(site)
    shutil.copy(os.path.join(ROOT, "sdk/js/starling.js"), site)
    shutil.copy(os.path.join(ROOT, "sdk/js/test/index.html"), site)
    page_port = free_port()
    origin = f"http://127.0.0.1:{page_port}"
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=site)
    pages = http.server.ThreadingHTTPServer(("127.0.0.1", page_port), handler)
    threading.Thread(target=pages.serve_forever, daemon=True).start()

    keys = os.path.join(work, "keys.json")
    publishable = make_key(binary, keys, "publishable", "site", "--origin", origin, "--rate-limit", "1000",
                           "--burst", "1000")
    secret = make_key(binary, keys, "secret", "check")
    server = Server(binary, work, keys)
    server.start()

    driver = chrome()
    console = []

    def open_page():
        driver.get(f"{origin}/index.html")
        wait_until("the SDK to load", lambda: driver.execute_script("return window.sdkLoaded === true"))

    def start_sdk(user, **extra):
        settings = {"endpoint": f"http://127.0.0.1:{server.port}", "key": publishable, "user": user,
                    "batchSize": 25, "flushInterval": 200, "initialBackoff": 50, "maxBackoff": 500, **extra}
        driver.execute_script("window.starling = new window.Starling(arguments[0])", settings)

    def track(count, prefix):
        driver.execute_script(
            "for (let k = 0; k < arguments[0]; k++) window.starling.track('view', arguments[1] + k)",
            count, prefix)

    def pending():
        return driver.execute_script("return window.starling.pending()")

    def collect_console():
        console.extend(driver.get_log("browser"))

    try:
        user = "js-user"
        tracked = 0

        # A batch of 100 events is one request.
        open_page()
        start_sdk(user, batchSize=100, flushInterval=60000)
        before = server.ingest_requests()
        track(100, "batch-")
        tracked += 100
        wait_until("the batch of 100 to be acknowledged", lambda: pending() == 0)
        requests = server.ingest_requests() - before
        assert requests == 1, f"100 events took {requests} requests"
        print(f"a batch of 100 events: {requests} request")

        # Reload with events queued and in flight: the next page sends what the last one did not see acknowledged.
        start_sdk(user)
        track(200, "reload-")
        tracked += 200
        left = pending()
        collect_console()
        open_page()
        start_sdk(user)
        print(f"reloaded with {left} events unacknowledged")
        wait_until("the reloaded page to send the queue", lambda: pending() == 0)

        # The server killed while the page tracks, then restarted.
        track(50, "before-kill-")
        server.kill9()
        attempts = driver.execute_script("return window.starling.stats().requests")
        track(100, "while-down-")
        tracked += 150
        wait_until("the page to try (and fail) against the server that is down", lambda: driver.execute_script(
            "return window.starling.stats().requests") > attempts)
        assert pending() > 0, "events acknowledged while the server was down"
        server.start()
        wait_until("the queue to drain after the restart", lambda: pending() == 0)
        print("server killed and restarted while tracking: queue drained")

        # Leaving the page with events queued: they go by beacon, and the next page sends them again.
        start_sdk(user, flushInterval=60000, batchSize=1000)
        track(10, "beacon-")
        tracked += 10
        assert pending() == 10
        collect_console()
        driver.get("about:blank")
        wait_until("the beacon's events to arrive", lambda: server.event_count(user, secret) == tracked)
        beacons_arrived = server.event_count(user, secret)
        open_page()
        start_sdk(user)
        wait_until("the next page to resend them", lambda: pending() == 0)
        resent = driver.execute_script("return window.starling.stats().duplicates")
        assert resent == 10, f"the next page resent {resent} of the 10 beaconed events, the server said"

        count = server.event_count(user, secret)
        assert count == tracked, f"the server counted {count} events, {tracked} were tracked"
        print(f"tracked {tracked}, counted {count}; beacon delivered before the next page: {beacons_arrived == tracked}")

        # Dwell and scroll for the page's item when the page is hidden.
        reader = "js-reader"
        start_sdk(reader, item="dune")
        wait_until("the automatic view", lambda: server.event_types(reader, secret).get("view") == 1)
        driver.execute_script("window.scrollTo(0, document.body.scrollHeight)")
        wait_until("a second of visible time (the least a dwell event counts)", lambda: driver.execute_script(
            "return performance.now() - window.starling.visibleSince >= 1000"))
        collect_console()
        driver.get("about:blank")
        types = wait_until("dwell and scroll to arrive", lambda: (
            lambda t: t if "dwell" in t and "scroll" in t else None)(server.event_types(reader, secret)))
        print(f"events of a reader who scrolled and left: {types}")

        # What track() costs on the main thread.
        open_page()
        start_sdk("js-bench", flushInterval=60000, batchSize=10000, maxQueue=100000)
        micros = driver.execute_script("""
            const n = 2000, t0 = performance.now();
            for (let k = 0; k < n; k++) window.starling.track('view', 'bench-' + k);
            return (performance.now() - t0) * 1000 / n;""")
        print(f"track(): {micros:.1f} µs per call (mean of 2,000 on the page's main thread)")
        collect_console()

        errors = [entry for entry in console if entry["level"] == "SEVERE"
                  and "net::ERR_" not in entry["message"] and "Failed to load resource" not in entry["message"]]
        assert not errors, f"console errors: {errors}"
        print("no console errors")
    finally:
        driver.quit()
        server.stop()
        pages.shutdown()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
