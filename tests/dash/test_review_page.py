"""The review page in headless Chromium against the real API (gunicorn) and web app (gunicorn)."""

from __future__ import annotations

import math
import re
import time

import pytest
import requests
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.select import Select

from brandpulse.dash import components
from brandpulse.dash.components import score_percent
from tests.dash.browser import (
    NEGATIVE,
    POSITIVE,
    alert,
    assert_only_loopback,
    bar,
    bar_state,
    box_text,
    checked_rating,
    choose_rating,
    connection_alert,
    new_session_on,
    open_review_page,
    paste_text,
    requested_urls,
    screenshot,
    suggested_stars,
    type_text,
    wait,
    wait_for_score_of,
)
from tests.dash.conftest import api_get, predict_requests

pytestmark = pytest.mark.browser

OUT_OF_DATE_OFFLINE = (
    "Out of date: this estimate is for your earlier text. A new estimate comes once the connection is back."
)


def click(driver, element) -> None:
    """Scroll `element` into view at once (Bootstrap scrolls smoothly: a click would outrun it), click it."""
    driver.execute_script("arguments[0].scrollIntoView({block: 'center', behavior: 'instant'})", element)
    element.click()


def active_id(driver) -> str:
    """The id of the element that has the keyboard focus ("" for none)."""
    return driver.execute_script("return document.activeElement ? document.activeElement.id : ''")


@pytest.mark.parametrize(
    ("text", "colour", "ratings", "name"),
    [
        (POSITIVE, "bg-success", {4, 5}, "review-positive"),
        (NEGATIVE, "bg-danger", {1, 2}, "review-negative"),
    ],
)
def test_typing_scores_the_review_live(
    browser, api, web_server, bundled_checkpoint, text, colour, ratings, name
):
    open_review_page(browser, web_server)
    type_text(browser, text)
    wait_for_score_of(browser, text)
    shown_colour, label = bar_state(browser)
    assert shown_colour == colour
    assert label.endswith("%") and 0 <= int(label[:-1]) <= 100
    assert bar(browser).text == label  # readable, however small the score
    assert suggested_stars(browser) in ratings
    assert checked_rating(browser) == suggested_stars(browser)  # the stars follow the suggestion
    assert not browser.find_element(By.ID, "submit-review").get_attribute("disabled")
    screenshot(browser, name)
    assert_only_loopback(requested_urls(browser))


def test_submit_stores_the_review_with_the_visitors_rating(browser, api, web_server):
    brand = open_review_page(browser, web_server)
    submit = browser.find_element(By.ID, "submit-review")
    assert submit.get_attribute("disabled")  # nothing typed yet
    first = "Solid product overall, arrived on time"
    type_text(browser, first)
    wait_for_score_of(browser, first)
    suggested = suggested_stars(browser)
    chosen = 1 if suggested != 1 else 5
    choose_rating(browser, chosen)
    wait(browser).until(lambda d: "your rating" in d.find_element(By.ID, "rating-summary").text)
    more = " and the colour is exactly as pictured."
    type_text(browser, more)  # a new score must not move the visitor's rating
    wait_for_score_of(browser, first + more)
    summary = browser.find_element(By.ID, "rating-summary").text
    final_suggestion = suggested_stars(browser)
    assert summary == f"suggested {final_suggestion} ★ — your rating {chosen} ★"
    assert checked_rating(browser) == chosen

    submit.click()
    message = alert(browser)
    assert "alert-success" in message.get_attribute("class"), message.text
    assert f"review of {brand} was saved" in message.text
    wait(browser).until(lambda d: d.find_element(By.ID, "brand-name").text != brand)
    assert browser.find_element(By.ID, "review-text").get_attribute("value") == ""
    wait(browser).until(lambda d: bar_state(d) == ("bg-secondary", ""))
    assert checked_rating(browser) is None
    assert browser.find_element(By.ID, "submit-review").get_attribute("disabled")
    following = browser.find_element(By.ID, "brand-name").text
    assert message.text.endswith(f"Next up: {following}.")
    assert browser.find_element(By.ID, "review-heading").text == f"Review {following}"
    type_text(browser, "N")  # the next review begins: the last one's confirmation goes
    wait(browser).until(lambda d: not d.find_elements(By.CSS_SELECTOR, "#review-alert.show"))

    stored = api_get(api, "/api/reviews", brand=brand)["items"]
    review = next(item for item in stored if item["text"] == first + more)
    assert review["rating"] == chosen
    assert review["suggested_rating"] == final_suggestion
    assert review["score"] is not None and review["model_version"]
    # Chosen with a suggestion on screen: it was shown, and whether the rating differs is recorded.
    assert review["suggestion_shown"] is True
    assert review["suggestion_changed"] is (chosen != final_suggestion)
    assert "Chrome" in review["user_agent"]  # the visitor's browser, forwarded by the web server
    assert review["ip_address"] == "127.0.0.1"
    assert_only_loopback(requested_urls(browser))


