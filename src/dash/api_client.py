"""Every HTTP call the front end makes to the REST API, each with a timeout.

The Dash app reaches the API only through `ApiClient`, over HTTP (`API_URL`), so either side can be
replaced or scaled alone. A failed call raises `ApiError`, whose text is written for the visitor
("The review service cannot be reached right now."), never a traceback.

Whose call is it: the API counts its rate limits per client address, and it believes this
server's `X-Forwarded-For` (this server is one of its `TRUSTED_PROXIES`). So every call made while
a visitor's request is being answered (scoring, a random brand, a review, and all the admin
page's calls) carries `visitor_headers()`: the one address this server itself worked out for the
visitor (`WEB_TRUSTED_PROXIES`, src/trusted_hops.py) and their browser's `User-Agent`, never the
chain the visitor wrote; one visitor over a limit is refused alone. The web server's own calls
(the brand list, the API's limits) carry no visitor's address: the API counts them in its own
service scope, and the brand list is cached here (`BRANDS_CACHE_SECONDS`), so visitors cannot
spend that scope either.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from typing import Any

import requests
from flask import Flask, current_app, has_request_context, request

from brandpulse.dash.settings import WebSettings
from brandpulse.trusted_hops import TrustedHops

logger = logging.getLogger(__name__)

EXTENSION = "brandpulse.api_client"
HOPS_EXTENSION = "brandpulse.web_trusted_hops"
# How long the brand list is kept: a brand added to the API shows on the pages at most this late.
BRANDS_CACHE_SECONDS = 60.0
UNKNOWN_VISITOR = "unknown"
NO_HOPS = TrustedHops(())  # outside an app (a bare Flask request): the TCP peer is the visitor
USER_AGENT = "brandpulse-web"
UNREACHABLE = "The review service cannot be reached right now."
TIMED_OUT = "The review service did not answer in time."
# How the API's field names read in a message to the visitor.
FIELD_NAMES = {
    "text": "Your review",
    "review": "Your review",
    "rating": "Rating",
    "brand": "Brand",
    "suggested_rating": "Suggested rating",
}


class ApiError(Exception):
    """A failed API call; `str(error)` is a message fit to show the visitor."""

    def __init__(
        self,
        message: str,
        status: int | None = None,
        code: str | None = None,
        fields: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status  # None: no answer at all (unreachable, timed out)
        self.code = code
        self.fields = fields or {}


# An ordinary lower-case first word ("there is no champion"), not a version id, a name or a path
# ("small-bn+ngram-2026… is already the champion"), which are shown as written.
PLAIN_FIRST_WORD = re.compile(r"[a-z]+(?=[\s,;]|$)")


def _sentence(text: str) -> str:
    """The API's message as a sentence: a capital first letter if it starts with a plain word, a full stop."""
    text = text.strip()
    if not text:
        return text
    if PLAIN_FIRST_WORD.match(text):
        text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


def _field_messages(fields: dict[str, Any]) -> str:
    parts = []
    for name, messages in fields.items():
        if isinstance(messages, dict):  # nested (e.g. per-item messages): flatten one level
            messages = [message for value in messages.values() for message in value]
        if isinstance(messages, str):
            messages = [messages]
        text = " ".join(str(message).rstrip(".") + "." for message in messages)
        parts.append(f"{FIELD_NAMES.get(name, name.capitalize())}: {text[:1].lower() + text[1:]}")
    return " ".join(parts)


def error_from_response(response: requests.Response) -> ApiError:
    """An `ApiError` for an answer with an error status, from the API's JSON error body."""
    status = response.status_code
    try:
        body = response.json().get("error") or {}
    except (ValueError, AttributeError):
        body = {}
    code = body.get("code") if isinstance(body, dict) else None
    message = str(body.get("message") or "") if isinstance(body, dict) else ""
    fields = body.get("fields") if isinstance(body, dict) and isinstance(body.get("fields"), dict) else {}
    if status == 422 and fields:
        text = _field_messages(fields)
    elif status == 429:
        retry = response.headers.get("Retry-After")
        text = "Too many requests: " + (
            f"please wait {retry} s and try again." if retry else "try again soon."
        )
    elif status >= 500:
        detail = f" ({message})" if message else ""
        text = f"The review service had a problem{detail}; try again in a moment."
    elif message:
        text = _sentence(message)
    else:
        text = f"The review service answered with an unexpected status (HTTP {status})."
    return ApiError(text, status=status, code=code, fields=fields)


def visitor_address() -> str | None:
    """The address of the visitor of the current request, as this server can vouch for it.

    The TCP peer, unless the peer is one of `WEB_TRUSTED_PROXIES`: then the nearest address of its
    `X-Forwarded-For` chain that is not a trusted hop. Addresses further left were written by the
    visitor and are never believed (a forged `X-Forwarded-For: 203.0.113.66` changes nothing).
    """
    if not has_request_context():
        return None
    hops = current_app.extensions.get(HOPS_EXTENSION, NO_HOPS)
    return hops.client_address(request.remote_addr, request.headers.getlist("X-Forwarded-For"))


