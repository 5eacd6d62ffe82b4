"""Client traffic against a running API, every request's outcome kept, and the reviews it stored.

`Traffic` runs `clients` threads, each with its own keep-alive session, sending a mix of
`POST /api/predict` and `POST /api/review` (`review_share` of the requests) back to back, or
paced to `rate` requests per second in all. Each review carries a unique text, so after a run
`review_rows` can say, for every review a client saw acknowledged (201), whether the database
holds it exactly once.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

import psycopg2
import requests

REVIEW_MARKER = "traffic-review"
PREDICTION_TEXTS = (
    "great shoes, love them",
    "The delivery was late and the box was damaged, but support sorted it out quickly.",
    "Terrible quality. The sole came off after two weeks and nobody answers my emails.",
    "Comfortable, light and they look exactly like the photos. I ordered a second pair "
    "in another colour the week after and would recommend them to anyone who walks a lot.",
)


@dataclass(frozen=True)
class Outcome:
    """One request and how it ended."""

    kind: str  # "predict" or "review"
    started: float  # time.monotonic() when it was sent
    ended: float  # when its answer (or its failure) came
    status: int | None  # None: no HTTP answer (connection refused or reset, timeout)
    error: str | None = None  # the JSON error code of a non-2xx answer, or the exception's class name
    text: str | None = None  # a review's unique text

    @property
    def failed_to_connect(self) -> bool:
        """Whether the request got no HTTP answer at all."""
        return self.status is None


class Traffic:
    """Mixed predictions and reviews from `clients` threads until `stop()`.

    `rate` (requests per second over all clients) paces the clients; None sends back to back.
    With `stop_on_failure`, a client stops at its first request that gets no HTTP answer (the
    server is gone).
    """

    def __init__(
        self,
        base_url: str,
        clients: int = 32,
        review_share: float = 0.2,
        rate: float | None = None,
        stop_on_failure: bool = False,
        timeout: float = 30.0,
        seed: int = 0,
    ) -> None:
        self.base_url = base_url
        self.clients = clients
        self.review_share = review_share
        self.rate = rate
        self.stop_on_failure = stop_on_failure
        self.timeout = timeout
        self.seed = seed
        self.outcomes: list[Outcome] = []  # appended by every client (list.append is atomic)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> Traffic:
        """Start the clients."""
        self._stop.clear()
        self._threads = [
            threading.Thread(target=self._client, args=(index,), name=f"traffic-{index}", daemon=True)
            for index in range(self.clients)
        ]
        for thread in self._threads:
            thread.start()
        return self

    def stop(self, timeout: float = 60.0) -> list[Outcome]:
        """Stop the clients (each finishes its request in flight); every outcome so far."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=timeout)
        return list(self.outcomes)

    @property
    def running_clients(self) -> int:
        """How many clients are still sending."""
        return sum(thread.is_alive() for thread in self._threads)

    def __enter__(self) -> Traffic:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _client(self, index: int) -> None:
        rng = random.Random(self.seed * 1_000_003 + index)
        session = requests.Session()
        interval = self.clients / self.rate if self.rate else 0.0
        next_send = time.monotonic() + rng.uniform(0, interval)  # spread the paced clients
        try:
            while not self._stop.is_set():
                if interval:
                    if self._stop.wait(max(0.0, next_send - time.monotonic())):
                        break
                    next_send = max(next_send + interval, time.monotonic() - interval)
                outcome = self._send(session, rng)
                self.outcomes.append(outcome)
                if outcome.failed_to_connect and self.stop_on_failure:
                    break
        finally:
            session.close()

    def _send(self, session: requests.Session, rng: random.Random) -> Outcome:
        if rng.random() < self.review_share:
            kind, path, text = "review", "/api/review", f"{REVIEW_MARKER} {uuid.uuid4().hex}: fine shoes."
            body: dict = {"text": text, "rating": rng.randint(1, 5), "brand": "Nike"}
        else:
            kind, path, text = "predict", "/api/predict", None
            body = {"review": rng.choice(PREDICTION_TEXTS)}
        started = time.monotonic()
        try:
            response = session.post(self.base_url + path, json=body, timeout=self.timeout)
        except requests.RequestException as error:  # ConnectionError, ReadTimeout, …
            return Outcome(kind, started, time.monotonic(), None, type(error).__name__, text)
        ended = time.monotonic()
        error_code = None
        if response.status_code >= 300:
            try:
                error_code = response.json()["error"]["code"]
            except (ValueError, KeyError, TypeError):
                error_code = "not-json"  # every error of the API is JSON: this one is not
        return Outcome(kind, started, ended, response.status_code, error_code, text)


def acknowledged_reviews(outcomes: Iterable[Outcome]) -> set[str]:
    """The texts of the reviews a client saw stored (201)."""
    return {outcome.text for outcome in outcomes if outcome.kind == "review" and outcome.status == 201}


def stored_reviews(database_url: str) -> Counter[str]:
    """How many times each traffic review text is in the database (PostgreSQL)."""
    connection = psycopg2.connect(database_url, connect_timeout=10)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT text FROM review WHERE text LIKE %s", (f"{REVIEW_MARKER} %",))
            return Counter(text for (text,) in cursor.fetchall())
    finally:
        connection.close()


def review_rows(outcomes: Iterable[Outcome], database_url: str) -> dict[str, int]:
    """Acknowledged reviews against stored rows: how many are missing, doubled or never acknowledged."""
    outcomes = list(outcomes)
    acknowledged = acknowledged_reviews(outcomes)
    stored = stored_reviews(database_url)
    return {
        "sent": sum(outcome.kind == "review" for outcome in outcomes),
        "acknowledged": len(acknowledged),
        "stored": sum(stored.values()),
        "missing": len(acknowledged - set(stored)),
        "duplicated": sum(1 for count in stored.values() if count > 1),
        "stored_unacknowledged": len(set(stored) - acknowledged),
    }


def status_counts(outcomes: Iterable[Outcome]) -> dict[str, dict[str, int]]:
    """Per kind, how many requests ended with each status ("none": no HTTP answer)."""
    counts: dict[str, Counter[str]] = {}
    for outcome in outcomes:
        counts.setdefault(outcome.kind, Counter())[str(outcome.status or "none")] += 1
    return {kind: dict(sorted(counter.items())) for kind, counter in sorted(counts.items())}
