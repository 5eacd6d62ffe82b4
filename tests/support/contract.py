"""Contract fuzzing with schemathesis: every operation of the OpenAPI document, every check.

`serve(app)` serves a Flask app on a free loopback port from a thread (the real app, real HTTP,
without gunicorn's start-up). `fuzz(base_url, admin_token=..., max_examples=...)` loads
`/api/openapi.json` from a running server and runs schemathesis' engine on it, the phases its
CLI runs (examples, coverage, fuzzing, stateful), with schema-valid and schema-violating data and
all checks on: no 5xx, responses as documented, valid requests accepted, invalid ones refused.
It returns a `FuzzReport`: cases per operation and the distinct failures, each with a curl
command that reproduces it.

The rules the document can state only in words are taught to the generator by a `before_call`
hook, so that a request the generator calls valid is valid: a review names a stored brand (any
other name is a documented 422), an `Idempotency-Key` names one submission (reused with other
fields: 422), a `since` filter is not after `until` (422), and a review list `cursor` is one the
list made, for the same sort, without a `page` other than 1 (422). The hook only replaces a valid
value by another valid one (or drops an optional one), so a schema-violating request stays one.
The HTTP server's own refusals of an over-long request line or header (414, 431: documented on
every operation) count as refusing invalid data.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import requests
import schemathesis
from marshmallow import ValidationError
from schemathesis.config import CacheConfig
from schemathesis.config._checks import NEGATIVE_DATA_REJECTION_EXPECTED_STATUSES
from schemathesis.engine import events, from_schema
from schemathesis.generation import GenerationMode
from werkzeug.serving import WSGIRequestHandler, make_server

from brandpulse.api.endpoints.field_types import CURSOR_MAX, UtcDateTime
from brandpulse.api.endpoints.parsing import SERVER_REFUSALS
from brandpulse.api.endpoints.review_schemas import REVIEW_SORTS
from brandpulse.api.storage import review_pages
from brandpulse.api.storage.tables import MAX_ID, NAME_MAX

logger = logging.getLogger(__name__)

STATEFUL = "Stateful tests"  # the engine's label for the stateful phase's scenarios
DATE_FILTERED = ("/api/reviews", "/api/reviews/summary", "/api/reviews/export.csv")
IDEMPOTENCY_KEY = "Idempotency-Key"
REFUSALS = [*NEGATIVE_DATA_REJECTION_EXPECTED_STATUSES, "413", *(str(status) for status in SERVER_REFUSALS)]
_KEY = re.compile(r"[\x20-\x7e]{1,255}")


@dataclass(frozen=True)
class Failure:
    """One distinct failure: where, which check, what it says, how to reproduce it."""

    operation: str
    check: str
    title: str
    message: str
    curl: str

    def __str__(self) -> str:
        return f"{self.operation}: {self.check}: {self.title}\n  {self.message}\n  {self.curl}"


@dataclass
class FuzzReport:
    """Cases sent per operation, the distinct failures and the engine's own errors."""

    cases: Counter[str] = field(default_factory=Counter)
    failures: list[Failure] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0
    seed: int | None = None

    @property
    def total(self) -> int:
        """Every case sent."""
        return sum(self.cases.values())

    def as_dict(self) -> dict[str, Any]:
        """The figures, JSON-ready."""
        per_operation = {label: {"cases": n, "failures": 0} for label, n in sorted(self.cases.items())}
        for failure in self.failures:
            per_operation.setdefault(failure.operation, {"cases": 0, "failures": 0})["failures"] += 1
        return {
            "cases": self.total,
            "failures": len(self.failures),
            "errors": len(self.errors),
            "seconds": round(self.seconds, 1),
            "seed": self.seed,
            "operations": per_operation,
            "failure_details": [failure.__dict__ for failure in self.failures],
            "error_details": self.errors,
        }

    def describe(self) -> str:
        """A readable account: cases per operation, then every failure and error."""
        lines = [f"{self.total} cases in {self.seconds:.1f} s (seed {self.seed})"]
        lines += [f"  {count:6d}  {label}" for label, count in sorted(self.cases.items())]
        lines += [f"FAILURE {failure}" for failure in self.failures]
        lines += [f"ERROR {error}" for error in self.errors]
        return "\n".join(lines)


def stored_brands(base_url: str) -> list[str]:
    """The names `GET /api/brands` lists."""
    response = requests.get(f"{base_url}/api/brands", timeout=30)
    response.raise_for_status()
    return [brand["name"] for brand in response.json()["items"]]


def _valid_name(value: Any) -> bool:
    return isinstance(value, str) and 1 <= len(value) <= NAME_MAX and "\x00" not in value


def _digest(*parts: Any) -> bytes:
    text = json.dumps(parts, sort_keys=True, default=repr, ensure_ascii=True)
    return hashlib.sha256(text.encode("ascii")).digest()


def _moment(value: Any) -> Any:
    try:
        return UtcDateTime()._deserialize(value, None, None) if isinstance(value, str) else None
    except ValidationError:
        return None


def _page(value: Any) -> int | None:
    text = str(value).strip()
    return int(text) if re.fullmatch(r"[+-]?[0-9]{1,7}", text) else None