def test_another_brand_switches_without_saving(browser, api, web_server):
    brand = open_review_page(browser, web_server)
    before = api_get(api, "/api/stats")["overall"]["count"]
    text = "Half written review that I keep"
    type_text(browser, text)
    browser.find_element(By.ID, "another-brand").click()
    wait(browser).until(lambda d: d.find_element(By.ID, "brand-name").text != brand)
    assert browser.find_element(By.ID, "review-text").get_attribute("value") == text
    assert api_get(api, "/api/stats")["overall"]["count"] == before


def test_a_named_brand_is_reviewed_first(browser, api, web_server):
    assert open_review_page(browser, web_server, "?brand=adidas") == "Adidas"
    logo = browser.find_element(By.CSS_SELECTOR, ".brand-card img")
    assert logo.get_attribute("alt") == "Adidas logo"
    assert logo.get_attribute("src").startswith("data:image/svg+xml")  # generated initials, no request
    assert browser.execute_script("return arguments[0].naturalWidth", logo) > 0  # not a broken image
    link = browser.find_element(By.CSS_SELECTOR, ".brand-card a")
    assert link.get_attribute("href") == "https://www.adidas.com/"


def test_with_the_api_down_submit_fails_visibly_and_keeps_the_text(browser, api, web_server):
    brand = open_review_page(browser, web_server)
    text = "Good value for the money, would buy again"
    type_text(browser, text)
    wait_for_score_of(browser, text)
    api.stop()
    browser.find_element(By.ID, "submit-review").click()
    message = alert(browser)
    assert "alert-danger" in message.get_attribute("class")
    assert "not saved" in message.text and "cannot be reached" in message.text
    assert browser.find_element(By.ID, "review-text").get_attribute("value") == text
    assert browser.find_element(By.ID, "brand-name").text == brand
    wait(browser).until(lambda d: d.find_element(By.ID, "submit-review").is_enabled())  # to try again
    assert connection_alert(browser).startswith("Connection lost — your text is kept.")
    wait(browser).until(lambda d: active_id(d) == "review-text")  # back where the text is
    # Live scoring says so too, and the text is still there to submit later.
    type_text(browser, "!")
    wait(browser).until(lambda d: d.find_element(By.ID, "score-status").text == OUT_OF_DATE_OFFLINE)
    assert browser.find_element(By.ID, "review-text").get_attribute("value") == text + "!"


def test_fast_typing_is_throttled_and_ends_with_the_final_score(browser, api, web_server):
    open_review_page(browser, web_server)
    box = browser.find_element(By.ID, "review-text")
    box.click()
    before = predict_requests(api)
    text = "Great phone but awful battery!"  # 30 keystrokes
    assert len(text) == 30
    typing = ActionChains(browser, duration=0)
    for character in text:
        typing.send_keys(character).pause(0.05)
    started = time.monotonic()
    typing.perform()
    took = time.monotonic() - started
    wait_for_score_of(browser, text)
    sent = predict_requests(api) - before
    # The token bucket of assets/brandpulse.js: a burst of 8, one per 160 ms, one borrowed by a
    # sentence end, and the trailing one, in the time the typing really took (a busy machine
    # stretches it, and the bucket earns tokens for that time: no fixed "fewer than keystrokes").
    assert sent <= 8 + 1 + math.ceil(took / 0.16) + 1, (sent, took)
    expected = requests.post(api.url + "/api/predict", json={"review": text}, timeout=10).json()
    assert bar_state(browser)[1] == f"{score_percent(expected['score'])}%"


