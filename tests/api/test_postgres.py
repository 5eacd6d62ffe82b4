"""PostgreSQL under stress: a server restart while the API runs, and concurrent writers."""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from brandpulse.api.db import get_database
from brandpulse.api.models import Review
from tests.api.conftest import POSTGRES_HOST, POSTGRES_PORT, post_review
from tests.conftest import skip_or_fail

POSTGRES_ONLY = pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
ALL_DATABASES = pytest.mark.parametrize(
    "database_url", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)


def _cluster() -> list[str]:
    versions = (
        sorted(path.name for path in Path("/etc/postgresql").glob("*"))
        if Path("/etc/postgresql").is_dir()
        else []
    )
    if not versions or shutil.which("pg_ctlcluster") is None:
        skip_or_fail("pg_ctlcluster is not available to restart PostgreSQL")
    return ["pg_ctlcluster", "--skip-systemctl-redirect", versions[-1], "main"]


def _ready() -> bool:
    result = subprocess.run(
        ["pg_isready", "-q", "-h", POSTGRES_HOST, "-p", str(POSTGRES_PORT)], check=False, timeout=10
    )
    return result.returncode == 0


def _wait_for(ready: bool, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while _ready() != ready:
        if time.monotonic() > deadline:
            raise TimeoutError(f"PostgreSQL did not become {'ready' if ready else 'unreachable'}")
        time.sleep(0.2)


def _control(cluster: list[str], action: str) -> None:
    subprocess.run(
        [*cluster, action, *(["-m", "fast"] if action != "start" else [])], check=True, timeout=120
    )


@pytest.mark.postgres
@pytest.mark.slow
@POSTGRES_ONLY
def test_requests_get_503_during_an_outage_and_work_again_after_it(app, client):
    cluster = _cluster()
    assert client.get("/api/brands").status_code == 200
    assert post_review(client).status_code == 201  # the pool now holds a connection
    try:
        _control(cluster, "stop")
        _wait_for(ready=False)
        for _ in range(3):
            start = time.monotonic()
            for response in (client.get("/api/brands"), post_review(client), client.get("/api/stats")):
                assert response.status_code == 503
                assert response.json["error"]["code"] == "service_unavailable"
                assert response.headers["Retry-After"]
            assert time.monotonic() - start < 15
        ready = client.get("/readyz")
        assert ready.status_code == 503 and ready.json["checks"]["database"] == "unavailable"
        assert client.post("/api/predict", json={"review": "scoring needs no database"}).status_code == 200
        assert client.get("/healthz").status_code == 200
    finally:
        _control(cluster, "start")
        _wait_for(ready=True)
    # The first request after the outage already works: no restart of the API.
    assert client.get("/api/brands").status_code == 200
    assert post_review(client).status_code == 201
    assert client.get("/readyz").status_code == 200


@pytest.mark.postgres
@pytest.mark.slow
@POSTGRES_ONLY
def test_a_restart_under_load_gives_only_success_or_503(app):
    cluster = _cluster()
    statuses: list[int] = []
    stop = threading.Event()

    def load() -> None:
        client = app.test_client()
        while not stop.is_set():
            statuses.append(client.get("/api/brands").status_code)
            statuses.append(post_review(client).status_code)

    worker = threading.Thread(target=load)
    worker.start()
    try:
        time.sleep(0.3)
        _control(cluster, "restart")
        _wait_for(ready=True)
        time.sleep(0.3)
    finally:
        stop.set()
        worker.join(timeout=60)
        if not _ready():
            _control(cluster, "start")
            _wait_for(ready=True)
    assert set(statuses) <= {200, 201, 503}
    assert statuses.count(201) > 0
    client = app.test_client()
    assert client.get("/api/brands").status_code == 200
    assert post_review(client).status_code == 201


@ALL_DATABASES
def test_400_reviews_from_16_threads_are_stored_exactly_once(app):
    texts = [f"Concurrent review number {index:03d}, still perfectly fine." for index in range(400)]
    barrier = threading.Barrier(16)

    def post(chunk: list[str]) -> list[tuple[int, int | None]]:
        client = app.test_client()
        barrier.wait()
        results = []
        for text in chunk:
            response = client.post(
                "/api/review", json={"text": text, "rating": 1 + len(text) % 5, "brand": "Nike"}
            )
            results.append((response.status_code, response.json.get("id")))
        return results

    with ThreadPoolExecutor(16) as pool:
        results = [item for chunk in pool.map(post, [texts[i::16] for i in range(16)]) for item in chunk]
    assert [status for status, _ in results] == [201] * 400
    assert len({review_id for _, review_id in results}) == 400
    with app.app_context(), get_database().connection_context():
        stored = [review.text for review in Review.select(Review.text)]
    assert sorted(stored) == sorted(texts)
