"""Rate limits: per endpoint, per client address, 429 with Retry-After; counted in Redis across workers."""

from __future__ import annotations

import logging
import secrets
import shutil
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis
import requests

from brandpulse.api import ratelimit
from brandpulse.api.settings import SettingsError
from tests.api.conftest import post_review
from tests.conftest import skip_or_fail
from tests.support.servers import ApiServer, api_settings, free_port, prepare_database, wait_until


def test_predict_limit(make_app):
    client = make_app(RATE_LIMIT_PREDICT="2/minute").test_client()
    for _ in range(2):
        assert client.post("/api/predict", json={"review": "fine"}).status_code == 200
    response = client.post("/api/predict", json={"review": "fine"})
    assert response.status_code == 429
    assert response.json["error"]["code"] == "rate_limited"
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    # other clients, other endpoints and the health checks are not affected
    other = {"REMOTE_ADDR": "192.0.2.44"}
    assert client.post("/api/predict", json={"review": "fine"}, environ_base=other).status_code == 200
    assert client.post("/api/predict/batch", json={"reviews": ["fine"]}).status_code == 200
    assert client.get("/healthz").status_code == 200


def test_review_and_default_limits(make_app):
    client = make_app(RATE_LIMIT_REVIEW="1/minute", RATE_LIMIT_DEFAULT="3/minute").test_client()
    assert post_review(client).status_code == 201
    assert post_review(client).status_code == 429
    statuses = [client.get("/api/brands").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    assert client.get("/readyz").status_code == 200  # exempt


def test_limits_count_per_app(make_app):
    first = make_app(RATE_LIMIT_PREDICT="1/minute").test_client()
    second = make_app(RATE_LIMIT_PREDICT="1/minute").test_client()
    assert first.post("/api/predict", json={"review": "a"}).status_code == 200
    assert second.post("/api/predict", json={"review": "a"}).status_code == 200


# ---------------------------------------------------------------- shared storage: Redis

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture(scope="module")
def redis_url() -> str:
    """The Redis server on this machine, or a skip (a failure where services are required)."""
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as error:
        skip_or_fail(f"Redis is not reachable at {REDIS_URL}: {error}")
    return REDIS_URL


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def ratelimit_logs() -> Iterator[_Collect]:
    """The records the rate limiter logs (the app's loggers do not propagate to pytest's)."""
    handler = _Collect()
    logger = logging.getLogger("brandpulse.api.ratelimit")
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)


def _predict_from(url: str, address: str) -> int:
    """One prediction on a new connection, as client `address` (behind the trusted proxy 127.0.0.1)."""
    response = requests.post(
        f"{url}/api/predict", json={"review": "fine"}, headers={"X-Forwarded-For": address}, timeout=30
    )
    return response.status_code


@pytest.mark.slow
@pytest.mark.parametrize(("storage", "limited_to"), [("memory", "per worker"), ("redis", "in all")])
def test_a_redis_limit_holds_across_two_workers(request, tmp_path, tiny_checkpoint, storage, limited_to):
    """Two gunicorn workers, 5 predictions a minute: with memory:// each worker lets 5 through,
    with Redis exactly 5 pass in all."""
    uri = request.getfixturevalue("redis_url") if storage == "redis" else "memory://"
    database = f"sqlite:///{tmp_path / 'api.sqlite3'}"
    prepare_database(database, tiny_checkpoint, tmp_path)
    settings = api_settings(
        database,
        tiny_checkpoint,
        tmp_path,
        WEB_CONCURRENCY="2",
        RATE_LIMIT_PREDICT="5/minute",
        RATE_LIMIT_STORAGE_URI=uri,
        TRUSTED_PROXIES="127.0.0.1",
    )
    # This run's own keys: a /64 of its own (a client is counted per IPv6 /64), and another for the
    # other client.
    address = f"2001:db8:{secrets.token_hex(2)}:{secrets.token_hex(2)}::1"
    with ApiServer(settings, tmp_path) as api, ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda _: _predict_from(api.url, address), range(60)))
        other_client = _predict_from(api.url, f"2001:db8:{secrets.token_hex(2)}:{secrets.token_hex(2)}::2")
    assert set(statuses) == {200, 429} and other_client == 200
    if limited_to == "in all":
        assert statuses.count(200) == 5
    else:  # the requests did reach both workers, each counting its own
        assert 5 < statuses.count(200) <= 10


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_an_unreachable_redis_fails_open_and_limits_again_once_back(
    make_app, tmp_path, monkeypatch, ratelimit_logs
):
    if shutil.which("redis-server") is None:
        skip_or_fail("redis-server is not installed")
    port = free_port()
    monkeypatch.setattr(ratelimit, "STORAGE_RETRY_SECONDS", 0.3)
    uri = f"redis://:secret-password@127.0.0.1:{port}/0"
    client = make_app(RATE_LIMIT_PREDICT="2/minute", RATE_LIMIT_STORAGE_URI=uri).test_client()
    statuses = [client.post("/api/predict", json={"review": "fine"}).status_code for _ in range(4)]
    assert statuses == [200] * 4  # fail open: served, not limited
    (error,) = [record for record in ratelimit_logs.records if record.levelno == logging.ERROR]
    message = error.getMessage()
    assert "unavailable" in message and f"127.0.0.1:{port}" in message and "secret-password" not in message

    server = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=tmp_path,
    )
    try:
        probe = redis.Redis(port=port, socket_connect_timeout=1)
        wait_until(probe.ping, 10, "the private redis-server did not start")
        time.sleep(0.4)  # past STORAGE_RETRY_SECONDS
        probe.config_set("requirepass", "secret-password")
        statuses = [client.post("/api/predict", json={"review": "fine"}).status_code for _ in range(3)]
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert statuses == [200, 200, 429]
    assert any("answers again" in record.getMessage() for record in ratelimit_logs.records)


def test_an_unknown_storage_fails_at_start(make_app):
    with pytest.raises(SettingsError, match="RATE_LIMIT_STORAGE_URI"):
        make_app(RATE_LIMIT_STORAGE_URI="mysql://127.0.0.1/limits")
