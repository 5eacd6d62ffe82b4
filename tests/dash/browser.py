"""Helpers that drive the pages in Chromium: open, type, read the score bar, wait, screenshot."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.wait import WebDriverWait

from tests.conftest import REPO_ROOT

SCREENSHOTS = REPO_ROOT / "artifacts" / "screenshots"
WAIT = 20  # seconds; every wait ends as soon as its condition holds
POSITIVE = (
    "Absolutely wonderful! Great quality, friendly staff and fast delivery. I love it and recommend it."
)
NEGATIVE = "Terrible. It broke after two days, support never answered and I want my money back. Awful."


def wait(driver: Any, timeout: float = WAIT) -> WebDriverWait:
    """An explicit wait that retries while Dash re-renders the element being looked at."""
    return WebDriverWait(driver, timeout, ignored_exceptions=(StaleElementReferenceException,))


def new_session_on(driver: Any, web: Any) -> None:
    """Start a new browser session on `web`'s origin: its session storage (the suggestion group)
    and local storage (a draft an earlier test left there) cleared. The `browser` fixture clears
    them for the main web server only."""
    driver.get(f"{web.url}/healthz")
    driver.execute_script("window.sessionStorage.clear(); window.localStorage.clear();")


def open_review_page(driver: Any, web: Any, query: str = "") -> str:
    """Open the review page and wait for its brand (and the heading naming it); the brand's name."""
    driver.get(f"{web.url}/{query}")
    wait(driver).until(ec.visibility_of_element_located((By.ID, "brand-name")))
    wait(driver).until(ec.title_is("BrandPulse — review a brand"))
    name = driver.find_element(By.ID, "brand-name").text
    wait(driver).until(lambda d: d.find_element(By.ID, "review-heading").text == f"Review {name}")
    return name


def bar(driver: Any) -> Any:
    """The score bar's inner element (Bootstrap's .progress-bar)."""
    return driver.find_element(By.CSS_SELECTOR, "#score-bar .progress-bar")


def bar_state(driver: Any) -> tuple[str, str]:
    """The bar's colour class and its label."""
    element = bar(driver)
    colours = [name for name in element.get_attribute("class").split() if name.startswith("bg-")]
    return (colours[0] if colours else ""), element.get_attribute("textContent").strip()


def type_text(driver: Any, text: str) -> None:
    """Type into the review box like a person (the text arrives key by key)."""
    box = driver.find_element(By.ID, "review-text")
    box.click()
    box.send_keys(text)


def paste_text(driver: Any, text: str) -> None:
    """Replace the review box's text at once, as a paste does (React sees one input event)."""
    box = driver.find_element(By.ID, "review-text")
    driver.execute_script(
        """
        const box = arguments[0];
        Object.getOwnPropertyDescriptor(HTMLTextAreaElement.prototype, "value").set.call(box, arguments[1]);
        box.dispatchEvent(new Event("input", {bubbles: true}));
        """,
        box,
        text,
    )


def box_text(driver: Any) -> str:
    """What the review box holds."""
    return driver.find_element(By.ID, "review-text").get_attribute("value")


def connection_alert(driver: Any) -> str:
    """The "Connection lost" line's text, or "" while it is hidden."""
    element = driver.find_element(By.ID, "connection-alert")
    return element.text if element.is_displayed() else ""


def bar_is_stale(driver: Any) -> bool:
    """Whether the bar is greyed as belonging to older text."""
    return "stale" in (driver.find_element(By.ID, "score-area").get_attribute("class") or "").split()


def wait_for_score_of(driver: Any, text: str) -> None:
    """Wait until the bar shows the score of exactly `text` (the status line says which text it scored)."""
    wait(driver).until(
        lambda d: d.find_element(By.ID, "score-status").get_attribute("data-scored-length") == str(len(text))
    )


def suggested_stars(driver: Any) -> int:
    """The suggested rating the page shows ("suggested 4 ★ …")."""
    summary = driver.find_element(By.ID, "rating-summary").text
    assert summary.startswith("suggested "), summary
    return int(summary.split()[1])


def checked_rating(driver: Any) -> int | None:
    """The star rating selected in the form."""
    checked = driver.find_elements(By.CSS_SELECTOR, "#rating-input input:checked")
    return int(checked[0].get_attribute("value")) if checked else None


def choose_rating(driver: Any, rating: int) -> None:
    """Click the label of a star rating, as a visitor does."""
    driver.find_element(By.CSS_SELECTOR, f"#rating-input label[for$='{rating}']").click()


def alert(driver: Any) -> Any:
    """The page's message, once shown."""
    return wait(driver).until(ec.visibility_of_element_located((By.CSS_SELECTOR, "#review-alert")))


def requested_urls(driver: Any) -> list[str]:
    """Every URL the browser requested since the log was last read (from Chromium's network log)."""
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


LOOPBACK = re.compile(r"^(https?|wss?)://(127\.0\.0\.1|localhost|\[::1\])(:\d+)?/")


def assert_only_loopback(urls: list[str]) -> None:
    """No URL goes beyond this machine (data: and blob: URLs need no request at all)."""
    remote = [
        url for url in urls if not url.startswith(("data:", "blob:", "about:")) and not LOOPBACK.match(url)
    ]
    assert not remote, f"requests beyond loopback: {remote}"


def screenshot(driver: Any, name: str, full_page: bool = False) -> Path:
    """Save a PNG of the page under artifacts/screenshots/ (git-ignored), optionally all of it."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    size = driver.get_window_size()
    if full_page:
        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.set_window_size(size["width"], height + 140)  # plus the window's frame
    try:
        assert driver.save_screenshot(str(path)), f"could not save {path}"
    finally:
        driver.set_window_size(size["width"], size["height"])
    return path


def submit_review(driver: Any, web: Any, text: str, rating: int) -> str:
    """Write and submit a review through the review page; the brand it was for."""
    brand = open_review_page(driver, web)
    type_text(driver, text)
    wait_for_score_of(driver, text)
    choose_rating(driver, rating)
    driver.find_element(By.ID, "submit-review").click()
    message = alert(driver)
    assert "alert-success" in message.get_attribute("class"), message.text
    return brand
