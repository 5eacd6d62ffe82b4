"""axe-core on the review page in each of its states, and on /privacy, in headless Chromium against
the real servers (gunicorn): no serious or critical violation anywhere, and no minor one that
docs/web.md does not list with its reason.
"""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By

from tests.dash.browser import (
    POSITIVE,
    alert,
    connection_alert,
    new_session_on,
    open_review_page,
    paste_text,
    type_text,
    wait,
    wait_for_score_of,
)
from tests.support import axe
from tests.support.axe import Violation

pytestmark = pytest.mark.browser

PHONE = (390, 844)
# Minor violations docs/web.md lists with the reason they stay ("Accessibility").
DOCUMENTED_MINOR: frozenset[str] = frozenset()


def assert_accessible(driver, state: str) -> list[Violation]:
    """axe finds nothing serious or critical in the open page, and no undocumented minor violation."""
    return axe.assert_accessible(driver, state, DOCUMENTED_MINOR)


@pytest.fixture
def phone(browser):
    """The browser in a phone-sized window."""
    browser.set_window_size(*PHONE)
    return browser


def test_the_empty_review_page(browser, api, web_server, axe_installed):
    open_review_page(browser, web_server)
    assert_accessible(browser, "empty")


def test_a_scored_review_then_saved(browser, api, web_server, axe_installed, bundled_checkpoint):
    open_review_page(browser, web_server)
    type_text(browser, POSITIVE)
    wait_for_score_of(browser, POSITIVE)
    assert browser.find_element(By.ID, "score-status").text.startswith("Sounds ")
    assert_accessible(browser, "scored")
    browser.find_element(By.ID, "submit-review").click()
    assert "alert-success" in alert(browser).get_attribute("class")
    assert_accessible(browser, "saved")


def test_a_review_too_short_to_score(browser, api, web_server, axe_installed):
    open_review_page(browser, web_server)
    type_text(browser, "Good.")
    wait_for_score_of(browser, "Good.")
    assert browser.find_element(By.ID, "score-status").text.startswith("Keep typing")
    assert_accessible(browser, "too short")


def test_a_review_over_the_length_limit(browser, api, web_server, axe_installed):
    open_review_page(browser, web_server)
    paste_text(browser, "Great value and friendly service. " * 400)
    wait(browser).until(lambda d: "over the limit" in d.find_element(By.ID, "review-counter").text)
    assert_accessible(browser, "over the limit")


def test_the_connection_lost(browser, api, web_server, axe_installed):
    open_review_page(browser, web_server)
    text = "Written while the service is away."
    type_text(browser, text)
    wait_for_score_of(browser, text)
    api.stop()  # the `api` fixture starts it again for the next test
    type_text(browser, " Still writing.")
    wait(browser).until(lambda d: connection_alert(d).startswith("Connection lost"))
    wait(browser).until(lambda d: d.find_element(By.ID, "score-status").text.startswith("Out of date"))
    browser.find_element(By.ID, "submit-review").click()
    wait(browser).until(lambda d: "not saved" in d.find_element(By.ID, "review-alert").text)
    assert_accessible(browser, "connection lost")


def test_a_control_session(browser, api, control_web_server, axe_installed):
    new_session_on(browser, control_web_server)
    open_review_page(browser, control_web_server)
    wait(browser).until(
        lambda d: d.find_element(By.ID, "review-form").get_attribute("data-suggestion-group") == "control"
    )
    type_text(browser, "The jacket is warm but the zip broke within a week.")
    assert_accessible(browser, "control group")


def test_the_privacy_page(browser, api, web_server, axe_installed):
    browser.get(web_server.url + "/privacy")
    wait(browser).until(lambda d: d.find_elements(By.ID, "privacy-heading"))
    assert_accessible(browser, "privacy")


def test_the_review_page_on_a_phone(phone, api, web_server, axe_installed, bundled_checkpoint):
    open_review_page(phone, web_server)
    assert_accessible(phone, "phone, empty")
    type_text(phone, POSITIVE)
    wait_for_score_of(phone, POSITIVE)
    assert_accessible(phone, "phone, scored")
    phone.get(web_server.url + "/privacy")
    wait(phone).until(lambda d: d.find_elements(By.ID, "privacy-heading"))
    assert_accessible(phone, "phone, privacy")