def test_the_page_fits_a_phone_and_works_from_the_keyboard(browser, api, web_server):
    browser.set_window_size(390, 844)
    open_review_page(browser, web_server)
    assert browser.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")
    text = "Works well and looks good"
    type_text(browser, text)
    wait_for_score_of(browser, text)
    suggested = suggested_stars(browser)
    # Tab from the text box reaches the stars (native radio buttons); an arrow key picks another.
    ActionChains(browser).send_keys(Keys.TAB).send_keys(Keys.ARROW_RIGHT).perform()
    chosen = suggested % 5 + 1
    wait(browser).until(lambda d: checked_rating(d) == chosen)
    wait(browser).until(
        lambda d: d.find_element(By.ID, "rating-summary").text.endswith(f"your rating {chosen} ★")
    )
    assert browser.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")
    screenshot(browser, "review-phone", full_page=True)
    icon = browser.find_element(By.CSS_SELECTOR, "link[rel=icon]")
    assert requests.get(icon.get_attribute("href"), timeout=10).status_code == 200


def test_a_stale_score_never_replaces_a_newer_one(browser, api, web_server):
    """The browser-side guard itself: a result older than the one on screen is dropped."""
    open_review_page(browser, web_server)
    outcome = browser.execute_script(
        """
        const guard = window.dash_clientside.brandpulse.applyScore;
        const skip = window.dash_clientside.no_update;
        const result = (seq, text) => ({seq: seq, text: text, percent: 80, label: "80%", color: "success",
                                        status: "Positive", suggested: 4});
        const stale = guard(result(4, "Grea"), {seq: 5}, false, 0);
        const newer = guard(result(6, "Great"), {seq: 5}, false, 0);
        const chosen = guard(result(7, "Great!"), {seq: 6}, true, 0);
        return {
            staleDropped: stale.every((value) => value === skip),
            newer: [newer[0], newer[1], newer[2].seq, newer[3]],
            bar: window.dash_clientside.brandpulse.drawScoreBar(newer[2]),
            ratingKept: chosen[3] === skip,
        };
        """
    )
    assert outcome == {
        "staleDropped": True,
        "newer": ["Positive", "5", 6, 4],  # status, scored length, the result shown, the star
        "bar": [{"width": "80%"}, "80%", "progress-bar bg-success", 80, "80%"],
        "ratingKept": True,
    }


def stored_review(api, brand: str, text: str) -> dict:
    """The review the API stored for `brand` with exactly `text` (admin view)."""
    return next(
        item
        for item in api_get(api, "/api/reviews", brand=brand, per_page=100)["items"]
        if item["text"] == text
    )


def submit_and_wait(driver) -> str:
    """Click Submit and wait for the confirmation; its text."""
    driver.find_element(By.ID, "submit-review").click()
    message = alert(driver)
    assert "alert-success" in message.get_attribute("class"), message.text
    return message.text


def group_of(driver) -> str:
    """The session's group, once the page has drawn it ("control" or "suggested")."""
    wait(driver).until(
        lambda d: (
            d.find_element(By.ID, "review-form").get_attribute("data-suggestion-group")
            in ("control", "suggested")
        )
    )
    return driver.find_element(By.ID, "review-form").get_attribute("data-suggestion-group")


