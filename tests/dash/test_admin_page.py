"""The admin page in headless Chromium against the real API (gunicorn) and web app (gunicorn)."""

from __future__ import annotations

import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest
import requests
from selenium.common.exceptions import ElementClickInterceptedException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as ec

from brandpulse.model.checkpoint import load_checkpoint
from tests.conftest import save_tiny_checkpoint
from tests.dash.browser import (
    assert_only_loopback,
    requested_urls,
    screenshot,
    submit_review,
    wait,
)
from tests.dash.conftest import ADMIN_TOKEN, api_get
from tests.support.servers import wait_until

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
        lambda d: len(d.find_elements(By.CSS_SELECTOR, "#admin-section .js-plotly-plot")) == 5
    )
    wait(browser).until(lambda d: "kept" in d.find_element(By.ID, "chart-suggestions").text)
    assert_only_loopback(requested_urls(browser))

    browser.find_element(By.ID, "signout-button").click()
    wait(browser).until(ec.visibility_of_element_located((By.ID, "admin-token-input")))
    assert ADMIN_TOKEN not in browser.execute_script("return JSON.stringify(window.sessionStorage)")


def click(driver, element) -> None:
    """Scroll an element to the middle of the window, then click it as a person would; again if a
    section above it finished drawing meanwhile and moved it from under the pointer."""
    wait(driver).until(ec.element_to_be_clickable(element))

    def clicked(d) -> bool:
        d.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
        try:
            element.click()
        except ElementClickInterceptedException:  # nothing was clicked: try again
            return False
        return True

    wait(driver).until(clicked)


def test_admin_promotes_a_model_and_rolls_it_back(browser, api, web_server, tmp_path, model_path):
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
    served_row = next(row for row in rows if served in row)
    if load_checkpoint(model_path).rating_prior is not None:  # the bundled model: a third each
        assert "assumes 33 · 33 · 33 %" in served_row and "corpus 23 · 12 · 64 %" in served_row, served_row
    try:
        click(browser, browser.find_element(By.XPATH, f"//tr[contains(., '{challenger_version}')]//button"))
        wait(browser).until(lambda d: "is the champion" in d.find_element(By.ID, "model-status").text)
        wait_until(lambda: serving(challenger_version), 30, "the API did not swap to the promoted model")
        click(browser, browser.find_element(By.ID, "model-rollback"))
        wait(browser).until(lambda d: "Rolled back" in d.find_element(By.ID, "model-status").text)
        wait_until(lambda: serving(served), 30, "the API did not swap back after the rollback")
    finally:  # later tests need the model they started with
        if not serving(served):
            requests.post(
                api.url + "/api/models/rollback",
                headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
                timeout=30,
            )
            wait_until(lambda: serving(served), 30, "the API did not swap back")
    rows = [row.text for row in browser.find_elements(By.CSS_SELECTOR, "#models-list tbody tr")]
    assert any(challenger_version in row and "retired" in row for row in rows), rows


def all_reviews(api) -> list[dict]:
    """Every stored review, through the admin API, page by page."""
    items, page = [], 1
    while True:
        result = api_get(api, "/api/reviews", page=page, per_page=100)
        items += result["items"]
        if page >= result["pages"]:
            return items
        page += 1


def agreement(reviews: list[dict]) -> tuple[int, float, float]:
    """Reviews, share whose rating equals the suggestion, mean |rating - suggestion|."""
    kept = sum(review["rating"] == review["suggested_rating"] for review in reviews)
    error = sum(abs(review["rating"] - review["suggested_rating"]) for review in reviews)
    return len(reviews), kept / len(reviews), error / len(reviews)


def post_review(api, **body) -> dict:
    response = requests.post(api.url + "/api/review", json=body, timeout=30)
    assert response.status_code == 201, response.text
    return response.json()


# Reviews of visitors shown the suggestion (True) and of the control group (False).
ANCHORED = [
    ("Adidas", "Comfortable trainers, they fit well and look smart.", True),
    ("Uniqlo", "Good basics at a fair price, the shirts wash well.", True),
    ("Samsung", "The phone died after a year and repairs cost a fortune.", True),
    ("Decathlon", "Cheap and cheerful gear, fine for beginners.", True),
    ("Starbucks", "Friendly barista, my latte was ready in two minutes.", False),
    ("Apple", "Beautiful laptop, but the keyboard failed twice.", False),
    ("Patagonia", "Pricey jacket that has lasted me ten winters.", False),
]


