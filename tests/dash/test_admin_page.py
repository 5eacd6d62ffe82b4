"""The admin page in headless Chromium against the real API (gunicorn) and web app (gunicorn)."""

from __future__ import annotations

import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest
import requests
import torch
from selenium.common.exceptions import (
    ElementClickInterceptedException,
    StaleElementReferenceException,
    TimeoutException,
)
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as ec

from brandpulse.model.checkpoint import load_checkpoint
from tests.conftest import save_tiny_checkpoint
from tests.dash.browser import (
    SCREENSHOTS,
    assert_only_loopback,
    requested_urls,
    screenshot,
    submit_review,
    wait,
)
from tests.dash.conftest import ADMIN_TOKEN, api_get, api_registry
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
    # Every review with a suggestion, shown or not: a match, not a kept suggestion.
    wait(browser).until(lambda d: "% match (" in d.find_element(By.ID, "chart-suggestions").text)
    assert_only_loopback(requested_urls(browser))

    browser.find_element(By.ID, "signout-button").click()
    wait(browser).until(ec.visibility_of_element_located((By.ID, "admin-token-input")))
    assert ADMIN_TOKEN not in browser.execute_script("return JSON.stringify(window.sessionStorage)")


def click(driver, element) -> None:
    """Scroll an element to the middle of the window, then click it as a person would; again if a
    section above it finished drawing meanwhile and moved it from under the pointer."""
    wait(driver).until(ec.element_to_be_clickable(element))

    def clicked(d) -> bool:
        d.execute_script("arguments[0].scrollIntoView({block: 'center', behavior: 'instant'})", element)
        try:
            element.click()
        except ElementClickInterceptedException:  # nothing was clicked: try again
            return False
        return True

    wait(driver).until(clicked)