def test_a_control_session_is_shown_no_suggestion(browser, api, control_web_server):
    """SUGGESTION_CONTROL_SHARE=1: no score, no suggestion, no pre-selected star; the API stores
    that none was shown, with the model's own suggestion."""
    new_session_on(browser, control_web_server)  # no group yet, and no draft of an earlier test
    before = predict_requests(api)
    brand = open_review_page(browser, control_web_server)
    assert group_of(browser) == "control"
    assert (
        browser.execute_script("return window.sessionStorage.getItem('brandpulse.suggestion-group')")
        == "control"
    )
    assert not browser.find_element(By.ID, "score-area").is_displayed()
    summary = browser.find_element(By.ID, "rating-summary")
    assert summary.text == "Choose a rating from 1 to 5 stars."
    text = "The jacket is warm but the zip broke within a week of wearing it."
    type_text(browser, text)
    assert checked_rating(browser) is None
    submit = browser.find_element(By.ID, "submit-review")
    assert submit.get_attribute("disabled")  # the text fits, but no rating is chosen yet
    choose_rating(browser, 3)
    wait(browser).until(lambda d: submit.is_enabled())
    wait(browser).until(lambda d: d.find_element(By.ID, "rating-summary").text == "Your rating 3 ★")
    assert "suggested" not in browser.find_element(By.ID, "review-form").text
    assert not browser.find_element(By.ID, "score-area").is_displayed()
    screenshot(browser, "review-control")
    assert f"review of {brand} was saved" in submit_and_wait(browser)
    # Nothing was scored while the visitor wrote (the first keystroke would have been sent at once).
    assert predict_requests(api) == before

    review = stored_review(api, brand, text)
    assert review["rating"] == 3
    assert review["suggestion_shown"] is False and review["suggestion_changed"] is None
    model = requests.post(api.url + "/api/predict", json={"review": text}, timeout=10).json()
    assert review["suggested_rating"] == model["suggested_rating"]  # computed by the server
    assert review["model_version"] == model["model_version"]

    # The group is kept for the whole browser session.
    open_review_page(browser, control_web_server)
    assert group_of(browser) == "control"
    assert_only_loopback(requested_urls(browser))


def test_a_suggested_session_stores_the_suggestion_shown(browser, api, web_server):
    """SUGGESTION_CONTROL_SHARE=0: the kept suggestion is stored as shown; a rating chosen before any
    suggestion appeared is stored as neither shown nor control (null): it was not anchored, but
    the visitor was not drawn into the control group either."""
    brand = open_review_page(browser, web_server)
    assert group_of(browser) == "suggested"
    assert browser.find_element(By.ID, "score-area").is_displayed()
    text = "Lovely staff and the coffee was great, I will come back."
    type_text(browser, text)
    wait_for_score_of(browser, text)
    suggested = suggested_stars(browser)
    assert checked_rating(browser) == suggested
    submit_and_wait(browser)
    review = stored_review(api, brand, text)
    assert review["suggestion_shown"] is True and review["suggestion_changed"] is False
    assert (review["rating"], review["suggested_rating"]) == (suggested, suggested)

    # A star chosen before anything was typed: the suggestion that follows did not anchor it.
    wait(browser).until(lambda d: d.find_element(By.ID, "brand-name").text != brand)
    brand = browser.find_element(By.ID, "brand-name").text
    choose_rating(browser, 2)
    text = "Slow service and a cold sandwich, not worth the price."
    type_text(browser, text)
    wait_for_score_of(browser, text)
    assert checked_rating(browser) == 2
    submit_and_wait(browser)
    review = stored_review(api, brand, text)
    assert review["suggestion_shown"] is None and review["suggestion_changed"] is None
    model = requests.post(api.url + "/api/predict", json={"review": text}, timeout=10).json()
    assert review["suggested_rating"] == model["suggested_rating"]


def star_colours(driver) -> list[str]:
    """The computed colour of each of the five stars."""
    return driver.execute_script(
        "return [...document.querySelectorAll('#rating-input .star-glyph')]"
        ".map((star) => getComputedStyle(star).color)"
    )


def shown_word(driver) -> str:
    """The word shown under the stars ("" when none is)."""
    words = [word.text for word in driver.find_elements(By.CSS_SELECTOR, "#rating-input .rating-word")]
    return "".join(words)  # only the displayed one has text


