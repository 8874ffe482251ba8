"""The bedside page in a real browser (headless Chromium) against a real daemon on the
simulator and a real ``pc6 web``: pair, start, STOP, pause, level, snooze, trip and reset,
revoke, a cross-origin attack, and a 360×740 screen without horizontal scroll.
"""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Iterator

import pytest
from browser_testlib import (
    chromium,
    fetch_status,
    no_horizontal_scroll,
    screenshot,
    state_is,
    text_of,
    wait,
)
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import Select
from web_testlib import Daemon, Web

from firmware_host.record.journal import Journal


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    driver = chromium()
    yield driver
    driver.quit()


@pytest.fixture
def page(browser: WebDriver, web: Web) -> WebDriver:
    """The browser paired with ``web`` through the pairing form, on the idle page."""
    browser.delete_all_cookies()
    browser.get(web.url + "/")
    assert "Not paired" in browser.page_source
    assert no_horizontal_scroll(browser)
    browser.find_element("id", "go-pair").click()
    wait(browser, lambda d: d.find_elements("id", "code"))
    browser.find_element("id", "code").send_keys(web.code)
    name = browser.find_element("id", "name")
    name.clear()
    name.send_keys("bedside phone")
    assert no_horizontal_scroll(browser)
    screenshot(browser, "pair")
    browser.find_element("id", "pair").click()
    wait(browser, state_is("idle"), "the page never showed the idle daemon")
    return browser


def _output(driver: WebDriver) -> float:
    """The output level the page shows, unrounded (the text rounds to 0.01)."""
    return float(driver.find_element("id", "output-bar").get_attribute("data-output") or 0)


def test_pair_start_and_stop_ramps_down(page: WebDriver, daemon: Daemon, web: Web) -> None:
    assert "23:30" in text_of(page, "next") and "sleep-onset" in text_of(page, "next")
    Select(page.find_element("id", "start-profile")).select_by_value("sleep-onset")
    page.find_element("id", "start").click()
    wait(page, state_is("running"))
    assert text_of(page, "profile") == "sleep-onset"
    assert "pc6 web: bedside phone" in text_of(page, "control")
    # the envelope holds 0.3 from 8 s to 12 s: stop while the band is at its level
    wait(page, lambda d: _output(d) >= 0.295, "the output never reached the profile's 0.3")
    assert no_horizontal_scroll(page)
    screenshot(page, "running")
    page.find_element("id", "stop").click()
    wait(page, state_is("idle"))
    wait(page, lambda d: text_of(d, "profile") == "nothing playing")
    assert daemon.ctl("status")["session"] is None

    with Journal(daemon.home / "journal.sqlite") as journal:
        row = journal.recent(1)[0]
        assert row.reason == "stopped" and "via pc6 web: bedside phone" in (row.detail or "")
        saved = journal.trace(row.id)
    assert saved is not None
    rows = saved[1]
    top = max(i for i, (_, v) in enumerate(rows) if v >= 0.29)
    tail = rows[top:]
    assert tail[-1][1] == 0.0
    assert all(b[1] <= a[1] for a, b in zip(tail, tail[1:], strict=False)), tail
    # The trace holds breakpoints of a piecewise-linear level: a cut would be a drop at
    # one instant; the soft stop falls at the vibration motor's rate (2 s from full level).
    ramp_s = tail[-1][0] - tail[0][0]
    assert ramp_s == pytest.approx(2.0 * tail[0][1], abs=0.1), tail

    # last night's report (the session just journaled) and its picture
    page.refresh()
    wait(page, lambda d: "sleep-onset" in text_of(d, "report-text"))
    assert "stopped" in text_of(page, "report-text")
    assert page.execute_script(
        "const i = document.getElementById('report-img'); return i.complete && i.naturalWidth"
    )
    page.execute_script("document.getElementById('report-img').scrollIntoView()")
    screenshot(page, "idle-report")


def test_pause_level_and_snooze(page: WebDriver, daemon: Daemon) -> None:
    Select(page.find_element("id", "start-profile")).select_by_value("sleep-onset")
    page.find_element("id", "start").click()
    wait(page, state_is("running"))
    page.find_element("id", "level-up").click()
    wait(page, lambda d: text_of(d, "level-value") == "1.1×")
    page.find_element("id", "level-up").click()
    wait(page, lambda d: text_of(d, "level-value") == "1.2×")
    assert daemon.ctl("status")["session"]["level"] == pytest.approx(1.2)
    page.find_element("id", "level-down").click()
    wait(page, lambda d: text_of(d, "level-value") == "1.1×")
    assert daemon.ctl("status")["session"]["level"] == pytest.approx(1.1)

    page.find_element("id", "pause").click()
    wait(page, state_is("paused"))
    assert daemon.ctl("status")["session"]["paused"] is True
    page.find_element("id", "resume").click()
    wait(page, state_is("running"))
    assert daemon.ctl("status")["session"]["paused"] is False

    Select(page.find_element("id", "snooze-for")).select_by_value("2h")
    page.find_element("id", "snooze").click()
    wait(page, lambda d: d.find_element("id", "snoozed").is_displayed())
    until = daemon.ctl("status")["snoozed_until"]
    assert until and until[11:16] in text_of(page, "snoozed")
    page.find_element("id", "snooze-off").click()
    wait(page, lambda d: not d.find_element("id", "snoozed").is_displayed())
    assert daemon.ctl("status")["snoozed_until"] is None
    page.find_element("id", "stop").click()
    wait(page, state_is("idle"))


