"""Fixtures for the API: apps on SQLite and on PostgreSQL, a tiny checkpoint, admin headers.

Tests that take `app` or `client` run twice, once per database (`database_url` is parametrised).
Each PostgreSQL test session gets a throw-away database `brandpulse_test_<random>`, emptied
before every test and dropped at the end.
"""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from brandpulse.api import create_app
from brandpulse.api.serving.inference import get_model
from brandpulse.api.storage.db import dispose, get_database
from brandpulse.api.storage.migrations import upgrade
from brandpulse.api.storage.seeding import seed_brands
from brandpulse.api.storage.tables import Brand, Review
from tests.conftest import skip_or_fail
from tests.support.postgres import (
    POSTGRES_ADMIN_DSN,
    POSTGRES_HOST,
    POSTGRES_PORT,
    admin_execute,
    throwaway_database,
    unreachable,
)
from tests.support.postgres import database_url as postgres_url
from tests.support.servers import NO_RATE_LIMITS

ADMIN_TOKEN = "test-admin-token-0123456789abcdef"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """The PostgreSQL server's admin DSN, or a skip (a failure where services are required)."""
    reason = unreachable(POSTGRES_ADMIN_DSN)
    if reason:
        skip_or_fail(reason)
    return POSTGRES_ADMIN_DSN


@pytest.fixture(scope="session")
def postgres_database(postgres_server: str) -> Iterator[str]:
    """A throw-away database for this test session, dropped afterwards."""
    with throwaway_database(postgres_server, prefix="brandpulse_test") as name:
        yield postgres_url(name)


def reset_postgres(url: str) -> None:
    """Drop every table of a test database."""
    name = url.rsplit("/", 1)[1]
    admin_execute(
        f"host={POSTGRES_HOST} port={POSTGRES_PORT} user=postgres dbname={name} connect_timeout=3",
        "DROP SCHEMA public CASCADE; CREATE SCHEMA public",
    )


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database: a new SQLite file, or the session's PostgreSQL database emptied."""
    if request.param == "sqlite":
        return f"sqlite:///{(tmp_path / 'data' / 'api.sqlite3').as_posix()}"
    url = request.getfixturevalue("postgres_database")
    reset_postgres(url)
    return url


AppFactory = Callable[..., Flask]


@pytest.fixture
def make_app(database_url: str, tiny_checkpoint: Path) -> Iterator[AppFactory]:
    """Build apps on this test's database: schema upgraded and bundled brands seeded by default."""
    apps: list[Flask] = []

    def factory(*, migrate: bool = True, seed: bool = True, **overrides: Any) -> Flask:
        config = {
            "TESTING": True,
            "DATABASE_URL": database_url,
            "MODEL_PATH": tiny_checkpoint,
            "ADMIN_TOKEN": ADMIN_TOKEN,
            **NO_RATE_LIMITS,
            **overrides,
        }
        app = create_app(config)
        apps.append(app)
        if migrate:
            with app.app_context(), get_database().connection_context():
                upgrade()
                if seed:
                    seed_brands()
        return app

    yield factory
    for app in apps:
        get_model(app).close()  # stop its registry watcher before its database goes
        dispose(app)


@pytest.fixture
def app(make_app: AppFactory) -> Flask:
    """An app with the tiny model, the bundled brands and no rate limits."""
    return make_app()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A test client of `app`."""
    return app.test_client()


def counts(app: Flask) -> dict[str, int]:
    """Rows in each table, to check that a request changed nothing."""
    with app.app_context(), get_database().connection_context():
        return {"brands": Brand.select().count(), "reviews": Review.select().count()}


def brand_names(app: Flask) -> list[str]:
    """The names of the stored brands, sorted."""
    with app.app_context(), get_database().connection_context():
        return sorted(brand.name for brand in Brand.select())


def post_review(client: FlaskClient, **fields: Any) -> Any:
    """POST a valid review (fields override the defaults) and return the response."""
    body = {"text": "Good shoes, comfortable and well made.", "rating": 4, "brand": "Nike", **fields}
    return client.post("/api/review", json=body)


def post_measured(client: FlaskClient, body: bytes) -> tuple[Any, float, int]:
    """POST a raw JSON body to /api/predict: the response, seconds taken, peak traced bytes."""
    tracemalloc.start()
    start = time.perf_counter()
    try:
        response = client.post("/api/predict", data=body, content_type="application/json")
        elapsed = time.perf_counter() - start
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return response, elapsed, peak
