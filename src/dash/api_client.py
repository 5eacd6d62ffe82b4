"""Every HTTP call the front end makes to the REST API, each with a timeout.

The Dash app reaches the API only through `ApiClient`, over HTTP (`API_URL`), so either side can be
replaced or scaled alone. A failed call raises `ApiError`, whose text is written for the visitor
("The review service cannot be reached right now."), never a traceback. Calls made on a visitor's
behalf carry `visitor_headers()`: the visitor's address in `X-Forwarded-For` and their browser's
`User-Agent`, which the API believes when this server is one of its `TRUSTED_PROXIES`.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import requests
from flask import Flask, current_app, has_request_context, request

from brandpulse.dash.settings import WebSettings

logger = logging.getLogger(__name__)

EXTENSION = "brandpulse.api_client"
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


def _sentence(text: str) -> str:
    text = text.strip()
    if not text:
        return text
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


def visitor_headers() -> dict[str, str | None]:
    """Proxy headers naming the visitor of the current request: `X-Forwarded-For`, `User-Agent`.

    The visitor's address is appended to any `X-Forwarded-For` chain this server received (from
    its own reverse proxy); the API walks the chain back from its nearest trusted hop. A visitor
    without a user agent is sent without one (`None` removes requests' default).
    """
    if not has_request_context():
        return {}
    chain = [hop.strip() for value in request.headers.getlist("X-Forwarded-For") for hop in value.split(",")]
    chain = [hop for hop in chain if hop]
    if request.remote_addr:
        chain.append(request.remote_addr)
    headers: dict[str, str | None] = {"User-Agent": request.headers.get("User-Agent") or None}
    if chain:
        headers["X-Forwarded-For"] = ", ".join(chain)
    return headers


class ApiClient:
    """The REST API's endpoints as methods returning decoded JSON; failures raise `ApiError`."""

    def __init__(self, base_url: str, timeout: float) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._local = threading.local()  # requests.Session is not thread-safe: one per thread

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

    def _request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        url = f"{self.base_url}{path}"
        try:
            response = self.session.request(method, url, timeout=self.timeout, **kwargs)
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
        """The model's reading of a text: score, label, suggested_rating, model_version."""
        return self._json("POST", "/api/predict", json={"text": text}, headers=headers)

    def brands(self) -> list[dict[str, Any]]:
        """Every brand, by name."""
        return self._json("GET", "/api/brands")["items"]

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
        score: float | None = None,
        model_version: str | None = None,
        suggestion_shown: bool | None = None,
        idempotency_key: str | None = None,
        headers: dict[str, str | None] | None = None,
    ) -> dict[str, Any]:
        """Store a review; the API fills in the score (and suggestion) when they are not given.

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
            "score": score,
            "model_version": model_version,
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
        return self._json("GET", "/api/config")

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
        """Every matching review as CSV text (text,label,brand,created_at,suggested_rating,score)."""
        params = {key: value for key, value in {"brand": brand, "rating": rating}.items() if value}
        response = self._request("GET", "/api/reviews/export.csv", params=params, headers=self._bearer(token))
        response.encoding = "utf-8"
        return response.text


def init_app(server: Flask, settings: WebSettings) -> None:
    """Give the Dash app's Flask server its API client."""
    server.extensions[EXTENSION] = ApiClient.from_settings(settings)


def get_client() -> ApiClient:
    """The API client of the current app (inside a Dash callback or Flask request)."""
    return current_app.extensions[EXTENSION]
