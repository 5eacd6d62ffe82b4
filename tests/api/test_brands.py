"""`GET /api/brands` and `GET /api/brands/random`."""

from __future__ import annotations

import csv

from brandpulse.api.storage.db import get_database
from brandpulse.api.storage.seeding import BUNDLED_BRANDS
from brandpulse.api.storage.tables import Brand


def bundled_names() -> list[str]:
    with BUNDLED_BRANDS.open(encoding="utf-8") as handle:
        return sorted(row["name"] for row in csv.DictReader(handle))


def test_list_brands_by_name(client):
    response = client.get("/api/brands")
    assert response.status_code == 200
    body = response.json
    assert [brand["name"] for brand in body["items"]] == bundled_names()
    assert body["total"] == len(bundled_names()) >= 10
    assert set(body["items"][0]) == {"id", "name", "website", "logo_url"}
    assert body["items"][0]["website"].startswith("https://")


def test_random_brand(client):
    names = set(bundled_names())
    seen = {client.get("/api/brands/random").json["name"] for _ in range(30)}
    assert seen <= names
    assert len(seen) > 1


def test_random_brand_excludes_the_given_one(app, client):
    with app.app_context(), get_database().connection_context():
        Brand.delete().where(Brand.name.not_in(["Nike", "Adidas"])).execute()
    for _ in range(10):
        response = client.get("/api/brands/random?exclude=Nike")
        assert response.status_code == 200
        assert response.json["name"] == "Adidas"
    # an unknown name excludes nothing
    assert client.get("/api/brands/random?exclude=Nobody").status_code == 200


def test_random_brand_404_when_none_is_left(make_app):
    app = make_app(seed=False)
    client = app.test_client()
    assert client.get("/api/brands").json == {"items": [], "total": 0}
    response = client.get("/api/brands/random")
    assert response.status_code == 404
    assert response.json["error"]["code"] == "not_found"
    with app.app_context(), get_database().connection_context():
        Brand.create(name="Solo")
    assert client.get("/api/brands/random?exclude=Solo").status_code == 404
