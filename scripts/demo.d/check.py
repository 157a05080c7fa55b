"""`starling demo` in headless Chromium: the page loads with the visitor's list, and a click changes it.

Starts `starling demo` on a free loopback port with an empty data directory, waits until the demo has sent its
catalogue and shoppers' history, opens /demo, likes a book, and checks that the list the page shows afterwards is
the visitor's new one (profile version 1, a list different from before, with "similar to" reasons); no JavaScript
error in the console. Saves screenshots before and after the click when given a path prefix.

Usage: check.py STARLING_BINARY [SCREENSHOT_PREFIX]
"""

import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "browser.d"))
from support import chrome, free_port, wait_until  # noqa: E402
from selenium.webdriver.common.by import By




def main():
    binary = os.path.abspath(sys.argv[1])
    screenshots = sys.argv[2] if len(sys.argv) > 2 else None
    work = tempfile.mkdtemp(prefix="starling-demo-")
    port = free_port()
    log = open(os.path.join(work, "demo.log"), "w+")
    server = subprocess.Popen([binary, "demo", "--port", str(port), "--data-dir", os.path.join(work, "data")],
                              stdout=log, stderr=subprocess.STDOUT)

    def demo_ready():
        log.seek(0)
        return "Demo ready" in log.read()

    driver = None
    try:
        wait_until("the demo to send its catalogue and history", demo_ready, timeout=120)
        driver = chrome()
        driver.get(f"http://127.0.0.1:{port}/demo")
        wait_until("the page to show a list", lambda: driver.execute_script("return window.demoReady === true"))

        def shown():
            return [(li.get_attribute("data-item"), li.find_element(By.CLASS_NAME, "reason").text)
                    for li in driver.find_elements(By.CSS_SELECTOR, "#recommendations li")]

        before = shown()
        assert before, "the page shows no list for a new visitor"
        assert driver.execute_script("return document.body.dataset.profileVersion") == "0"
        if screenshots:
            driver.save_screenshot(f"{screenshots}-before.png")
        tile = driver.find_element(By.CSS_SELECTOR, '.tile[data-item="mystery-3"]')
        tile.find_element(By.CLASS_NAME, "like").click()
        wait_until("the list after the like", lambda: driver.execute_script(
            "return document.body.dataset.profileVersion") == "1")
        after = shown()
        print(f"before the like: {before}")
        print(f"after liking mystery-3: {after}")
        assert after != before, "the list did not change after a like"
        assert all(item != "mystery-3" for item, _ in after), "the liked book is still recommended"
        assert any(reason.startswith("similar to") for _, reason in after), "no reason names the liked book"
        if screenshots:
            driver.save_screenshot(f"{screenshots}-after.png")
        errors = [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
        assert not errors, f"console errors: {errors}"
        print("a click changed the list, with reasons; no console errors")
    finally:
        if driver:
            driver.quit()
        server.terminate()
        server.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
