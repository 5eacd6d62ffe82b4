"""The API's limits the pages follow, read from the API itself (`GET /api/config`).

The pages shape their forms by them: the review box's shortest and longest review (its hints and
counter), the admin page's page sizes and sort orders. They are the API's settings
(REVIEW_MAX_LENGTH, PAGE_SIZE_MAX, ...), so the web front end never copies them. Each web
process asks the API when a page first needs them and keeps the answer, asking again every
`REFRESH_SECONDS` so that a reconfigured API is followed without a restart. While the API cannot
be reached the pages use `FALLBACK` (the API's default settings), a warning is logged, and a
later page asks again after `RETRY_SECONDS`: the web page starts and works without the API.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any

from flask import Flask, current_app, has_app_context

from brandpulse.dash.api_client import ApiClient, ApiError, get_client

logger = logging.getLogger(__name__)

EXTENSION = "brandpulse.api_limits"
# Fields an older API does not send yet (a rolling upgrade): their default is used, not the fallback.
ADDED_LATER = frozenset({"personal_data_retention_days"})
REFRESH_SECONDS = 300.0  # how long an answer of the API is kept
RETRY_SECONDS = 30.0  # how long the fallback is used before the API is asked again


@dataclass(frozen=True)
class ApiLimits:
    """What `GET /api/config` says; the defaults are the API's defaults, used until it answers."""

    review_min_length: int = 15
    review_max_length: int = 10_000
    predict_batch_max: int = 32
    page_size_default: int = 20
    page_size_max: int = 100
    review_sorts: tuple[str, ...] = (
        "created_at",
        "-created_at",
        "rating",
        "-rating",
        "suggested_rating",
        "-suggested_rating",
        "score",
        "-score",
        "brand",
        "-brand",
    )
    review_sort_default: str = "-created_at"
    personal_data_retention_days: int = 90  # the privacy notice's figure

    @classmethod
    def from_config(cls, body: Mapping[str, Any]) -> ApiLimits:
        """The limits in an answer of `GET /api/config`; ValueError if one is missing or malformed."""
        values: dict[str, Any] = {}
        for item in fields(cls):
            value = body.get(item.name) if isinstance(body, Mapping) else None
            if value is None and item.name in ADDED_LATER:
                value = item.default  # an API from before the field: its default then
            if item.name == "review_sorts":
                valid = isinstance(value, list) and value and all(isinstance(sort, str) for sort in value)
                value = tuple(value) if valid else value
            elif item.name == "review_sort_default":
                valid = isinstance(value, str)
            else:
                valid = isinstance(value, int) and not isinstance(value, bool) and value >= 0
            if not valid:
                raise ValueError(f"{item.name}: {value!r} is not a usable value")
            values[item.name] = value
        return cls(**values)


FALLBACK = ApiLimits()


class LimitsCache:
    """One process's copy of the API's limits: asked for when needed, kept, refreshed."""

    def __init__(
        self,
        refresh_seconds: float = REFRESH_SECONDS,
        retry_seconds: float = RETRY_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.refresh_seconds = refresh_seconds
        self.retry_seconds = retry_seconds
        self._clock = clock
        self._limits = FALLBACK  # the API's last answer, or the fallback before any
        self._next_fetch: float | None = None  # None: never asked
        self._lock = threading.Lock()  # one request to the API at a time; the others wait for it

    def get(self, client: ApiClient) -> ApiLimits:
        """The API's limits: the kept answer while it is fresh, else a new one from `client`."""
        with self._lock:
            now = self._clock()
            if self._next_fetch is not None and now < self._next_fetch:
                return self._limits
            try:
                self._limits = ApiLimits.from_config(client.config())
            except (ApiError, ValueError) as error:
                kept = "the last answer" if self._limits is not FALLBACK else "the API's default limits"
                logger.warning(
                    "API limits (GET /api/config) unavailable: %s; using %s, asking again in %.0f s",
                    error,
                    kept,
                    self.retry_seconds,
                )
                self._next_fetch = now + self.retry_seconds
            else:
                self._next_fetch = now + self.refresh_seconds
            return self._limits


def init_app(server: Flask) -> None:
    """Give the Dash app's Flask server its (still empty) copy of the API's limits."""
    server.extensions[EXTENSION] = LimitsCache()


def current_limits() -> ApiLimits:
    """The API's limits for the current app (the fallback outside an app, e.g. in a unit test)."""
    if not has_app_context() or EXTENSION not in current_app.extensions:
        return FALLBACK
    return current_app.extensions[EXTENSION].get(get_client())