def test_the_counter_shows_the_limits_before_they_bite(browser, api, web_server):
    open_review_page(browser, web_server)
    counter = browser.find_element(By.ID, "review-counter")
    assert counter.text == "At least 15 characters, at most 10,000."
    submit = browser.find_element(By.ID, "submit-review")
    type_text(browser, "Good.")
    wait_for_score_of(browser, "Good.")
    assert counter.text == "5 / 10,000 characters — 10 more needed (at least 15)."
    assert submit.get_attribute("disabled")  # before a click, not after
    # Too short to score: no reading, no star, and it says why.
    status = browser.find_element(By.ID, "score-status").text
    assert status == "Keep typing: the estimate starts at 15 characters."
    assert bar_state(browser) == ("bg-secondary", "") and checked_rating(browser) is None
    assert browser.find_element(By.ID, "rating-summary").text == "Choose a rating from 1 to 5 stars."
    assert browser.find_element(By.ID, "review-text").get_attribute("aria-describedby") == "review-counter"

    long = ("Great value and friendly service. " * 600)[:20_000]
    paste_text(browser, long)  # twice the limit, in one paste: kept whole, and the counter says so
    wait(browser).until(lambda d: "over the limit" in counter.text)
    assert box_text(browser) == long
    assert (
        counter.text
        == "20,000 characters: 10,000 over the limit of 10,000. Shorten your review to submit it."
    )
    assert "text-danger" in counter.get_attribute("class")
    assert submit.get_attribute("disabled")
    screenshot(browser, "review-too-long")
    paste_text(browser, long[:10_000])
    wait(browser).until(lambda d: counter.text == "10,000 / 10,000 characters")
    wait(browser).until(lambda d: d.find_element(By.ID, "submit-review").is_enabled())


def test_a_review_the_model_cannot_read_gets_no_suggestion(browser, api, web_server, bundled_checkpoint):
    brand = open_review_page(browser, web_server)
    # A German complaint in the model's letters but not its language, then glowing reviews in
    # Japanese and Russian (the machine's fonts draw Cyrillic, for the screenshot).
    english_only = "No estimate: the suggestion works for English reviews."
    for text, status in (
        (
            "Schrecklicher Kundenservice, das Paket kam nie an und niemand antwortet.",
            "No estimate: this reads as another language, and the suggestion works for English reviews.",
        ),
        ("とても素晴らしいジャケットでした。暖かくて軽いです！", english_only),
        ("Отличная куртка: тёплая, лёгкая, всем советую!", english_only),
    ):
        paste_text(browser, "")
        type_text(browser, text)
        wait_for_score_of(browser, text)
        assert browser.find_element(By.ID, "score-status").text == status
        assert bar_state(browser) == ("bg-secondary", "")
        assert checked_rating(browser) is None  # nothing pre-selected
        assert browser.find_element(By.ID, "rating-summary").text == "Choose a rating from 1 to 5 stars."
    screenshot(browser, "review-not-english")
    submit = browser.find_element(By.ID, "submit-review")
    assert submit.get_attribute("disabled")  # no star pre-selected, none chosen yet
    choose_rating(browser, 5)
    wait(browser).until(lambda d: submit.is_enabled())
    submit.click()
    assert "alert-success" in alert(browser).get_attribute("class")
    review = next(
        item
        for item in api_get(api, "/api/reviews", brand=brand, per_page=100)["items"]
        if item["text"] == text
    )
    # No suggestion was on screen, and the visitor is not in the control group: neither (null).
    assert review["rating"] == 5 and review["suggestion_shown"] is None


def test_the_stars_by_mouse(browser, api, web_server):
    open_review_page(browser, web_server)
    group = browser.find_element(By.CSS_SELECTOR, "[role=radiogroup]")
    assert browser.find_element(By.ID, group.get_attribute("aria-labelledby")).text == "Your rating"
    radios = group.find_elements(By.CSS_SELECTOR, "input[type=radio]")
    assert [radio.accessible_name for radio in radios] == [
        "1 star: Bad",
        "2 stars: Poor",
        "3 stars: Average",
        "4 stars: Good",
        "5 stars: Excellent",
    ]
    empty = star_colours(browser)[0]
    assert set(star_colours(browser)) == {empty} and shown_word(browser) == ""

    labels = group.find_elements(By.CSS_SELECTOR, "label")
    ActionChains(browser).move_to_element(labels[3]).perform()  # hover: four stars fill, "Good"
    wait(browser).until(lambda d: shown_word(d) == "Good")
    hover = star_colours(browser)
    assert len(set(hover[:4])) == 1 and hover[0] != empty and hover[4] == empty

    labels[1].click()
    ActionChains(browser).move_to_element(browser.find_element(By.ID, "review-heading")).perform()
    wait(browser).until(lambda d: checked_rating(d) == 2 and shown_word(d) == "Poor")
    chosen = star_colours(browser)
    assert chosen[0] == chosen[1] != empty and chosen[2:] == [empty] * 3
    wait(browser).until(lambda d: d.find_element(By.ID, "rating-summary").text == "Your rating 2 ★")
    # Not a colour of the score bar (red, amber, green: Bootstrap's danger, warning, success).
    bar_colours = browser.execute_script(
        """return ["danger", "warning", "success"].map((name) => {
            const probe = document.createElement("div");
            probe.className = "bg-" + name;
            document.body.appendChild(probe);
            const colour = getComputedStyle(probe).backgroundColor;
            probe.remove();
            return colour;
        });"""
    )
    assert chosen[0] not in bar_colours and hover[0] not in bar_colours


