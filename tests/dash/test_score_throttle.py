"""Live scoring's request rate in Chromium: the page's token bucket bounds the requests (at most
BURST + MAX_DEBT + T / INTERVAL in any T: one per 160 ms in the long run), most keys are sent at
once, and the score of the whole text shows once the visitor stops.

The text is typed in the page, one character per `input` event through the native `value` setter
(what React hears when a key is typed), each key `1000 / chars_per_second` ms after the previous
one was handled, so a busy machine only slows the typing down. Requests are counted by the API
(`POST /api/predict` on its /metrics), which the web server calls once per scoring request.
"""

from __future__ import annotations

import pytest
import requests
from selenium.webdriver.common.by import By

from brandpulse.dash.components import score_percent
from tests.dash.browser import bar_state, open_review_page, wait_for_score_of
from tests.dash.conftest import predict_requests

pytestmark = pytest.mark.browser

TEXT = (
    "The delivery was quick and the shoes fit well, but the left sole squeaks on every step and the "
    "laces frayed within a week, so I am only half happy with them."
)
BURST, INTERVAL_S = 8, 0.160  # assets/brandpulse.js: BURST, INTERVAL_MS
MAX_DEBT = 1  # assets/brandpulse.js: a sentence end may borrow one token

# Types arguments[0] at arguments[1] characters/s; calls back with the ms from the first key until
# the status line says the bar shows the whole text (or 10 s passed).
TYPE = """
const [text, charsPerSecond, done] = arguments;
const box = document.getElementById("review-text");
const setValue = Object.getOwnPropertyDescriptor(HTMLTextAreaElement.prototype, "value").set;
const status = document.getElementById("score-status");
let length = 0, first = null;
box.focus();
function waitForFinal() {
    if (status.getAttribute("data-scored-length") === String(text.length)) {
        done(performance.now() - first);
    } else if (performance.now() - first > 10000 + text.length * 1000 / charsPerSecond) {
        done(null);
    } else {
        setTimeout(waitForFinal, 5);
    }
}
function key() {
    first = first === null ? performance.now() : first;
    length += 1;
    setValue.call(box, text.slice(0, length));
    box.dispatchEvent(new Event("input", {bubbles: true}));
    setTimeout(length < text.length ? key : waitForFinal, 1000 / charsPerSecond);
}
key();
"""


@pytest.mark.parametrize(("chars_per_second", "characters"), [(8, 64), (20, len(TEXT))])
def test_typing_sends_what_the_token_bucket_allows_and_ends_with_the_whole_text(
    browser, api, web_server, chars_per_second, characters
):
    text = TEXT[:characters]
    open_review_page(browser, web_server)
    browser.set_script_timeout(60)
    before = predict_requests(api)
    took_ms = browser.execute_async_script(TYPE, text, chars_per_second)
    assert took_ms is not None, browser.find_element(By.ID, "score-status").get_attribute("outerHTML")
    sent = predict_requests(api) - before
    took = took_ms / 1000
    assert took >= characters / chars_per_second * 0.95  # it did type at that speed (or slower)
    # The token bucket's bound, in the time the typing really took: a slow or busy machine stretches
    # the typing, and the bucket earns tokens for that time too. (A fixed share such as "at most half
    # the keys" would flip when the typing is stretched.) Far faster than the token rate (20/s), the
    # bound is well under one request a key: most keys leave their text to a later one.
    assert sent <= BURST + MAX_DEBT + took / INTERVAL_S, (sent, took)
    if chars_per_second == 8:  # near the token rate: the bucket's reserve sends most keys at once
        assert sent >= 0.8 * characters, (sent, took)
    # The bar ends on the whole text's score, though its last keys found no token.
    wait_for_score_of(browser, text)
    expected = requests.post(api.url + "/api/predict", json={"review": text}, timeout=10).json()
    assert bar_state(browser)[1] == f"{score_percent(expected['score'])}%"