def visitor_headers() -> dict[str, str | None]:
    """Proxy headers naming the visitor of the current request: `X-Forwarded-For`, `User-Agent`.

    `X-Forwarded-For` holds one address, `visitor_address()`: the API walks its chain back from
    its nearest trusted hop (this server), so any chain passed on would let the visitor choose
    the address the API stores and counts. A visitor without a user agent is sent without one
    (`None` removes requests' default). Outside a request: no headers.
    """
    if not has_request_context():
        return {}
    # No address (a peer without one, e.g. a Unix socket): "unknown" still marks the call as a
    # visitor's, counted under this server's address; no header would make it the server's own.
    return {
        "User-Agent": request.headers.get("User-Agent") or None,
        "X-Forwarded-For": visitor_address() or UNKNOWN_VISITOR,
    }


class ApiClient:
    """The REST API's endpoints as methods returning decoded JSON; failures raise `ApiError`.

    Inside a request every call carries `visitor_headers()` (explicit `headers` add to them),
    except the server's own calls, `brands()` and `config()`.
    """

    def __init__(self, base_url: str, timeout: float, brands_ttl: float = BRANDS_CACHE_SECONDS) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.brands_ttl = brands_ttl
        self._local = threading.local()  # requests.Session is not thread-safe: one per thread
        self._brands: tuple[float, list[dict[str, Any]]] | None = None  # (when fetched, items)
        self._brands_lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: WebSettings) -> ApiClient:
        """A client for the API the settings name."""
        return cls(settings.api_url, settings.api_timeout)

    @property
    def session(self) -> requests.Session:
        """This thread's HTTP session (keeps connections to the API open)."""
        session = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.headers["User-Agent"] = USER_AGENT
            self._local.session = session
        return session

    def _request(
        self,
        method: str,
        path: str,
        *,
        own: bool = False,
        headers: dict[str, str | None] | None = None,
        **kwargs: Any,
    ) -> requests.Response:
        """Send a request: on the current visitor's behalf (their headers), or `own` (none)."""
        url = f"{self.base_url}{path}"
        if not own:
            headers = {**visitor_headers(), **(headers or {})}
        try:
            response = self.session.request(method, url, timeout=self.timeout, headers=headers, **kwargs)
        except requests.Timeout:
            logger.warning("API %s %s timed out after %s s", method, path, self.timeout)
            raise ApiError(TIMED_OUT) from None
        except requests.RequestException as error:
            logger.warning("API %s %s failed: %s", method, path, type(error).__name__)
            raise ApiError(UNREACHABLE) from None
        if response.status_code >= 400:
            error = error_from_response(response)
            log = logger.error if response.status_code >= 500 else logger.info
            log("API %s %s answered %d (%s)", method, path, response.status_code, error.code)
            raise error
        return response

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._request(method, path, **kwargs)
        try:
            return response.json()
        except ValueError:
            raise ApiError("The review service sent an answer that could not be read.") from None

    @staticmethod
    def _bearer(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    # ------------------------------------------------------------------ public endpoints

    def predict(self, text: str, headers: dict[str, str | None] | None = None) -> dict[str, Any]:
        """The model's reading of a text: score, label, suggested_rating, model_version, and a
        signed `token` to send back with a review of exactly this text."""
        return self._json("POST", "/api/predict", json={"text": text}, headers=headers)

    def brands(self) -> list[dict[str, Any]]:
        """Every brand, by name: the server's own call, kept for `brands_ttl` seconds.

        Each page view needs the list (the picker, the admin filter), and its visitor's address
        would make it theirs to exhaust; so it is asked as this server (the API's service scope),
        once per `brands_ttl` per process, whoever is visiting. One thread asks while the others
        wait for its answer; a failure is not kept (the next call asks again).
        """
        with self._brands_lock:
            cached = self._brands
            if cached is None or time.monotonic() - cached[0] >= self.brands_ttl:
                items = self._json("GET", "/api/brands", own=True)["items"]
                cached = self._brands = (time.monotonic(), items)
        return [dict(brand) for brand in cached[1]]  # callers may change theirs, not the cache

    def random_brand(
        self, exclude: str | None = None, headers: dict[str, str | None] | None = None
    ) -> dict[str, Any] | None:
        """A brand at random, other than `exclude` if there is one; None when there is no brand."""
        params = {"exclude": exclude} if exclude else None
        try:
            return self._json("GET", "/api/brands/random", params=params, headers=headers)
        except ApiError as error:
            if error.status != 404:
                raise
        return self._json("GET", "/api/brands/random", headers=headers) if exclude else None

    def create_review(
        self,
        *,
        brand: str,
        text: str,
        rating: int,
        suggested_rating: int | None = None,
        prediction_token: str | None = None,
        suggestion_shown: bool | None = None,
        idempotency_key: str | None = None,
        headers: dict[str, str | None] | None = None,
    ) -> dict[str, Any]:
        """Store a review; the API decides the model's figures (score, model version) itself.

        `prediction_token`: the signed `token` of the `/api/predict` answer for exactly this text;
        the API takes the figures of that prediction (the one the visitor saw) from it, and
        scores the text itself without one, or with one for another text. There is no way to send
        a score or a model version: the API would not believe them.
        `suggestion_shown`: whether the visitor saw `suggested_rating` before rating (false: the
        control group; then send no suggestion, and the API stores the model's own).
        `idempotency_key`: names this submission; sent again with the same review, the API answers
        the first answer and stores nothing new.
        """
        if idempotency_key is not None:
            headers = {**(headers or {}), "Idempotency-Key": idempotency_key}
        body: dict[str, Any] = {"brand": brand, "text": text, "rating": rating}
        optional = {
            "suggested_rating": suggested_rating,
            "prediction_token": prediction_token,
            "suggestion_shown": suggestion_shown,
        }
        body.update({key: value for key, value in optional.items() if value is not None})
        return self._json("POST", "/api/review", json=body, headers=headers)

    def stats(self) -> dict[str, Any]:
        """Counts, means and rating/suggestion agreement, overall and per brand."""
        return self._json("GET", "/api/stats")

    def ready(self) -> dict[str, Any]:
        """The API's readiness (`GET /readyz`: its database and model usable); `ApiError` if not."""
        return self._json("GET", "/readyz")

    def config(self) -> dict[str, Any]:
        """The limits the API asks of clients: review length, page sizes, sort orders, rate limits."""
        return self._json("GET", "/api/config", own=True)  # the server's own (cached by api_limits)

    # ------------------------------------------------------------------ admin endpoints

    def list_reviews(
        self,
        token: str,
        *,
        page: int = 1,
        per_page: int | None = None,
        brand: str | None = None,
        rating: int | None = None,
        sort: str | None = None,
    ) -> dict[str, Any]:
        """One page of reviews (items, total, page, per_page, pages); the API's page size and order
        (newest first) unless `per_page` and `sort` are given."""
        params: dict[str, Any] = {"page": page}
        optional = {"per_page": per_page, "brand": brand, "rating": rating, "sort": sort}
        params.update({key: value for key, value in optional.items() if value})
        return self._json("GET", "/api/reviews", params=params, headers=self._bearer(token))

    def check_token(self, token: str) -> None:
        """Return if the API accepts `token` as the admin token; raise `ApiError` otherwise."""
        self.list_reviews(token, per_page=1)

    def review_summary(self, token: str) -> dict[str, Any]:
        """Reviews counted per day, per rating and per (rating, suggested rating) pair."""
        return self._json("GET", "/api/reviews/summary", headers=self._bearer(token))

    def model_versions(self, token: str) -> dict[str, Any]:
        """The model registry, newest first, with each version's live figures and the served one."""
        return self._json("GET", "/api/models", headers=self._bearer(token))

    def suggestion_figures(self, token: str, days: int = 30) -> dict[str, Any]:
        """How visitors took the suggestions: `daily` (per version and day: reviews, share kept,
        mean |rating - suggestion|) and `anchoring` (the same with the suggestion shown or not)."""
        return self._json(
            "GET", "/api/models/suggestions", params={"days": days}, headers=self._bearer(token)
        )

    def flag_review(self, token: str, review_id: int, flagged: bool = True) -> dict[str, Any]:
        """Flag a review (never used to retrain the model) or clear its flag; the review as stored."""
        return self._json(
            "PUT",
            f"/api/reviews/{int(review_id)}/flag",
            json={"flagged": flagged},
            headers=self._bearer(token),
        )

    def promote_model(self, token: str, version: str, by: str = "admin page") -> dict[str, Any]:
        """Make `version` the champion."""
        path = f"/api/models/{requests.utils.quote(version, safe='')}/promote"
        return self._json("POST", path, json={"by": by}, headers=self._bearer(token))

    def rollback_model(self, token: str, by: str = "admin page") -> dict[str, Any]:
        """Make the previous champion the champion again."""
        return self._json("POST", "/api/models/rollback", json={"by": by}, headers=self._bearer(token))

    def export_csv(self, token: str, *, brand: str | None = None, rating: int | None = None) -> str:
        """Every matching review as CSV text, for a spreadsheet
        (text,label,brand,created_at,suggested_rating,score,id,flagged)."""
        params = {key: value for key, value in {"brand": brand, "rating": rating}.items() if value}
        response = self._request("GET", "/api/reviews/export.csv", params=params, headers=self._bearer(token))
        response.encoding = "utf-8"
        return response.text


def init_app(server: Flask, settings: WebSettings) -> None:
    """Give the Dash app's Flask server its API client and its trusted hops (`WEB_TRUSTED_PROXIES`,
    made once per app: host names among them are resolved again every 30 s, not per request)."""
    server.extensions[EXTENSION] = ApiClient.from_settings(settings)
    server.extensions[HOPS_EXTENSION] = TrustedHops(settings.web_trusted_proxies)


def get_client() -> ApiClient:
    """The API client of the current app (inside a Dash callback or Flask request)."""
    return current_app.extensions[EXTENSION]
