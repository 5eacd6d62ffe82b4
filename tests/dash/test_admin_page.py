"""The admin page in headless Chromium against the real API (gunicorn) and web app (gunicorn)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as ec

from brandpulse.training.checkpoint import load_checkpoint
from tests.conftest import save_tiny_checkpoint
from tests.dash.browser import (
    assert_only_loopback,
    requested_urls,
    screenshot,
    submit_review,
    wait,
)
from tests.dash.conftest import ADMIN_TOKEN, poll

pytestmark = pytest.mark.browser


def sign_in(driver, token: str) -> None:
    """Type a token into the sign-in form and press Enter."""
    field = wait(driver).until(ec.visibility_of_element_located((By.ID, "admin-token-input")))
    field.clear()
    field.send_keys(token, Keys.ENTER)


# Earlier reviews, so the charts have something to show: (brand, rating, text).
EARLIER = [
    ("Nike", 5, "Great running shoes, light and comfortable from the first day."),
    ("Nike", 2, "The sole came off after a month. Disappointing for the price."),
    ("IKEA", 4, "Easy to assemble and looks good in the living room."),
    ("IKEA", 1, "Missing screws and the instructions were useless. Never again."),
    ("LEGO", 5, "My kids love it, hours of fun and excellent quality bricks."),
    ("Spotify", 3, "Good playlists but too many ads on the free plan."),
    ("Airbnb", 4, "Lovely flat, friendly host, the check-in was a little slow."),
]


def post_earlier_reviews(api) -> None:
    """Store the EARLIER reviews through the API (which scores them)."""
    for brand, rating, text in EARLIER:
        response = requests.post(
            api.url + "/api/review", json={"brand": brand, "rating": rating, "text": text}, timeout=30
        )
        assert response.status_code == 201, response.text


def test_admin_rejects_a_wrong_token_and_lists_the_new_review(browser, api, web_server):
    post_earlier_reviews(api)
    text = "The admin should see this one: sturdy and well priced."
    brand = submit_review(browser, web_server, text, rating=4)

    browser.get(web_server.url + "/admin")
    wait(browser).until(ec.title_is("BrandPulse — admin"))
    sign_in(browser, "not-the-admin-token-at-all")
    message = wait(browser).until(ec.visibility_of_element_located((By.ID, "signin-alert")))
    assert "token is not valid" in message.text
    assert not browser.find_element(By.ID, "admin-section").is_displayed()
    assert browser.execute_script("return window.sessionStorage.length") in (0, 1)

    sign_in(browser, ADMIN_TOKEN)
    table = wait(browser).until(ec.visibility_of_element_located((By.CSS_SELECTOR, "#reviews-table table")))
    rows = [row.text for row in table.find_elements(By.CSS_SELECTOR, "tbody tr")]
    assert any(text in row and brand in row and "4 ★" in row for row in rows), rows
    assert not browser.find_element(By.ID, "signin-section").is_displayed()
    # The token is kept in this tab's session storage only.
    session = browser.execute_script("return JSON.stringify(window.sessionStorage)")
    assert ADMIN_TOKEN in session
    assert ADMIN_TOKEN not in browser.execute_script("return JSON.stringify(window.localStorage)")
    assert ADMIN_TOKEN not in browser.get_cookies().__repr__()

    # Filters go to the API: a rating nobody gave lists nothing.
    browser.find_element(By.CSS_SELECTOR, "#filter-rating option[value='4']").click()
    wait(browser).until(lambda d: "page 1 of" in d.find_element(By.ID, "reviews-count").text)
    assert all(
        "4 ★" in row.text.split("\n")[0] or "4 ★" in row.text
        for row in browser.find_elements(By.CSS_SELECTOR, "#reviews-table tbody tr")
    )
    browser.find_element(By.CSS_SELECTOR, "#filter-rating option[value='*']").click()

    wait(browser).until(
        lambda d: len(d.find_elements(By.CSS_SELECTOR, "#admin-section .js-plotly-plot")) == 4
    )
    wait(browser).until(lambda d: "kept" in d.find_element(By.ID, "chart-suggestions").text)
    screenshot(browser, "admin", full_page=True)
    assert_only_loopback(requested_urls(browser))

    browser.find_element(By.ID, "signout-button").click()
    wait(browser).until(ec.visibility_of_element_located((By.ID, "admin-token-input")))
    assert ADMIN_TOKEN not in browser.execute_script("return JSON.stringify(window.sessionStorage)")


def click(driver, element) -> None:
    """Scroll an element to the middle of the window, then click it as a person would."""
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
    wait(driver).until(ec.element_to_be_clickable(element))
    element.click()


def test_admin_promotes_a_model_and_rolls_it_back(browser, api, web_server, tmp_path):
    challenger = save_tiny_checkpoint(tmp_path / "challenger.safetensors", seed=1)
    register = subprocess.run(
        [
            str(Path(sys.executable).parent / "flask"),
            "--app",
            "brandpulse.api",
            "model",
            "register",
            str(challenger),
        ],
        env=api.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert register.returncode == 0, register.stderr
    challenger_version = load_checkpoint(challenger).version
    served = requests.get(api.url + "/readyz", timeout=30).json()["model_version"]

    def serving(version: str) -> bool:
        return requests.get(api.url + "/readyz", timeout=30).json()["model_version"] == version

    browser.get(web_server.url + "/admin")
    sign_in(browser, ADMIN_TOKEN)
    table = wait(browser).until(ec.visibility_of_element_located((By.ID, "models-list")))
    rows = [row.text for row in table.find_elements(By.CSS_SELECTOR, "tbody tr")]
    assert any(served in row and "champion (served)" in row for row in rows), rows
    assert any(challenger_version in row and "candidate" in row for row in rows), rows
    try:
        click(browser, browser.find_element(By.XPATH, f"//tr[contains(., '{challenger_version}')]//button"))
        wait(browser).until(lambda d: "is the champion" in d.find_element(By.ID, "model-status").text)
        poll(lambda: serving(challenger_version), 30, "the API did not swap to the promoted model")
        click(browser, browser.find_element(By.ID, "model-rollback"))
        wait(browser).until(lambda d: "Rolled back" in d.find_element(By.ID, "model-status").text)
        poll(lambda: serving(served), 30, "the API did not swap back after the rollback")
    finally:  # later tests need the model they started with
        if not serving(served):
            requests.post(
                api.url + "/api/models/rollback",
                headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
                timeout=30,
            )
            poll(lambda: serving(served), 30, "the API did not swap back")
    rows = [row.text for row in browser.find_elements(By.CSS_SELECTOR, "#models-list tbody tr")]
    assert any(challenger_version in row and "retired" in row for row in rows), rows
