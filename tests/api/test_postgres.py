"""PostgreSQL restarted under the API: 503 with Retry-After during the outage, and the API works
again as soon as the server is back, without a restart of its own.

The server restarted is a private, throw-away cluster (tests/support/servers.py `PrivatePostgres`),
never the machine's shared one, which other tests and other programs use meanwhile.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator

import pytest

from tests.api.conftest import post_review
from tests.conftest import skip_or_fail
from tests.support.servers import PrivatePostgres, private_postgres_unavailable

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


@pytest.fixture(scope="module")
def cluster() -> Iterator[PrivatePostgres]:
    """A private PostgreSQL cluster that the tests of this module stop and start."""
    reason = private_postgres_unavailable()
    if reason:
        skip_or_fail(reason)
    with PrivatePostgres() as postgres:
        yield postgres


@pytest.fixture
def database_url(cluster: PrivatePostgres) -> str:
    """A new database on the private cluster (overrides tests/api/conftest.py's)."""
    if not cluster.running:  # a test that failed while the server was down
        cluster.start()
    return cluster.create_database(f"restart_{uuid.uuid4().hex[:12]}")


def test_requests_get_503_during_an_outage_and_work_again_after_it(cluster, app, client):
    assert client.get("/api/brands").status_code == 200
    assert post_review(client).status_code == 201  # the pool now holds a connection
    cluster.stop()
    try:
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
        cluster.start()
    # The first request after the outage already works: no restart of the API.
    assert client.get("/api/brands").status_code == 200
    assert post_review(client).status_code == 201
    assert client.get("/readyz").status_code == 200


def test_a_restart_under_load_gives_only_success_or_503(cluster, app):
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
        cluster.stop()
        cluster.start()
        time.sleep(0.3)
    finally:
        stop.set()
        worker.join(timeout=60)
    assert set(statuses) <= {200, 201, 503}
    assert statuses.count(201) > 0
    client = app.test_client()
    assert client.get("/api/brands").status_code == 200
    assert post_review(client).status_code == 201
