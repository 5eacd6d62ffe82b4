"""The review page through outages, in headless Chromium against the real servers (gunicorn): the
API, then the web server, stopped and started again on the same ports under the open page; the
brand card that loads by itself once the API is back; the draft kept across a reload.

Nothing here waits a fixed time: every wait ends as soon as its condition holds. The recoveries
wait up to RECOVERY seconds, a restart (the API loads its model) plus the page's next retry (1, 2,
4, ... 30 s after the outage began).
"""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By

from tests.dash.browser import (
    alert,
    bar_is_stale,
    bar_state,
    box_text,
    connection_alert,
    open_review_page,
    screenshot,
    type_text,
    wait,
    wait_for_score_of,
)
from tests.dash.conftest import api_get

pytestmark = pytest.mark.browser

RECOVERY = 75  # seconds
LOST = "Connection lost — your text is kept."
OUT_OF_DATE = (
    "Out of date: this estimate is for your earlier text. A new estimate comes once the connection is back."
)
DRAFT = "brandpulse.review-draft"


def form_usable(driver) -> bool:
    """Submit and "Review another brand" can be clicked (nothing left disabled by a lost request)."""
    actions = driver.find_element(By.ID, "review-actions")
    return (
        actions.get_attribute("disabled") is None and driver.find_element(By.ID, "submit-review").is_enabled()
    )


def stored_texts(api, brand: str) -> list[str]:
    """The texts of the reviews the API stored for `brand`."""
    return [item["text"] for item in api_get(api, "/api/reviews", brand=brand, per_page=100)["items"]]


def submit_and_wait(driver) -> str:
    """Click Submit and wait for the confirmation; its text."""
    driver.find_element(By.ID, "submit-review").click()
    message = alert(driver)
    wait(driver).until(
        lambda d: "alert-success" in d.find_element(By.ID, "review-alert").get_attribute("class")
    )
    return message.text


def status(driver) -> str:
    """The line under the score bar."""
    return driver.find_element(By.ID, "score-status").text


def message_shown(driver) -> bool:
    """Whether the review form's message (saved, not saved, …) is on screen."""
    return any(element.is_displayed() for element in driver.find_elements(By.ID, "review-alert"))


def recovers_and_saves(driver, api, brand: str, text: str) -> None:
    """With no click and no keystroke, the page's own retry finds the service back and scores `text`
    again (the bar no longer stale), and the messages about the outage go; then Submit saves it."""
    wait(driver, RECOVERY).until(lambda d: not connection_alert(d))
    wait(driver).until(lambda d: not message_shown(d))  # "Your review was not saved…" goes
    wait_for_score_of(driver, text)
    wait(driver).until(lambda d: not bar_is_stale(d))
    assert status(driver).startswith("Sounds ")  # the estimate of this text, no longer out of date
    assert f"review of {brand} was saved" in submit_and_wait(driver)
    assert text in stored_texts(api, brand)


def test_an_api_outage_leaves_the_page_usable_and_it_recovers_by_itself(browser, api, web_server):
    brand = open_review_page(browser, web_server)
    first = "Comfortable shoes and they arrived quickly"
    type_text(browser, first)
    wait_for_score_of(browser, first)
    label = bar_state(browser)[1]
    assert not connection_alert(browser) and not bar_is_stale(browser)

    api.stop()
    try:
        more = ", but the laces broke within a month."
        type_text(browser, more)
        wait(browser).until(lambda d: connection_alert(d).startswith(LOST))
        assert "Trying again in" in connection_alert(browser)
        # The old reading stays, greyed: it belongs to older text.
        wait(browser).until(bar_is_stale)
        assert bar_state(browser)[1] == label
        wait(browser).until(lambda d: status(d) == OUT_OF_DATE)  # no longer "Sounds positive."
        screenshot(browser, "review-connection-lost")
        browser.find_element(By.ID, "submit-review").click()
        wait(browser).until(lambda d: "not saved" in d.find_element(By.ID, "review-alert").text)
        wait(browser).until(form_usable)
        assert box_text(browser) == first + more
        assert browser.find_element(By.ID, "brand-name").text == brand
    finally:
        api.start()

    recovers_and_saves(browser, api, brand, first + more)


def test_a_web_server_restart_under_the_open_page(browser, api, web_server):
    brand = open_review_page(browser, web_server)
    first = "The coat is warm and the pockets are deep"
    type_text(browser, first)
    wait_for_score_of(browser, first)

    web_server.stop()
    try:
        more = ", though the zip sticks."
        type_text(browser, more)  # its scoring request gets no answer at all
        wait(browser).until(lambda d: connection_alert(d).startswith(LOST))
        wait(browser).until(bar_is_stale)
        wait(browser).until(lambda d: status(d) == OUT_OF_DATE)
        # Submit's request is lost too: the form is usable again (not stuck disabled) and says so.
        browser.find_element(By.ID, "submit-review").click()
        wait(browser).until(lambda d: "not saved" in d.find_element(By.ID, "review-alert").text)
        assert "alert-danger" in browser.find_element(By.ID, "review-alert").get_attribute("class")
        wait(browser).until(form_usable)
        browser.find_element(By.ID, "another-brand").click()  # lost as well, and harmless
        wait(browser).until(form_usable)
        assert box_text(browser) == first + more
        assert browser.find_element(By.ID, "brand-name").text == brand
    finally:
        web_server.start()  # the same port

    recovers_and_saves(browser, api, brand, first + more)


def test_the_brand_card_loads_by_itself_once_the_api_is_back(browser, api, web_server):
    api.stop()
    try:
        browser.get(web_server.url + "/")
        wait(browser).until(lambda d: "No brand could be loaded" in d.find_element(By.ID, "brand-card").text)
        assert "Trying again" in browser.find_element(By.ID, "brand-card").text
        wait(browser).until(lambda d: connection_alert(d).startswith(LOST))
        text = "Written while the service was away, kept all along."
        type_text(browser, text)
        assert browser.find_element(By.ID, "submit-review").get_attribute("disabled")  # no brand yet
    finally:
        api.start()
    wait(browser, RECOVERY).until(lambda d: d.find_elements(By.ID, "brand-name"))
    name = browser.find_element(By.ID, "brand-name").text
    assert browser.find_element(By.ID, "review-heading").text == f"Review {name}"
    wait(browser).until(lambda d: not connection_alert(d))
    assert box_text(browser) == text
    wait_for_score_of(browser, text)
    wait(browser).until(lambda d: d.find_element(By.ID, "submit-review").is_enabled())


def test_the_draft_survives_a_reload_and_goes_once_submitted(browser, api, web_server):
    brand = open_review_page(browser, web_server)
    text = "Half a review that I will finish after lunch, promise."
    type_text(browser, text)
    wait(browser).until(lambda d: d.execute_script(f"return localStorage.getItem('{DRAFT}')"))

    browser.refresh()  # or a crash, or the tab closed: the draft comes back, with its brand
    assert open_review_page(browser, web_server) == brand
    wait(browser).until(lambda d: box_text(d) == text)
    wait_for_score_of(browser, text)  # and it is scored again
    assert f"review of {brand} was saved" in submit_and_wait(browser)
    assert browser.execute_script(f"return localStorage.getItem('{DRAFT}')") is None

    browser.refresh()
    open_review_page(browser, web_server)
    assert box_text(browser) == ""
