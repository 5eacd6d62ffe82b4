"""Prediction tokens: what the model said about a text, signed by the server that said it.

A stored review's `score`, `suggested_rating` and `model_version` are the model's, never the
client's: a client that could send them could put any figures (or any markup, as a model
version) into the statistics, the admin's charts and the learning loop's per-version figures.
Yet the page shows the visitor a suggestion some seconds before the review is sent, and the
figures to store are the ones the visitor saw: scoring the text again could meet another model
(a promotion in between) or none (an outage). So every answer of `/api/predict` carries a token
binding its figures to the exact text scored, and `POST /api/review` stores a valid token's
figures instead of scoring the text again.

A token is `<payload>.<signature>`, both base64url without padding: the payload is compact JSON
of the score, suggested rating, model version, the SHA-256 of the stripped text and an expiry
(TOKEN_SECONDS after it was issued); the signature is its HMAC-SHA256 under the key derived from
SECRET_KEY for this use (`signing.derived_key`), compared in constant time. Nothing in it is
secret (the client saw every figure), it only cannot be forged or moved to another text. A token
that is invalid, expired or for another text is no error: the review is scored by the server
(`InvalidToken` says why, for the log).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
import time
from dataclasses import dataclass
from typing import Any

from brandpulse.api.settings import Settings
from brandpulse.api.signing import derived_key
from brandpulse.api.storage.tables import MODEL_VERSION_MAX

PURPOSE = "prediction-token"
# Long enough for a visitor to read the suggestion and write a review; short enough that a token
# is no lasting licence to store a past model's figures.
TOKEN_SECONDS = 30 * 60
TOKEN_MAX = 1024  # a token is about 250 characters; the request schema refuses longer ones


class InvalidToken(ValueError):
    """A token that cannot be used (its message says why)."""


@dataclass(frozen=True)
class ModelFigures:
    """What the model said about a text: its score, suggested rating and version."""

    score: float | None
    suggested_rating: int | None
    model_version: str | None


NO_FIGURES = ModelFigures(None, None, None)


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise InvalidToken("not base64url") from None


def text_digest(text: str) -> str:
    """SHA-256 of a review text as it is stored (stripped), base64url."""
    return _b64encode(hashlib.sha256(text.strip().encode("utf-8", "surrogatepass")).digest())


def _signature(payload: str, settings: Settings | None) -> str:
    key = derived_key(PURPOSE, settings)
    return _b64encode(hmac.new(key, payload.encode("ascii"), hashlib.sha256).digest())


def issue(
    text: str, prediction: dict[str, Any], settings: Settings | None = None, now: float | None = None
) -> str:
    """The token of `prediction` (an answer of the model service) for `text`."""
    now = time.time() if now is None else now
    claims = {
        "s": prediction["score"],
        "r": prediction["suggested_rating"],
        "v": prediction["model_version"],
        "h": text_digest(text),
        "e": int(now) + TOKEN_SECONDS,
    }
    payload = _b64encode(json.dumps(claims, separators=(",", ":")).encode("utf-8"))
    return f"{payload}.{_signature(payload, settings)}"


def read(token: str, text: str, settings: Settings | None = None, now: float | None = None) -> ModelFigures:
    """The figures `token` vouches for `text`; `InvalidToken` unless it is this server's, unexpired
    and made for this very text (stripped)."""
    payload, dot, signature = token.partition(".")
    if not dot or not payload.isascii() or not signature.isascii():
        raise InvalidToken("not a prediction token")
    if not hmac.compare_digest(signature.encode("ascii"), _signature(payload, settings).encode("ascii")):
        raise InvalidToken("bad signature (another server's key, or altered)")
    try:
        claims = json.loads(_b64decode(payload))
        score, rating, version, digest, expiry = (claims[name] for name in "srvhe")
    except (ValueError, TypeError, KeyError):  # pragma: no cover, only a signed payload gets here
        raise InvalidToken("unreadable payload") from None
    if (time.time() if now is None else now) >= expiry:
        raise InvalidToken("expired")
    if not hmac.compare_digest(str(digest), text_digest(text)):
        raise InvalidToken("made for another text")
    valid = (
        isinstance(score, float | int)
        and math.isfinite(score)
        and 0.0 <= score <= 1.0
        and type(rating) is int
        and 1 <= rating <= 5
        and isinstance(version, str)
        and 1 <= len(version) <= MODEL_VERSION_MAX
    )
    if not valid:  # pragma: no cover, this server signs only what its model said
        raise InvalidToken("figures out of range")
    return ModelFigures(float(score), rating, version)
