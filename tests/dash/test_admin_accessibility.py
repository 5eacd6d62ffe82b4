"""axe-core on the admin page in each of its states, in headless Chromium against the real servers
(gunicorn): signed out (the sign-in form), signed in (reviews, a flagged one among them, the
headline, the charts, the Models section with a champion and a retrained candidate), and with the
promotion's confirmation dialog open. No serious or critical violation anywhere, and no minor one
that docs/web.md does not list with its reason.
"""

from __future__ import annotations

import pytest
import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec

from tests.dash.browser import wait
from tests.dash.conftest import ADMIN_TOKEN, api_get
from tests.dash.test_admin_page import (
    click,
    click_promote,
    dialog,
    post_earlier_reviews,
    post_review,
    post_shown_review,
    register_retrained,
    sign_in,
)
from tests.support import axe
from tests.support.axe import Violation

pytestmark = pytest.mark.browser

PAGE_SIZE_DEFAULT = 20  # the API's default page size: one review more makes a second page
# Minor violations docs/web.md lists with the reason they stay ("Accessibility of the admin page").
DOCUMENTED_MINOR: frozenset[str] = frozenset()


def assert_accessible(driver, state: str) -> list[Violation]:
    """axe finds nothing serious or critical in the open page, and no undocumented minor violation."""
    return axe.assert_accessible(driver, f"admin page {state}", DOCUMENTED_MINOR)


@pytest.fixture
def signed_in(browser, api, web_server):
    """The admin page signed in over two pages of stored reviews (one flagged, some whose visitor
    saw the suggestion) and a registry holding the champion and a retrained candidate, every
    section drawn."""
    post_earlier_reviews(api)
    for index, keep in enumerate((True, False)):
        post_shown_review(api, "LEGO", f"Bricks that click together well, set number {index}.", keep)
    spam = post_review(api, brand="Spotify", text="Free premium accounts at example dot com!!!", rating=5)
    flagged = requests.put(
        f"{api.url}/api/reviews/{spam['id']}/flag",
        json={"flagged": True},
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        timeout=30,
    )
    assert flagged.status_code == 200, flagged.text
    while api_get(api, "/api/reviews", per_page=1)["total"] <= PAGE_SIZE_DEFAULT:  # a second page
        post_review(api, brand="IKEA", text="A sturdy shelf, easy to put together in an hour.", rating=4)
    served = requests.get(api.url + "/readyz", timeout=30).json()["model_version"]
    candidate, _ = register_retrained(api, served, seed=31)

    browser.get(web_server.url + "/admin")
    sign_in(browser, ADMIN_TOKEN)
    wait(browser).until(ec.visibility_of_element_located((By.ID, "models-list")))
    wait(browser).until(
        lambda d: len(d.find_elements(By.CSS_SELECTOR, "#admin-section .js-plotly-plot")) == 5
    )
    wait(browser).until(lambda d: "Unflag" in d.find_element(By.ID, "reviews-table").text)
    wait(browser).until(lambda d: d.find_element(By.ID, "models-served-line").text == f"Served now: {served}")
    wait(browser).until(lambda d: d.find_elements(By.ID, "anchoring-list"))
    return candidate


def test_the_sign_in_form(browser, api, web_server, axe_installed):
    browser.get(web_server.url + "/admin")
    wait(browser).until(ec.visibility_of_element_located((By.ID, "admin-token-input")))
    assert not browser.find_element(By.ID, "admin-section").is_displayed()
    assert_accessible(browser, "signed out")
    sign_in(browser, "not-the-admin-token-at-all")
    wait(browser).until(lambda d: "token is not valid" in d.find_element(By.ID, "signin-alert").text)
    assert_accessible(browser, "after a refused token")


def test_the_signed_in_page(browser, signed_in, axe_installed):
    candidate = browser.find_element(By.CSS_SELECTOR, f'#models-list [data-version="{signed_in}"]')
    assert candidate.get_attribute("aria-labelledby") and "candidate" in candidate.text
    assert browser.find_elements(By.CSS_SELECTOR, "#models-list [data-status='champion']")
    assert "page 1 of 1." not in browser.find_element(By.ID, "reviews-count").text  # page links drawn
    assert_accessible(browser, "signed in")


def test_the_confirmation_dialog(browser, signed_in, axe_installed):
    click_promote(browser, signed_in)
    opened = dialog(browser)
    assert opened.find_element(By.ID, "model-confirm-title").text == f"Promote {signed_in}?"
    assert_accessible(browser, "with the confirmation dialog open")
    click(browser, browser.find_element(By.ID, "model-confirm-no"))
    wait(browser).until(lambda d: d.find_element(By.ID, "model-status").text == "Nothing was changed.")