def test_the_stars_by_keyboard(browser, api, web_server):
    open_review_page(browser, web_server)
    browser.find_element(By.ID, "review-text").click()
    ActionChains(browser).send_keys(Keys.TAB).perform()  # from the box straight to the stars
    focused = browser.switch_to.active_element
    assert focused.get_attribute("name") == "rating" and focused.get_attribute("type") == "radio"
    outline = browser.execute_script(
        "return getComputedStyle(document.querySelector(`label[for='${arguments[0]}']`)).outlineStyle",
        focused.get_attribute("id"),
    )
    assert outline == "solid"  # where the keyboard is, visibly
    ActionChains(browser).send_keys(Keys.ARROW_RIGHT).perform()
    wait(browser).until(lambda d: checked_rating(d) == 2 and shown_word(d) == "Poor")
    ActionChains(browser).send_keys(Keys.ARROW_RIGHT, Keys.ARROW_RIGHT).perform()
    wait(browser).until(lambda d: checked_rating(d) == 4 and shown_word(d) == "Good")
    wait(browser).until(lambda d: d.find_element(By.ID, "rating-summary").text == "Your rating 4 ★")


def test_an_unknown_brand_says_so_and_offers_the_list(browser, api, web_server):
    brand = open_review_page(browser, web_server, "?brand=DHL")
    assert brand != "DHL"
    notice = browser.find_element(By.ID, "brand-notice")
    assert notice.is_displayed()
    assert notice.text.startswith("There is no brand called “DHL” here.")
    assert f"You are reviewing {brand} instead." in notice.text
    picker = Select(browser.find_element(By.ID, "brand-picker"))
    names = [option.text for option in picker.options if option.get_attribute("value")]
    assert names == sorted(item["name"] for item in api_get(api, "/api/brands")["items"])
    assert picker.first_selected_option.text == brand  # the list shows the brand on screen
    meant = "Patagonia" if brand != "Patagonia" else "Nike"
    text = "Kept while I pick the brand I meant."
    type_text(browser, text)
    picker.select_by_visible_text(meant)
    wait(browser).until(lambda d: d.find_element(By.ID, "brand-name").text == meant)
    assert browser.find_element(By.ID, "review-heading").text == f"Review {meant}"
    wait(browser).until(lambda d: not [e for e in d.find_elements(By.ID, "brand-notice") if e.is_displayed()])
    assert box_text(browser) == text


# ---------------------------------------------------------------- keyboard, focus and words


def test_the_brand_picker_keeps_the_pick_and_the_arrow_keys_move_on(browser, api, web_server):
    names = sorted(item["name"] for item in api_get(api, "/api/brands")["items"])
    open_review_page(browser, web_server, f"?brand={names[0]}")
    picker = browser.find_element(By.ID, "brand-picker")
    wait(browser).until(lambda d: picker.get_attribute("value") == names[0])  # the brand on screen
    browser.execute_script("arguments[0].focus()", picker)
    for key, expected in (
        (Keys.ARROW_DOWN, names[1]),
        (Keys.ARROW_DOWN, names[2]),
        (Keys.ARROW_UP, names[1]),
    ):
        ActionChains(browser).send_keys(key).perform()
        wait(browser).until(lambda d, name=expected: d.find_element(By.ID, "brand-name").text == name)
        assert picker.get_attribute("value") == expected  # not back to "Or pick a brand…"
        assert active_id(browser) == "brand-picker"
    # Another brand, from the button: the picker follows it.
    browser.find_element(By.ID, "another-brand").click()
    wait(browser).until(lambda d: d.find_element(By.ID, "brand-name").text != names[1])
    shown = browser.find_element(By.ID, "brand-name").text
    wait(browser).until(lambda d: picker.get_attribute("value") == shown)