def test_a_trip_is_shown_and_reset_asks_first(page: WebDriver, daemon: Daemon) -> None:
    # A trip the daemon keeps across a restart (a crash must not clear it): the page follows
    # the daemon going away and coming back, and shows the trip it restored.
    daemon.stop()
    wait(page, state_is("unreachable"))
    with Journal(daemon.home / "journal.sqlite") as journal:
        journal.set_state("trip", "stop button held", at=time.time())
    daemon.start()
    wait(page, state_is("tripped"))
    assert text_of(page, "trip-reason") == "stop button held"
    assert not page.find_element("id", "start-card").is_displayed()
    assert no_horizontal_scroll(page)
    screenshot(page, "tripped")

    page.find_element("id", "reset").click()
    wait(page, lambda d: d.find_element("id", "reset-confirm").is_displayed())
    page.find_element("id", "reset-no").click()
    wait(page, lambda d: not d.find_element("id", "reset-confirm").is_displayed())
    assert daemon.ctl("status")["state"] == "tripped"  # cancel changed nothing

    page.find_element("id", "reset").click()
    page.find_element("id", "reset-yes").click()
    wait(page, state_is("idle"))
    assert daemon.ctl("status")["trip"] is None
    with Journal(daemon.home / "journal.sqlite") as journal:
        reset = journal.last_event("reset")
    assert reset is not None and "pc6 web: bedside phone" in reset[2]
    assert "stop button held" in reset[2]


def test_a_revoked_device_stops_at_once(page: WebDriver, daemon: Daemon, web: Web) -> None:
    listed = web.cli("tokens").stdout
    device_id = next(line.split()[0] for line in listed.splitlines() if "bedside" in line)
    assert web.cli("revoke", device_id).returncode == 0
    wait(page, state_is("unpaired"), "the open page kept its live updates after a revoke")
    assert "no longer paired" in text_of(page, "message")
    assert fetch_status(page, "/api/start", {"profile": "sleep-onset"}) == 401
    assert daemon.ctl("status")["state"] == "idle"
    page.refresh()
    assert "Not paired" in page.page_source


ATTACK = """<!doctype html><html><body>
<form id="f" method="post" action="{url}/api/stop" enctype="text/plain">
<input name='{{"x":"' value='"}}'></form>
<script>
fetch("{url}/api/stop", {{method: "POST", credentials: "include", mode: "no-cors",
  headers: {{"Content-Type": "text/plain"}}, body: "{{}}"}})
  .finally(() => document.getElementById("f").submit());
</script></body></html>"""


class _Evil(http.server.BaseHTTPRequestHandler):
    url = ""

    def do_GET(self) -> None:
        body = ATTACK.format(url=self.url).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_a_cross_origin_post_is_refused(page: WebDriver, daemon: Daemon, web: Web) -> None:
    assert daemon.ctl("start", "sleep-onset")["ok"]
    _Evil.url = web.url
    evil = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Evil)
    thread = threading.Thread(target=evil.serve_forever, daemon=True)
    thread.start()
    try:
        # Another port on the same host is the same *site*, so the SameSite cookie goes
        # along: only the origin check stands between this page and the STOP.
        page.get(f"http://127.0.0.1:{evil.server_address[1]}/")
        wait(page, lambda d: "refused" in d.page_source, "the form post got no answer")
    finally:
        evil.shutdown()
        evil.server_close()
    assert "does not come from this page" in page.page_source
    assert daemon.ctl("status")["state"] == "running"
    assert web.log().count("refused a POST to /api/stop from origin http://127.0.0.1:") == 2


def test_the_morning_diary(page: WebDriver, daemon: Daemon) -> None:
    from firmware_host.experiment.store import Store

    wait(page, lambda d: d.find_element("id", "diary-card").is_displayed())
    if not page.find_element("id", "diary").is_displayed():  # in the morning it is open
        page.find_element("id", "diary-open").click()
    form = page.find_element("id", "diary")
    answers = {
        "in_bed": "22:40",
        "tried": "22:50",
        "sol": "20",
        "awakenings": "1",
        "waso": "15",
        "final_wake": "06:30",
        "out_of_bed": "06:45",
        "note": "windy",
    }
    for name, value in answers.items():
        field = form.find_element("name", name)
        if field.get_attribute("type") == "time":
            # A time field's display (12 or 24 hours, AM/PM) follows the machine's locale,
            # so typed digits land differently; its value is always HH:MM, as a picker sets it.
            page.execute_script(
                "arguments[0].value = arguments[1];"
                "arguments[0].dispatchEvent(new Event('input', {bubbles: true}));",
                field,
                value,
            )
        else:
            field.send_keys(value)
    Select(form.find_element("name", "quality")).select_by_value("4")
    Select(form.find_element("name", "rested")).select_by_value("3")
    assert no_horizontal_scroll(page)
    screenshot(page, "diary")
    page.find_element("id", "diary-save").click()
    wait(page, lambda d: "saved" in text_of(d, "diary-done"), "the diary was not saved")
    assert "min asleep" in text_of(page, "diary-done")
    with Store(daemon.home / "journal.sqlite") as store:
        diaries = store.diaries()
    assert len(diaries) == 1
    row = next(iter(diaries.values()))
    assert row["sol_min"] == 20 and row["quality"] == 4 and row["guess"] == "unsure"
    assert row["note"] == "windy"