def register_with_the_command(api, checkpoint: Path) -> str:
    """Register a checkpoint as a candidate with `flask model register`, as an admin would; its version."""
    register = subprocess.run(
        [
            str(Path(sys.executable).parent / "flask"),
            "--app",
            "brandpulse.api",
            "model",
            "register",
            str(checkpoint),
        ],
        env=api.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert register.returncode == 0 or "already registered" in register.stderr, register.stderr
    return load_checkpoint(checkpoint).version


# A retrain round's record, as `retrain_round.record` writes it: what the round read and used, and
# both models measured on the same rows (the champion before, the challenger after).
RETRAINED_COUNTS = {
    "usable": 510,
    "dropped": {"flagged": 1, "too_short": 12, "repeated_by_client": 0, "duplicate": 3, "in_fixed_test": 0},
    "kept_suggestion": 140,
    "recent": 102,
    "train": {"base": 58776, "feedback": 347},
    "validation": {"base": 2000, "feedback": 61},
    "fixed_test": 4000,
}
CHAMPION_FIGURES = {
    "recent": {"n": 102, "band_accuracy": 0.677, "score_correlation": 0.61},
    "fixed": {
        "n": 4000,
        "band_balanced_accuracy": 0.66,
        "score_correlation": 0.806,
        "band_recall": {"bad": 0.812, "average": 0.402, "good": 0.766},
    },
}
CHALLENGER_FIGURES = {
    "recent": {"n": 102, "band_accuracy": 0.75},
    "fixed": {"n": 4000, "band_balanced_accuracy": 0.64, "score_correlation": 0.809},
    "fixed_at_champion_rates": {
        "n": 4000,
        "band_balanced_accuracy": 0.663,
        "score_correlation": 0.809,
        "band_recall": {"bad": 0.805, "average": 0.415, "good": 0.77},
    },
}


def register_retrained(api, parent: str, seed: int) -> tuple[str, str]:
    """Register, as a `retrain` round records its challenger, a candidate trained from `parent`:
    its data (the parent's corpus plus stored reviews), both models' figures and the real gate's
    decision on them. The version and the gate's reason."""
    from brandpulse.api.storage import registry
    from brandpulse.api.storage.tables import ModelVersion
    from brandpulse.learning.gate import GateRules, decide
    from brandpulse.model.charcnn import CharCNN
    from brandpulse.model.checkpoint import save_checkpoint
    from tests.conftest import TINY_ENCODER, TINY_MODEL

    decision = decide(CHAMPION_FIGURES, CHALLENGER_FIGURES, GateRules())
    assert decision.promote, decision.reason
    with api_registry(api) as model_dir:
        corpus = (
            load_checkpoint(
                registry.resolve_file(ModelVersion.get(ModelVersion.version == parent).file, model_dir)
            ).info.corpus_fingerprint
            or "c" * 64
        )
        torch.manual_seed(seed)
        path = save_checkpoint(
            model_dir / f"retrained-{seed}.safetensors",
            CharCNN(TINY_MODEL, TINY_ENCODER).eval(),
            classes=("negative", "positive"),
            info={
                "architecture": "tiny",
                "parent": parent,
                "data": {"fingerprint": f"{seed:064x}", "base_fingerprint": corpus},
            },
        )
        version = load_checkpoint(path).version
        if ModelVersion.get_or_none(ModelVersion.version == version) is None:
            metrics = {
                **{key: CHALLENGER_FIGURES[key] for key in ("fixed", "fixed_at_champion_rates", "recent")},
                "champion": {"version": parent, **CHAMPION_FIGURES},
                "gate": decision.as_dict(),
            }
            registry.register(
                path,
                model_dir=model_dir,
                parent=parent,
                counts=RETRAINED_COUNTS,
                metrics=metrics,
                reason=f"gate: {decision.reason}",
            )
    return version, decision.reason


def post_shown_review(api, brand: str, text: str, keep: bool) -> dict:
    """A review whose visitor saw the model's suggestion and kept it, or rated one star off."""
    predicted = requests.post(api.url + "/api/predict", json={"text": text}, timeout=30).json()
    suggested = predicted["suggested_rating"]
    rating = suggested if keep else (suggested - 1 if suggested > 1 else 2)
    return post_review(
        api, brand=brand, text=text, rating=rating, prediction_token=predicted["token"], suggestion_shown=True
    )


def shown_figures(api) -> tuple[int, int, float]:
    """Computed here from the stored reviews: those whose visitor saw a named version's suggestion,
    how many kept it, and their mean |rating - suggestion|."""
    shown = [
        review
        for review in all_reviews(api)
        if review["suggestion_shown"] is True and review["suggested_rating"] and review["model_version"]
    ]
    kept = sum(review["rating"] == review["suggested_rating"] for review in shown)
    error = sum(abs(review["rating"] - review["suggested_rating"]) for review in shown)
    return len(shown), kept, error / len(shown)


def card(driver, version: str):
    """A model version's card in the Models section."""
    return driver.find_element(By.CSS_SELECTOR, f'#models-list [data-version="{version}"]')


def served_mark_on(driver, version: str) -> bool:
    """Whether the page marks `version` as the one served (and no other)."""
    cards = driver.find_elements(By.CSS_SELECTOR, "#models-list [data-version]")
    served = [
        item.get_attribute("data-version") for item in cards if item.get_attribute("data-served") == "true"
    ]
    return served == [version] and "(served)" in card(driver, version).find_element(By.TAG_NAME, "h3").text


def click_promote(driver, version: str) -> None:
    """Click a version's Promote button, found afresh each try (the list may be drawn again)."""

    missed: list[str] = []

    def clicked(d) -> bool:
        try:
            button = card(d, version).find_element(By.XPATH, ".//button[normalize-space()='Promote']")
            d.execute_script("arguments[0].scrollIntoView({block: 'center', behavior: 'instant'})", button)
            button.click()
        except (StaleElementReferenceException, ElementClickInterceptedException) as error:
            missed.append(error.msg or type(error).__name__)
            return False
        return True

    try:
        wait(driver).until(clicked)
    except TimeoutException:
        raise AssertionError(f"Promote {version} could not be clicked: {missed[-1:]}") from None


def dialog(driver):
    """The open confirmation dialog."""
    return wait(driver).until(
        ec.visibility_of_element_located((By.CSS_SELECTOR, "#model-confirm .modal-content"))
    )


def test_admin_promotes_a_model_and_rolls_it_back(browser, api, web_server, tmp_path, model_path):
    from_file = register_with_the_command(
        api, save_tiny_checkpoint(tmp_path / "challenger.safetensors", seed=1)
    )
    served = requests.get(api.url + "/readyz", timeout=30).json()["model_version"]
    challenger, reason = register_retrained(api, served, seed=21)
    for index, keep in enumerate((True, True, False)):
        post_shown_review(api, "Nike", f"Light running shoes, number {index}, comfortable all day.", keep)
    reviews, kept, error = shown_figures(api)

    def serving(version: str) -> bool:
        return requests.get(api.url + "/readyz", timeout=30).json()["model_version"] == version

    browser.get(web_server.url + "/admin")
    sign_in(browser, ADMIN_TOKEN)
    wait(browser).until(ec.visibility_of_element_located((By.ID, "models-list")))
    browser.execute_script("window.notReloaded = true")  # gone if the page reloads
    champion = card(browser, served).text
    assert f"{served} — champion (served)" in champion and "Registered" in champion
    assert "by install (db upgrade)" in champion, champion
    assert "no stored reviews (registered from a file)" in champion
    assert "no gate: registered from a file, not trained by retrain" in champion
    # One definition: the headline and the versions' live figures count the same reviews.
    headline = browser.find_element(By.ID, "admin-headline").text
    assert f"Suggestion kept\n{round(kept / reviews * 100)}% ({kept} of {reviews})" in headline, headline
    assert f"{error:.2f} ★ ({reviews} reviews)" in headline, headline
    lives = [item.text for item in browser.find_elements(By.CSS_SELECTOR, "#models-list [data-version]")]
    counted = [
        int(line.split(" of ")[1].split(")")[0])
        for text in lives
        for line in text.split("\n")
        if line.startswith("kept ")
    ]
    assert sum(counted) == reviews, lives
    if load_checkpoint(model_path).rating_prior is not None:  # the bundled model: a third each
        assert "assumes 33 · 33 · 33 %" in champion and "corpus 23 · 12 · 64 %" in champion, champion

    candidate = card(browser, challenger).text
    assert f"{challenger} — candidate" in candidate and f"Parent\n{served}" in candidate
    assert f"Gate\npassed: {reason}" in candidate and "Live\nno reviews yet" in candidate
    assert "plus 408 stored reviews (347 trained on, 61 validating); 102 newest held out" in candidate
    assert "510 usable; dropped: duplicate 3, flagged 1, too short 12" in candidate
    table = card(browser, challenger).find_element(By.CSS_SELECTOR, "table.gate-figures")
    rows = [row.text for row in table.find_elements(By.CSS_SELECTOR, "tbody tr")]
    assert rows[0] == "Recent reviews (102) band accuracy 0.677 0.750 +0.073", rows
    assert rows[1] == "Fixed test (4,000) balanced band accuracy 0.660 0.663 +0.003", rows
    assert rows[-1] == "Fixed test (4,000) recall of good (4–5 ★) 0.766 0.770 +0.004", rows
    assert "no gate" in card(browser, from_file).text
    section_screenshot(browser, "admin-models")

    try:
        # Promote asks first, naming the version and its figures; Cancel changes nothing.
        click_promote(browser, challenger)
        asked = dialog(browser)
        assert asked.find_element(By.ID, "model-confirm-title").text == f"Promote {challenger}?"
        assert f"Gate: passed: {reason}" in asked.text and "Live: no reviews yet" in asked.text
        champion_live = f"Live: kept {round(kept / reviews * 100)}% ({kept} of {reviews})"
        assert champion_live in asked.text  # the champion's figures beside the candidate's
        modal = browser.find_element(By.XPATH, "//*[@role='dialog'][.//*[@id='model-confirm']]")
        assert modal.get_attribute("aria-modal") == "true"
        assert modal.get_attribute("aria-labelledby") == "model-confirm-title"
        click(browser, browser.find_element(By.ID, "model-confirm-no"))
        wait(browser).until(lambda d: d.find_element(By.ID, "model-status").text == "Nothing was changed.")
        assert serving(served)

        click_promote(browser, challenger)
        dialog(browser)
        assert browser.find_element(By.ID, "model-confirm-yes").text == f"Promote {challenger}"
        click(browser, browser.find_element(By.ID, "model-confirm-yes"))
        wait(browser).until(lambda d: "is the champion" in d.find_element(By.ID, "model-status").text)
        wait_until(lambda: serving(challenger), 30, "the API did not swap to the promoted model")
        # The served mark follows the API without a reload.
        wait(browser).until(lambda d: served_mark_on(d, challenger))
        assert browser.execute_script("return window.notReloaded === true")
        assert browser.find_element(By.ID, "models-served-line").text == f"Served now: {challenger}"
        promoted = card(browser, challenger).text
        assert f"{challenger} — champion (served)" in promoted
        assert "by admin page, admin token from 127.0.0.1" in promoted, promoted
        assert "Last decision\npromoted" in promoted
        assert f"{served} — retired" in card(browser, served).text

        rollback = browser.find_element(By.ID, "model-rollback")
        assert rollback.text == f"Roll back to {served}"
        click(browser, rollback)
        asked = dialog(browser)
        assert asked.find_element(By.ID, "model-confirm-title").text == f"Roll back to {served}?"
        assert f"{served} becomes the champion again and {challenger} is retired." in asked.text
        click(browser, browser.find_element(By.ID, "model-confirm-yes"))
        wait(browser).until(lambda d: "Rolled back" in d.find_element(By.ID, "model-status").text)
        wait_until(lambda: serving(served), 30, "the API did not swap back after the rollback")
        wait(browser).until(lambda d: served_mark_on(d, served))
        assert browser.execute_script("return window.notReloaded === true")
    finally:  # later tests need the model they started with
        if not serving(served):
            requests.post(
                api.url + "/api/models/rollback",
                headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
                timeout=30,
            )
            wait_until(lambda: serving(served), 30, "the API did not swap back")
    # A retired version shows its heading; its facts are one click away.
    assert card(browser, challenger).text == f"{challenger} — retired"
    click(browser, card(browser, challenger).find_element(By.TAG_NAME, "summary"))
    retired = card(browser, challenger).text
    assert "Last decision\nrolled back by admin page" in retired and f"Gate\npassed: {reason}" in retired
    assert f"Last decision\nrollback from {challenger}" in card(browser, served).text


def section_screenshot(driver, name: str) -> Path:
    """Save a PNG of the Models section alone (the whole of it) under artifacts/screenshots/."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    size = driver.get_window_size()
    driver.set_window_size(
        size["width"], driver.execute_script("return document.documentElement.scrollHeight") + 140
    )
    try:
        assert driver.find_element(By.ID, "models-section").screenshot(str(path)), f"could not save {path}"
    finally:
        driver.set_window_size(size["width"], size["height"])
    return path


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
    # The message names the review by the id the table shows in its first column.
    assert browser.find_element(By.CSS_SELECTOR, "#reviews-table thead th").text == "ID"
    assert row().find_element(By.TAG_NAME, "td").text == str(created["id"])
    assert api_get(api, f"/api/reviews/{created['id']}")["flagged"] is True
    wait(browser).until(lambda d: "flagged" in row().text and "Unflag" in row().text)
    assert "table-warning" in row().get_attribute("class")

    click(browser, row().find_element(By.XPATH, ".//button[normalize-space()='Unflag']"))
    wait(browser).until(lambda d: "unflagged" in d.find_element(By.ID, "review-flag-status").text)
    assert api_get(api, f"/api/reviews/{created['id']}")["flagged"] is False
    wait(browser).until(lambda d: "Unflag" not in row().text)
