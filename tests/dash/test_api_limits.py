"""The pages take the API's limits from the API (`GET /api/config`), and start without it."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest

from brandpulse.api import create_app as create_api
from brandpulse.api.endpoints.client_config import client_config
from brandpulse.api.settings import Settings
from brandpulse.dash.api_client import ApiClient, ApiError
from brandpulse.dash.api_limits import EXTENSION, FALLBACK, ApiLimits, LimitsCache, current_limits
from brandpulse.dash.app import create_app
from brandpulse.dash.pages import admin, privacy, review
from brandpulse.dash.settings import WebSettings
from tests.support.servers import free_port, serve_in_thread

SMALL = {
    "REVIEW_MAX_LENGTH": "500",
    "PAGE_SIZE_DEFAULT": "10",
    "PAGE_SIZE_MAX": "40",
    "PERSONAL_DATA_RETENTION_DAYS": "30",
}
DEFAULTS = client_config(Settings.from_env({}))  # what `GET /api/config` says by default


@pytest.fixture(scope="module")
def small_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The real API, configured with smaller limits, served from a thread: its base URL."""
    data = tmp_path_factory.mktemp("small-api")
    app = create_api({"DATABASE_URL": f"sqlite:///{data}/api.sqlite3", "LOG_LEVEL": "WARNING", **SMALL})
    with serve_in_thread(app, name="small-api") as base_url:
        yield base_url


def _find(component: Any, component_id: str) -> Any:
    """The component with this id in a Dash layout tree."""
    if getattr(component, "id", None) == component_id:
        return component
    children = getattr(component, "children", None)
    for child in children if isinstance(children, list | tuple) else [children]:
        if child is not None and not isinstance(child, str | int | float):
            found = _find(child, component_id)
            if found is not None:
                return found
    return None


def test_the_pages_follow_the_apis_limits(small_api):
    web = create_app(WebSettings(api_url=small_api, api_timeout=10))
    with web.server.test_request_context("/"):
        # The box takes any length (no maxlength cuts a paste); the counter and Submit follow the limits.
        assert not hasattr(_find(review.layout(), "review-text"), "maxlength")
        assert _find(review.layout(), "review-limits").data == {"min": 15, "max": 500}
        page = admin.layout()
        per_page = _find(page, "filter-per-page")
        assert [option["value"] for option in per_page.options] == ["10", "20", "40"]
        assert per_page.value == "10"
        sort = _find(page, "filter-sort")
        assert sort.value == "-created_at"
        assert {option["value"] for option in sort.options} == set(ApiLimits().review_sorts)
        # The privacy notice and page state the API's retention, not a copy of its default.
        assert "cleared after 30 days." in str(_find(review.layout(), "privacy-notice").children)
        assert "user agent: 30 days, then" in _find(privacy.layout(), "privacy-retention").children


def test_the_limits_are_asked_for_once_per_process(small_api, monkeypatch):
    web = create_app(WebSettings(api_url=small_api, api_timeout=10))
    calls = []
    original = ApiClient.config
    monkeypatch.setattr(ApiClient, "config", lambda self: calls.append(1) or original(self))
    with web.server.test_request_context("/"):
        for _ in range(3):
            review.layout()
            admin.layout()
        assert current_limits().review_max_length == 500
    assert len(calls) == 1


def test_the_web_page_starts_and_works_without_the_api(caplog):
    web = create_app(WebSettings(api_url=f"http://127.0.0.1:{free_port()}", api_timeout=2))
    with caplog.at_level(logging.WARNING, logger="brandpulse.dash.api_limits"):
        with web.server.test_request_context("/"):
            limits = _find(review.layout(), "review-limits").data
            assert limits == {"min": FALLBACK.review_min_length, "max": FALLBACK.review_max_length}
            assert _find(admin.layout(), "filter-per-page").value == str(FALLBACK.page_size_default)
    assert "using the API's default limits" in caplog.text
    # (No request is sent to these extra apps: the first app of a process that serves a request
    # takes the pages' callbacks, and that must stay the `web_app` fixture's.)


def test_the_fallback_is_the_apis_defaults():
    assert ApiLimits.from_config(client_config(Settings.from_env({}))) == FALLBACK


class _Api:
    """Stands in for the API client: answers `config()` from a list, an exception is raised."""

    def __init__(self, *answers: Any) -> None:
        self.answers = list(answers)
        self.calls = 0

    def config(self) -> Any:
        self.calls += 1
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def test_the_cache_retries_after_a_failure_and_refreshes_an_answer(caplog):
    now = [0.0]
    cache = LimitsCache(refresh_seconds=300, retry_seconds=30, clock=lambda: now[0])
    good = {**DEFAULTS, "review_max_length": 500}
    api = _Api(ApiError("down"), good, {**good, "review_max_length": 600}, ApiError("down"))
    assert cache.get(api) == FALLBACK and "down" in caplog.text
    now[0] = 29.0
    assert cache.get(api) == FALLBACK and api.calls == 1  # not asked again before RETRY_SECONDS
    now[0] = 30.0
    assert cache.get(api).review_max_length == 500
    now[0] = 329.0
    assert cache.get(api).review_max_length == 500 and api.calls == 2
    now[0] = 330.0
    assert cache.get(api).review_max_length == 600
    now[0] = 630.0
    assert cache.get(api).review_max_length == 600  # the API down later: its last answer stays
    assert api.calls == 4 and "using the last answer" in caplog.text


@pytest.mark.parametrize(
    "body",
    [
        {},
        [],
        {**DEFAULTS, "review_max_length": "500"},
        {**DEFAULTS, "page_size_max": True},
        {**DEFAULTS, "review_sorts": []},
    ],
)
def test_a_malformed_answer_is_not_used(body):
    with pytest.raises(ValueError):
        ApiLimits.from_config(body)
    assert LimitsCache().get(_Api(body)) == FALLBACK


def test_an_api_from_before_the_retention_field_gives_its_default():
    older = {name: value for name, value in DEFAULTS.items() if name != "personal_data_retention_days"}
    assert ApiLimits.from_config({**older, "review_max_length": 500}) == ApiLimits(review_max_length=500)


def test_outside_an_app_the_pages_use_the_fallback():
    assert current_limits() is FALLBACK


def test_the_app_has_its_limits(web_app):
    assert isinstance(web_app.server.extensions[EXTENSION], LimitsCache)
