"""Headless Chromium through Debian's chromedriver, for the browser tests and the browser benchmark.

The driver's path is always given, so Selenium Manager never runs and nothing is downloaded.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

# Headless, no sandbox (containers, root), and nothing that reaches out to the network by itself.
FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--no-first-run",
    "--disable-quic",
    "--window-size=1280,1000",
)


@contextmanager
def headless_chromium(binary: str, driver_path: str, network_log: bool = False) -> Iterator[Any]:
    """A Chrome WebDriver on a throw-away profile, quit and its profile removed afterwards.

    `network_log` records the performance log (every request the page makes) and the console.
    """
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="brandpulse-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for argument in (*FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(argument)
    if network_log:
        options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