def test_admin_shows_the_anchoring_table_and_the_suggestions_chart(browser, api, web_server):
    # Visitors shown the suggestion keep it more often than the control group agrees with it.
    for index, (brand, text, shown) in enumerate(ANCHORED):
        model = requests.post(api.url + "/api/predict", json={"review": text}, timeout=30).json()
        guess = model["suggested_rating"]
        agree = index in (0, 1, 2, 4)  # three of the four shown, one of the three in the control group
        rating = guess if agree else (1 if guess >= 3 else 5)
        suggestion = {"suggested_rating": guess} if shown else {}
        post_review(api, brand=brand, text=text, rating=rating, suggestion_shown=shown, **suggestion)

    # What the page must show, computed here from the stored reviews themselves.
    reviews = [
        review
        for review in all_reviews(api)
        if review["suggested_rating"] is not None and review["model_version"] is not None
    ]
    shown = agreement([review for review in reviews if review["suggestion_shown"] is True])
    control = agreement([review for review in reviews if review["suggestion_shown"] is False])
    expected = [
        "All versions",
        str(shown[0]),
        f"{round(shown[1] * 100)}%",
        f"{shown[2]:.2f} ★",
        str(control[0]),
        f"{round(control[1] * 100)}%",
        f"{control[2]:.2f} ★",
        f"{(shown[1] - control[1]) * 100:+.1f} pts",
        f"{shown[2] - control[2]:+.2f} ★",
    ]
    assert shown[1] > control[1]
    daily: dict[str, dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))
    for review in reviews:
        if review["suggestion_shown"] is True:  # only a visitor who saw a suggestion can keep it
            daily[review["model_version"]][review["created_at"][:10]].append(review)

    browser.get(web_server.url + "/admin")
    sign_in(browser, ADMIN_TOKEN)
    table = wait(browser).until(ec.visibility_of_element_located((By.ID, "anchoring-list")))
    first = table.find_element(By.CSS_SELECTOR, "tbody tr")
    assert [cell.text for cell in first.find_elements(By.TAG_NAME, "td")] == expected
    rows = [row.text for row in table.find_elements(By.CSS_SELECTOR, "tbody tr")]
    assert any(row.startswith(model["model_version"]) for row in rows), rows

    graph = "#chart-model-suggestions .js-plotly-plot"
    traces = wait(browser).until(
        lambda d: d.execute_script(
            "const plot = document.querySelector(arguments[0]);"
            "return plot && plot.data && plot.data.length ? "
            "plot.data.map((t) => ({name: t.name, axis: t.xaxis || 'x', x: t.x, y: t.y})) : null;",
            graph,
        )
    )
    for version, days in daily.items():
        kept = next(trace for trace in traces if trace["name"] == version and trace["axis"] == "x")
        off = next(trace for trace in traces if trace["name"] == version and trace["axis"] == "x2")
        assert kept["x"] == off["x"] == sorted(days)
        for index, day in enumerate(sorted(days)):
            _, share, error = agreement(days[day])
            assert kept["y"][index] == pytest.approx(share, abs=1e-4)
            assert off["y"][index] == pytest.approx(error, abs=1e-4)
    screenshot(browser, "admin", full_page=True)
    assert_only_loopback(requested_urls(browser))


def test_flagging_a_review_from_the_admin_page(browser, api, web_server):
    created = post_review(api, brand="Spotify", text="Visit my site for free premium accounts!!!", rating=5)

    def row():
        return browser.find_element(By.XPATH, f"//tr[contains(., '{created['text']}')]")

    browser.get(web_server.url + "/admin")
    sign_in(browser, ADMIN_TOKEN)
    wait(browser).until(ec.visibility_of_element_located((By.CSS_SELECTOR, "#reviews-table table")))
    assert "flagged" not in row().text
    click(browser, row().find_element(By.XPATH, ".//button[normalize-space()='Flag']"))
    wait(browser).until(lambda d: "flagged" in d.find_element(By.ID, "review-flag-status").text)
    assert f"Review {created['id']} flagged" in browser.find_element(By.ID, "review-flag-status").text
    assert api_get(api, f"/api/reviews/{created['id']}")["flagged"] is True
    wait(browser).until(lambda d: "flagged" in row().text and "Unflag" in row().text)
    assert "table-warning" in row().get_attribute("class")

    click(browser, row().find_element(By.XPATH, ".//button[normalize-space()='Unflag']"))
    wait(browser).until(lambda d: "unflagged" in d.find_element(By.ID, "review-flag-status").text)
    assert api_get(api, f"/api/reviews/{created['id']}")["flagged"] is False
    wait(browser).until(lambda d: "Unflag" not in row().text)
