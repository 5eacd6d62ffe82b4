"""Connection per request, pooling on PostgreSQL, the schema's own guards."""

from __future__ import annotations

import peewee
import pytest
from playhouse.pool import PooledPostgresqlDatabase

from brandpulse.api.serving.inference import get_model
from brandpulse.api.storage.db import get_database
from brandpulse.api.storage.tables import Brand, Review
from tests.api.conftest import post_review


def test_a_connection_per_request_closed_afterwards(app, client):
    db = get_database(app)
    assert db.is_closed()
    assert client.get("/api/brands").status_code == 200
    assert db.is_closed()
    assert post_review(client, rating=9).status_code == 422
    assert db.is_closed()
    assert client.get("/api/brands/random?exclude=%00").status_code == 422
    assert db.is_closed()


def test_endpoints_without_the_database_do_not_connect(app, client, monkeypatch):
    db = get_database(app)
    # Loading the model reads the registry's champion once (its watcher thread, later ones);
    # after that, scoring never touches the database.
    with app.app_context():
        get_model(app).get()

    def refuse(*args, **kwargs):
        raise AssertionError("connected")

    monkeypatch.setattr(db, "connect", refuse)
    assert client.post("/api/predict", json={"review": "fine"}).status_code == 200
    assert client.get("/healthz").status_code == 200
    assert client.get("/metrics").status_code == 200


def test_postgres_uses_a_pool(app, database_url):
    db = get_database(app)
    if database_url.startswith("postgres"):
        assert isinstance(db, PooledPostgresqlDatabase)
        client = app.test_client()
        for _ in range(5):
            client.get("/api/brands")
        assert len(db._connections) == 1 and not db._in_use  # one connection, reused
    else:
        assert isinstance(db, peewee.SqliteDatabase)
        with db.connection_context():
            assert db.pragma("journal_mode") == "wal"


def test_check_constraints_refuse_what_validation_would(app):
    with app.app_context(), get_database().connection_context():
        brand = Brand.get(Brand.name == "Nike")
        for bad in ({"rating": 6}, {"rating": 3, "score": 1.5}, {"rating": 3, "suggested_rating": 0}):
            with pytest.raises(peewee.IntegrityError), get_database().atomic():
                Review.create(brand=brand, text="x" * 20, **bad)
        with pytest.raises(peewee.IntegrityError), get_database().atomic():
            Brand.create(name="Nike")
        assert Review.select().count() == 0
