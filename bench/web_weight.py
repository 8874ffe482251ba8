"""The bedside page's weight and memory: bytes over the wire for a first load, and RSS.

Starts a real ``pc6 daemon`` on the simulator and a real ``pc6 web``, pairs a headless
Chromium with the one-time code, loads the page and sums what Chromium itself reports as
received on the network (``encodedDataLength``: headers and compressed bodies) until the
page shows the live status. Then prints the server's RSS with the page open, and with four
more pages open on the event stream.

    .venv/bin/python bench/web_weight.py
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "helpers"))

from browser_testlib import chromium, state_is, wait
from web_testlib import Daemon, Web, write_config


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def first_load(driver, url: str) -> tuple[int, dict[str, int]]:  # type: ignore[no-untyped-def]
    driver.get_log("performance")  # drop what pairing loaded
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd("Network.setCacheDisabled", {"cacheDisabled": True})
    driver.get(url + "/")
    wait(driver, state_is("idle"))
    wait(
        driver, lambda d: d.execute_script("return document.getElementById('report-img').complete")
    )
    urls: dict[str, str] = {}
    sizes: dict[str, int] = {}
    for entry in driver.get_log("performance"):
        msg = json.loads(entry["message"])["message"]
        params = msg.get("params", {})
        if msg["method"] == "Network.requestWillBeSent":
            urls[params["requestId"]] = params["request"]["url"].replace(url, "")
        elif msg["method"] == "Network.loadingFinished":
            sizes[urls.get(params["requestId"], "?")] = int(params["encodedDataLength"])
        # The event stream never finishes: count its headers and the messages that arrived.
        elif msg["method"] == "Network.responseReceived" and "events" in urls.get(
            params["requestId"], ""
        ):
            key = urls[params["requestId"]]
            sizes[key] = sizes.get(key, 0) + int(params["response"]["encodedDataLength"])
        elif msg["method"] == "Network.eventSourceMessageReceived":
            key = urls.get(params["requestId"], "/api/events")
            sizes[key] = sizes.get(key, 0) + len(params["data"]) + len("data: \n\n")
    return sum(sizes.values()), sizes


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        write_config(home)
        daemon = Daemon(home)
        daemon.start()
        web = Web(home, daemon.socket)
        web.start()
        drivers = []
        try:
            assert web.proc is not None
            idle = rss_kib(web.proc.pid)
            driver = chromium(network_log=True)
            drivers.append(driver)
            driver.get(f"{web.url}/pair?code={web.code}")
            driver.find_element("id", "pair").click()
            wait(driver, state_is("idle"))
            total, sizes = first_load(driver, web.url)
            one = rss_kib(web.proc.pid)
            for _ in range(4):
                extra = chromium()
                drivers.append(extra)
                extra.get(f"{web.url}/pair?code={web.pair_code()}")
                extra.find_element("id", "pair").click()
                wait(extra, state_is("idle"))
            five = rss_kib(web.proc.pid)
        finally:
            for d in drivers:
                d.quit()
            web.stop()
            daemon.stop()
    print(
        f"first load: {total} bytes over the wire ({total / 1024:.1f} KiB), {len(sizes)} requests"
    )
    for path, size in sorted(sizes.items(), key=lambda kv: -kv[1]):
        print(f"  {size:6d}  {path}")
    print(
        f"pc6 web RSS: {idle / 1024:.1f} MiB started, {one / 1024:.1f} MiB with one page open, "
        f"{five / 1024:.1f} MiB with five"
    )


if __name__ == "__main__":
    main()