def test_a_keyboard_submit_brings_the_focus_back_and_reads_the_message_out(browser, api, web_server):
    brand = open_review_page(browser, web_server)
    live = browser.find_element(By.ID, "review-message")
    assert live.get_attribute("role") == "status" and not live.text  # a live region, before any message
    text = "Sturdy and light, and the colour has not faded after a year."
    type_text(browser, text)
    wait_for_score_of(browser, text)
    ActionChains(browser).send_keys(Keys.TAB).perform()  # the stars
    ActionChains(browser).send_keys(Keys.TAB).perform()  # Submit
    assert active_id(browser) == "submit-review"
    ActionChains(browser).send_keys(Keys.ENTER).perform()
    message = alert(browser)
    assert (
        "alert-success" in message.get_attribute("class") and f"review of {brand} was saved" in message.text
    )
    assert message.find_element(By.XPATH, "..").get_attribute("id") == "review-message"  # read out
    assert message.get_attribute("role") is None  # politely: no assertive region of its own inside
    wait(browser).until(lambda d: active_id(d) == "review-text")
    type_text(browser, "N")  # and the next review can be written at once
    assert box_text(browser) == "N"


def ring(driver, element) -> dict:
    """The focus ring `element` shows (its star's, for a hidden radio button) and what lies under it."""
    return driver.execute_script(
        """
        const element = arguments[0];
        const target = element.matches(".btn-check")
            ? document.querySelector(`label[for="${element.id}"]`) : element;
        const style = getComputedStyle(target);
        let under = target.parentElement;
        let background = "rgb(255, 255, 255)";
        for (; under; under = under.parentElement) {
            const colour = getComputedStyle(under).backgroundColor;
            if (colour !== "rgba(0, 0, 0, 0)" && colour !== "transparent") { background = colour; break; }
        }
        return {
            name: element.id || element.getAttribute("href") || element.getAttribute("aria-label")
                || element.textContent.trim().slice(0, 30),
            style: style.outlineStyle,
            width: parseFloat(style.outlineWidth),
            colour: style.outlineColor,
            background: background,
        };
        """,
        element,
    )