def _a_cursor_of_this_list(query: dict[str, Any]) -> None:
    """Replace a valid but unknown `cursor` by one the list could have made for this sort."""
    cursor, sort = query.get("cursor"), query.get("sort", "-created_at")
    if not (isinstance(cursor, str) and 1 <= len(cursor) <= CURSOR_MAX and sort in REVIEW_SORTS):
        return
    order = review_pages.Order.parse(sort)
    try:
        review_pages.decode_cursor(cursor, order)
    except review_pages.InvalidCursor:
        digest = _digest(cursor, sort)
        value = {
            "created_at": datetime(2020, 1, 1) + timedelta(seconds=int.from_bytes(digest[:4])),
            "rating": 1 + digest[0] % 5,
            "suggested_rating": 1 + digest[1] % 5,
            "score": digest[2] / 255,
            "brand": "Nike",
        }[order.key]
        position = review_pages.Position(value, 1 + int.from_bytes(digest[4:8]) % MAX_ID)
        query["cursor"] = review_pages.encode_cursor(order, position)
    if "page" in query and _page(query["page"]) is not None and 1 <= _page(query["page"]) <= 1_000_000:
        del query["page"]  # optional: a cursor asks for the page after it


def words_only_rules(brands: list[str]):
    """The `before_call` hook keeping generated requests within the rules stated in words."""

    def apply(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
        path = case.operation.path
        body = case.body
        if path == "/api/review" and isinstance(body, dict) and _valid_name(body.get("brand")):
            if body["brand"] not in brands:
                body["brand"] = brands[_digest(body["brand"])[0] % len(brands)]
        headers = case.headers
        if path == "/api/review" and headers and isinstance(headers.get(IDEMPOTENCY_KEY), str):
            if _KEY.fullmatch(headers[IDEMPOTENCY_KEY]):
                headers[IDEMPOTENCY_KEY] = _digest(headers[IDEMPOTENCY_KEY], body).hex()
        query = case.query
        if path in DATE_FILTERED and isinstance(query, dict):
            since, until = _moment(query.get("since")), _moment(query.get("until"))
            if since is not None and until is not None and since > until:
                query["since"], query["until"] = query["until"], query["since"]
        if path == "/api/reviews" and isinstance(query, dict) and "cursor" in query:
            _a_cursor_of_this_list(query)

    apply.__name__ = "before_call"  # schemathesis finds a hook by its name
    return apply


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:
        """Thousands of requests: no access log line for each."""


@contextmanager
def serve(app: Any) -> Iterator[str]:
    """Serve `app` on a free loopback port from a thread; its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="contract-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@contextmanager
def _global_hook(hook: Any) -> Iterator[None]:
    # `before_call` exists only at global scope: registered for the run, removed after it.
    schemathesis.hook(hook)
    try:
        yield
    finally:
        schemathesis.hooks.unregister(hook)


def load_schema(base_url: str, *, admin_token: str, max_examples: int, seed: int | None = None) -> Any:
    """The server's document as a schemathesis schema: all checks, positive and negative data."""
    config = schemathesis.Config(seed=seed, cache=CacheConfig(enabled=False))
    schema = schemathesis.openapi.from_url(f"{base_url}/api/openapi.json", config=config)
    schema.config.update(base_url=base_url, headers={"Authorization": f"Bearer {admin_token}"})
    schema.config.generation.update(
        modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
        max_examples=max_examples,
        database="none",  # no .hypothesis/ directory in the working tree
    )
    schema.config.checks.update(included_check_names=["all"])
    schema.config.checks.negative_data_rejection.expected_statuses = REFUSALS
    return schema


def _distinct_failures(recorder: Any) -> Iterator[Failure]:
    for checks in recorder.checks.values():
        for check in checks:
            if check.failure_info is None:
                continue
            failure = check.failure_info.failure
            message = str(getattr(failure, "message", "") or "").strip()
            yield Failure(
                operation=recorder.label,
                check=check.name,
                title=str(getattr(failure, "title", type(failure).__name__)),
                message=" ".join(message.split())[:300],
                curl=check.failure_info.code_sample,
            )


def fuzz(base_url: str, *, admin_token: str, max_examples: int, seed: int | None = None) -> FuzzReport:
    """Fuzz every operation of the server at `base_url` (admin ones with `admin_token`)."""
    schema = load_schema(base_url, admin_token=admin_token, max_examples=max_examples, seed=seed)
    report = FuzzReport(seed=schema.config.seed)
    seen: set[tuple[str, str, str, str]] = set()
    start = time.perf_counter()
    with _global_hook(words_only_rules(stored_brands(base_url))):
        for event in from_schema(schema).execute():
            if isinstance(event, events.ScenarioFinished):
                report.cases[event.recorder.label] += len(event.recorder.cases)
                for failure in _distinct_failures(event.recorder):
                    key = (failure.operation, failure.check, failure.title, failure.message)
                    if key not in seen:
                        seen.add(key)
                        report.failures.append(failure)
            elif isinstance(event, events.NonFatalError):
                report.errors.append(f"{event.label}: {type(event.value).__name__}: {event.value}")
            elif isinstance(event, events.FatalError):
                raise RuntimeError(f"schemathesis stopped: {event.exception!r}") from event.exception
    report.seconds = time.perf_counter() - start
    logger.info("fuzzed %s: %d cases, %d failures", base_url, report.total, len(report.failures))
    return report
