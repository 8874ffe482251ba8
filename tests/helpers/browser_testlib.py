"""Headless Chromium (Debian's ``chromium`` and ``chromium-driver``) through Selenium.

``scripts/test.sh`` installs both with apt when they are missing; a machine without them
fails these tests with the command to run (never a skip: CI must run them).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from selenium import webdriver
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

T = TypeVar("T")
WIDTH, HEIGHT = 360, 740
WAIT_S = 30.0
SHOTS = (
    Path(os.environ.get("PC6_WEB_SCREENSHOTS", ""))
    if os.environ.get("PC6_WEB_SCREENSHOTS")
    else None
)


def chromium(*, network_log: bool = False) -> WebDriver:
    """A headless Chromium with a 360×740 phone viewport (``network_log`` for bench/)."""
    driver_path = shutil.which("chromedriver") or "/usr/bin/chromedriver"
    browser = shutil.which("chromium") or "/usr/bin/chromium"
    if not (Path(driver_path).exists() and Path(browser).exists()):
        raise RuntimeError(
            "Chromium and its driver are missing: run `sh scripts/test.sh` (it installs them) "
            "or `sudo apt-get install chromium chromium-driver`"
        )
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-extensions",
        "--no-first-run",
        f"--window-size={WIDTH},{HEIGHT}",
    ):
        options.add_argument(arg)
    if network_log:
        options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(driver_path))
    phone(driver)
    return driver


def phone(driver: WebDriver, height: int = HEIGHT) -> None:
    """Make the viewport exactly a small phone's (CSS pixels)."""
    driver.execute_cdp_cmd(  # type: ignore[attr-defined]
        "Emulation.setDeviceMetricsOverride",
        {"width": WIDTH, "height": height, "deviceScaleFactor": 1, "mobile": True},
    )


def wait(driver: WebDriver, what: Callable[[WebDriver], T], message: str = "") -> T:
    """Wait for page state with Selenium's explicit wait (no sleeps)."""
    return WebDriverWait(
        driver,
        WAIT_S,
        poll_frequency=0.1,
        ignored_exceptions=(NoSuchElementException, StaleElementReferenceException),
    ).until(what, message)


def state_is(state: str) -> Callable[[WebDriver], bool]:
    """The page's rendered daemon state (``body[data-state]``)."""
    return lambda d: d.find_element("tag name", "body").get_attribute("data-state") == state


def text_of(driver: WebDriver, element_id: str) -> str:
    return str(driver.find_element("id", element_id).text)


def no_horizontal_scroll(driver: WebDriver) -> bool:
    """Nothing on the page is wider than the phone."""
    width = driver.execute_script(
        "return [document.documentElement.scrollWidth, document.body.scrollWidth,"
        " window.innerWidth]"
    )
    return bool(max(width[0], width[1]) <= width[2] == WIDTH)


def screenshot(driver: WebDriver, name: str) -> None:
    """The whole page at phone width, into ``$PC6_WEB_SCREENSHOTS`` when it is set."""
    if SHOTS is None:
        return
    height = int(driver.execute_script("return document.documentElement.scrollHeight"))
    phone(driver, max(HEIGHT, height))
    SHOTS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(SHOTS / f"web-{name}.png"))
    phone(driver)


def fetch_status(driver: WebDriver, path: str, body: dict[str, Any]) -> int:
    """POST from inside the page, as its own script would (cookie, CSRF and all)."""
    return int(
        driver.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "const csrf = document.querySelector('meta[name=\"csrf-token\"]').content;"
            "fetch(arguments[0], {method: 'POST', credentials: 'same-origin',"
            " headers: {'Content-Type': 'application/json', 'X-CSRF-Token': csrf},"
            " body: JSON.stringify(arguments[1])}).then(r => done(r.status), e => done(-1));",
            path,
            body,
        )
    )