def contrast(first: str, second: str) -> float:
    """The WCAG contrast ratio of two CSS rgb() colours."""

    def luminance(colour: str) -> float:
        channels = [int(value) / 255 for value in re.findall(r"\d+", colour)[:3]]
        linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    light, dark = sorted((luminance(first), luminance(second)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def tab_through(driver, limit: int = 40) -> list[dict]:
    """Tab until the focus comes round again (past the end of the page, back to its top): each
    element's focus ring, once."""
    stops: list[dict] = []
    seen = []
    for _ in range(limit):
        ActionChains(driver).send_keys(Keys.TAB).perform()
        element = driver.switch_to.active_element
        if element in seen:
            break
        if element.tag_name != "body":  # between the page's end and its top
            seen.append(element)
            stops.append(ring(driver, element))
    return stops


def assert_visible_rings(stops: list[dict]) -> None:
    """Every stop shows a solid ring of 2 px or more, at 3:1 or more against what lies under it."""
    for stop in stops:
        assert stop["style"] == "solid" and stop["width"] >= 2, stop
        assert contrast(stop["colour"], stop["background"]) >= 3, stop


@pytest.mark.parametrize("size", [(1280, 1000), (390, 844)], ids=["desktop", "phone"])
def test_every_focusable_element_shows_a_focus_ring(browser, api, web_server, size):
    browser.set_window_size(*size)
    open_review_page(browser, web_server)
    text = "Good boots, and they were delivered on time."
    type_text(browser, text)
    wait_for_score_of(browser, text)
    stops = tab_through(browser)
    names = [stop["name"] for stop in stops]
    expected = {"review-text", "submit-review", "another-brand", "brand-picker", "/privacy"}
    assert expected <= set(names), names
    assert any(stop["name"].startswith("_dbcprivate_radioitems_rating-input") for stop in stops), names
    if size[0] > 800:  # the navigation bar's links, white on the dark bar
        navigation = [stop for stop in stops if stop["name"] in ("/", "/admin")]
        assert len(navigation) >= 2 and all(stop["colour"] == "rgb(255, 255, 255)" for stop in navigation)
    else:  # folded into its button
        assert "Toggle navigation" in names
    assert_visible_rings(stops)

    # After a submit, the message's close button too.
    click(browser, browser.find_element(By.ID, "submit-review"))
    alert(browser)
    stops = tab_through(browser)
    assert "Close alert" in [stop["name"] for stop in stops]
    assert_visible_rings(stops)


def test_the_privacy_page_shows_focus_rings(browser, api, web_server):
    browser.get(web_server.url + "/privacy")
    wait(browser).until(lambda d: d.find_elements(By.ID, "privacy-heading"))
    stops = tab_through(browser)
    assert {"/", "/privacy"} <= {stop["name"] for stop in stops}
    assert_visible_rings(stops)


def test_the_stars_are_finger_sized_on_a_phone(browser, api, web_server):
    browser.set_window_size(390, 844)
    open_review_page(browser, web_server)
    sizes = browser.execute_script(
        "return [...document.querySelectorAll('#rating-input label')]"
        ".map((label) => { const box = label.getBoundingClientRect(); return [box.width, box.height]; })"
    )
    assert len(sizes) == 5 and all(width >= 44 and height >= 44 for width, height in sizes), sizes
    assert browser.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")


@pytest.mark.parametrize(
    "text",
    ["😀😀😀😀😀 👍👍👍👍👍 🎉🎉🎉🎉🎉", "!!!! ???? ++++ ---- ####", "12345 67890 12345"],
    ids=["emoji", "symbols", "digits"],
)
def test_a_text_without_words_is_asked_for_words(browser, api, web_server, text):
    open_review_page(browser, web_server)
    words = "Friendly staff and a quick delivery."
    type_text(browser, words)
    wait_for_score_of(browser, words)
    assert checked_rating(browser) is not None  # the suggestion, pre-selected
    paste_text(browser, text)
    wait(browser).until(
        lambda d: d.find_element(By.ID, "score-status").text == components.NO_WORDS  # not "another language"
    )
    assert components.NO_WORDS == "Write a few words: the estimate reads words, not symbols."
    assert bar_state(browser) == ("bg-secondary", "") and checked_rating(browser) is None
    assert browser.find_element(By.ID, "rating-summary").text == "Choose a rating from 1 to 5 stars."


def csp_violations(driver) -> list[str]:
    """The browser's console messages about the Content-Security-Policy since the last call."""
    return [
        entry["message"]
        for entry in driver.get_log("browser")
        if "Content Security Policy" in entry["message"]
    ]


def test_the_privacy_notice_and_the_privacy_page(browser, api, web_server):
    browser.get_log("browser")  # drain what earlier tests logged
    open_review_page(browser, web_server)
    notice = browser.find_element(By.ID, "privacy-notice")
    for stored in (
        "text",
        "rating",
        "IP address",
        "user agent",
        "abuse",
        "learns from the ratings",
        "90 days",
    ):
        assert stored in notice.text, stored
    link = notice.find_element(By.TAG_NAME, "a")
    assert link.get_attribute("href") == web_server.url + "/privacy"
    click(browser, link)
    heading = wait(browser).until(lambda d: d.find_elements(By.ID, "privacy-heading"))[0]
    assert heading.text == "Your data on BrandPulse"
    assert browser.title == "BrandPulse — your data"
    page = browser.find_element(By.ID, "privacy-page").text
    for said in (
        "IP address",
        "user agent",
        "abuse",
        "trained",
        "pseudonym",
        "Ask the operator of this site",
    ):
        assert said in page, said
    retention = browser.find_element(By.ID, "privacy-retention").text
    assert retention.startswith("Your IP address and your browser's user agent: 90 days")
    screenshot(browser, "privacy", full_page=True)
    assert not csp_violations(browser)
    # Opened directly (a full page load under the policy), and back to the review page.
    browser.get(web_server.url + "/privacy")
    wait(browser).until(lambda d: d.find_elements(By.ID, "privacy-heading"))
    assert not csp_violations(browser)
    click(browser, browser.find_element(By.LINK_TEXT, "Back to the review page"))
    wait(browser).until(lambda d: d.find_elements(By.ID, "brand-name"))
    assert_only_loopback(requested_urls(browser))
