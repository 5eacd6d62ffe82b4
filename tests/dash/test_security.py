"""The web server's trust boundaries over real HTTP: which address reaches the API, whose rate limit
a call spends, the headers every answer carries and the request body limit; and, in Chromium,
that the Content-Security-Policy blocks nothing the pages need.

Callbacks are posted to `/_dash-update-component` as the browser posts them (the request built
from `/_dash-dependencies`), with whatever headers a visitor may write.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec

from brandpulse.dash import charts
from brandpulse.dash.security import TOO_LARGE
from tests.dash.browser import choose_rating, open_review_page, type_text, wait, wait_for_score_of
from tests.dash.conftest import ADMIN_TOKEN, GunicornServer
from tests.support import page_callbacks
from tests.support.servers import ApiServer, api_settings, free_port, prepare_database

FORGED = "203.0.113.66"
TESTER = "192.0.2.250"  # this test's own calls to the limited API: a key of their own
PREDICT_LIMIT = 3  # per minute and client, on the limited API
DEFAULT_LIMIT = 4


# ---------------------------------------------------------------- callbacks over HTTP


def dash_callback(
    web: GunicornServer,
    output: str,
    inputs: dict[str, Any],
    state: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> requests.Response:
    """Post the page's callback whose outputs include `output` ("id.property") to `web`, as the
    browser would (tests/support/page_callbacks.py); a value not given is sent as null."""
    return page_callbacks.dash_callback(web.url, output, inputs, state or {}, headers or {})


def answer(response: requests.Response, output: str) -> Any:
    """The value a callback answered for `output` ("id.property")."""
    assert response.status_code == 200, response.text
    component, prop = output.split(".")
    return response.json()["response"][component][prop]


def submit(web: GunicornServer, brand: str, text: str, headers: dict[str, str]) -> str:
    """Submit a review through the review page's callback; the page's message."""
    return page_callbacks.submit_through_the_page(web.url, brand, text, headers)


def stored_review(api_url: str, brand: str, text: str) -> dict[str, Any]:
    """The stored review with this text, read as the admin (`GET /api/reviews/{id}`)."""
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}", "X-Forwarded-For": TESTER}
    listing = requests.get(
        api_url + "/api/reviews", params={"brand": brand, "per_page": 100}, headers=admin, timeout=10
    ).json()
    review_id = next(item["id"] for item in listing["items"] if item["text"] == text)
    response = requests.get(f"{api_url}/api/reviews/{review_id}", headers=admin, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


# ---------------------------------------------------------------- servers


def web_server_for(api: Any, logs: Path, name: str, **settings: str) -> GunicornServer:
    """A web server (gunicorn) in front of `api`, with these settings."""
    port = free_port()
    env = {
        "API_URL": api.url,
        "API_TIMEOUT": "10",
        "WEB_HOST": "127.0.0.1",
        "WEB_PORT": str(port),
        "WEB_WORKERS": "1",
        "WEB_THREADS": "4",
        "LOG_LEVEL": "WARNING",
        "SUGGESTION_CONTROL_SHARE": "0",
        **settings,
    }
    return GunicornServer(
        name, "brandpulse.dash.wsgi:server", "brandpulse.dash.gunicorn_conf", env, port, "/healthz", logs
    )


@pytest.fixture(scope="module")
def limited_api(tmp_path_factory: pytest.TempPathFactory, model_path: Path) -> Iterator[ApiServer]:
    """The API with low limits on scoring and the other endpoints (one worker: one count), trusting
    loopback (the web servers) as a proxy."""
    data = tmp_path_factory.mktemp("limited-api")
    url = f"sqlite:///{(data / 'api.sqlite3').as_posix()}"
    prepare_database(url, model_path, data)
    settings = api_settings(
        url,
        model_path,
        data,
        ADMIN_TOKEN=ADMIN_TOKEN,
        TRUSTED_PROXIES="127.0.0.1",
        RATE_LIMIT_PREDICT=f"{PREDICT_LIMIT}/minute",
        RATE_LIMIT_DEFAULT=f"{DEFAULT_LIMIT}/minute",
        WEB_CONCURRENCY="1",
        GUNICORN_THREADS="4",
        TORCH_THREADS="1",
    )
    with ApiServer(settings, data, name="limited-api") as server:
        yield server


@pytest.fixture(scope="module")
def proxied_web(tmp_path_factory: pytest.TempPathFactory, limited_api: ApiServer) -> Iterator[GunicornServer]:
    """A web server behind a proxy on loopback (`WEB_TRUSTED_PROXIES=127.0.0.1`), on `limited_api`:
    each request's `X-Forwarded-For` stands for the chain a TLS proxy would write."""
    server = web_server_for(
        limited_api, tmp_path_factory.mktemp("proxied-web"), "proxied-web", WEB_TRUSTED_PROXIES="127.0.0.1"
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


# ---------------------------------------------------------------- addresses


def test_a_forged_forwarded_for_never_reaches_the_stored_review(api, web_server):
    text = f"Forged address test {uuid.uuid4().hex[:8]}: solid and comfortable."
    message = submit(web_server, "Nike", text, {"X-Forwarded-For": FORGED, "User-Agent": "Forger/1.0"})
    assert "was saved" in message, message
    stored = stored_review(api.url, "Nike", text)
    assert stored["ip_address"] == "127.0.0.1"  # the web server's peer: the visitor itself
    assert FORGED not in json.dumps(stored)
    assert stored["user_agent"] == "Forger/1.0"


def test_behind_a_trusted_proxy_only_the_nearest_hop_counts(limited_api, proxied_web):
    text = f"Proxied address test {uuid.uuid4().hex[:8]}: warm and well made."
    chain = f"{FORGED}, 198.51.100.7"  # the visitor wrote the left part, the proxy appended its peer
    message = submit(proxied_web, "Patagonia", text, {"X-Forwarded-For": chain})
    assert "was saved" in message, message
    stored = stored_review(limited_api.url, "Patagonia", text)
    assert stored["ip_address"] == "198.51.100.7"
    assert FORGED not in json.dumps(stored)


# ---------------------------------------------------------------- rate limits


def score(web: GunicornServer, visitor: str, seq: int) -> dict[str, Any]:
    response = dash_callback(
        web,
        "score-result.data",
        {"score-request.data": {"seq": seq, "text": "Lovely colours and fast shipping, thank you."}},
        headers={"X-Forwarded-For": visitor},
    )
    return answer(response, "score-result.data")


def sign_in(web: GunicornServer, visitor: str) -> list[Any]:
    response = dash_callback(
        web,
        "admin-token.data",
        {"signin-form.n_submit": 1},
        {"admin-token-input.value": ADMIN_TOKEN},
        headers={"X-Forwarded-For": visitor},
    )
    assert response.status_code == 200, response.text
    return response.json()["response"]


def test_one_visitor_over_the_limit_is_refused_alone(limited_api, proxied_web):
    greedy, other = "198.51.100.10", "198.51.100.11"
    for seq in range(1, PREDICT_LIMIT + 1):
        assert score(proxied_web, greedy, seq)["score"] is not None
    refused = score(proxied_web, greedy, PREDICT_LIMIT + 1)
    assert refused["score"] is None and refused["status"].startswith("Not scored: Too many requests")
    assert score(proxied_web, other, 1)["score"] is not None  # another visitor is served

    for _ in range(DEFAULT_LIMIT):  # the admin page's calls count per visitor too
        assert sign_in(proxied_web, greedy)["admin-token"]["data"] == ADMIN_TOKEN
    refused = sign_in(proxied_web, greedy)
    assert refused["signin-alert"]["children"].startswith("Sign-in failed. Too many requests")
    assert sign_in(proxied_web, other)["admin-token"]["data"] == ADMIN_TOKEN

    # The brand list is the web server's own call: a visitor over their limit still picks a brand.
    picked = dash_callback(
        proxied_web, "brand-store.data", {"brand-picked.data": "IKEA"}, headers={"X-Forwarded-For": greedy}
    )
    assert answer(picked, "brand-store.data")["name"] == "IKEA"
    first = dash_callback(  # and another visitor's page loads a brand at random
        proxied_web, "brand-store.data", {"brand-wanted.data": None}, headers={"X-Forwarded-For": other}
    )
    assert answer(first, "brand-store.data")["name"]


# ---------------------------------------------------------------- headers and body limit


@pytest.mark.parametrize("path", ["/", "/admin", "/_dash-layout", "/_dash-dependencies", "/healthz"])
def test_every_answer_carries_the_security_headers(web_server, path):
    response = requests.get(web_server.url + path, timeout=10)
    assert response.status_code == 200
    policy = dict(
        directive.strip().split(" ", 1)
        for directive in response.headers["Content-Security-Policy"].split(";")
    )
    assert policy["default-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'"
    assert policy["object-src"] == "'none'"
    assert policy["connect-src"] == "'self'"
    assert policy["base-uri"] == "'self'" and policy["form-action"] == "'self'"
    assert policy["img-src"] == "'self' data:"
    assert policy["style-src"] == "'self' 'unsafe-inline'"  # Dash's components add <style> elements
    scripts = policy["script-src"].split()
    assert scripts[0] == "'self'" and all(source.startswith("'sha256-") for source in scripts[1:])
    assert "unsafe-eval" not in policy["script-src"] and "unsafe-inline" not in policy["script-src"]
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"


def test_the_inline_scripts_of_the_page_are_the_hashed_ones(web_server):
    import base64
    import hashlib
    import re

    response = requests.get(web_server.url + "/", timeout=10)
    allowed = set(
        response.headers["Content-Security-Policy"].split("script-src ")[1].split(";")[0].split()[1:]
    )
    inline = re.findall(r"<script(?![^>]*\bsrc=)([^>]*)>(.*?)</script>", response.text, re.S)
    for attributes, script in inline:
        if "application/json" in attributes:
            continue  # data, never run
        digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in allowed


def test_a_six_megabyte_callback_is_refused_with_413(web_server):
    body = json.dumps({"output": "score-result.data", "inputs": [{"value": "x" * (6 * 1024 * 1024)}]})
    response = requests.post(
        web_server.url + "/_dash-update-component",
        data=body,
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    assert response.status_code == 413
    assert response.json() == {"error": {"code": "payload_too_large", "message": TOO_LARGE}}
    assert "Traceback" not in response.text
    assert requests.get(web_server.url + "/healthz", timeout=10).status_code == 200  # still serving


# ---------------------------------------------------------------- in the browser


def csp_violations(driver: Any) -> list[str]:
    """The browser's console messages about the Content-Security-Policy since the last call."""
    return [
        entry["message"]
        for entry in driver.get_log("browser")
        if "Content Security Policy" in entry["message"] or "Content-Security-Policy" in entry["message"]
    ]


@pytest.mark.browser
def test_the_pages_work_under_their_policy(browser, api, web_server):
    browser.get_log("browser")  # drain what earlier tests logged
    open_review_page(browser, web_server)
    text = "Under a strict policy the page still scores and saves this review."
    type_text(browser, text)
    wait_for_score_of(browser, text)
    choose_rating(browser, 4)
    browser.find_element(By.ID, "submit-review").click()
    saved = wait(browser).until(ec.visibility_of_element_located((By.CSS_SELECTOR, "#review-alert")))
    assert "alert-success" in saved.get_attribute("class"), saved.text
    violations = csp_violations(browser)
    assert not violations, "\n".join(violations)

    browser.get(web_server.url + "/admin")
    field = wait(browser).until(ec.visibility_of_element_located((By.ID, "admin-token-input")))
    field.send_keys(ADMIN_TOKEN)
    browser.find_element(By.ID, "signin-button").click()
    wait(browser).until(ec.visibility_of_element_located((By.CSS_SELECTOR, "#reviews-table table")))
    wait(browser).until(
        lambda d: len(d.find_elements(By.CSS_SELECTOR, "#admin-section .js-plotly-plot")) == 5
    )
    wait(browser).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#chart-per-day .bars path"))
    violations = csp_violations(browser)
    assert not violations, "\n".join(violations)

    # Plotly draws an API string that was escaped as the text it is: no link in the legend.
    evil = '<a href="http://evil.example">Token expired: sign in</a>'
    daily = {"day": "2026-01-02", "reviews": 3, "kept_suggestion": 0.5, "mean_abs_error": 1.0}
    figure = charts.suggestions_per_day({"daily": [{"version": evil, **daily}]})
    drawn = browser.execute_script(
        """
        const figure = JSON.parse(arguments[0]);
        const div = document.createElement("div");
        document.body.appendChild(div);
        return window.Plotly.newPlot(div, figure.data, figure.layout).then(() => ({
            legend: Array.from(div.querySelectorAll(".legendtext")).map(node => node.textContent),
            links: div.querySelectorAll(".legend a, .legendtext a").length,
        }));
        """,
        figure.to_json(),
    )
    assert drawn == {"legend": [evil], "links": 0}
    violations = csp_violations(browser)
    assert not violations, "\n".join(violations)
