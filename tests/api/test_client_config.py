"""`GET /api/config`: the limits it states are the settings, and the ones the API enforces."""

from __future__ import annotations

from brandpulse.api import create_app
from brandpulse.api.endpoints.client_config import client_config
from brandpulse.api.endpoints.review_schemas import REVIEW_SORTS
from brandpulse.api.settings import Settings
from tests.api.conftest import ADMIN, post_review

SMALL = {
    "REVIEW_MAX_LENGTH": "500",
    "PAGE_SIZE_DEFAULT": "10",
    "PAGE_SIZE_MAX": "40",
    "PREDICT_BATCH_MAX": "4",
}


def test_the_config_states_the_settings(make_app):
    client = make_app(**SMALL, RATE_LIMIT_REVIEW="5/minute", PERSONAL_DATA_RETENTION_DAYS="30").test_client()
    response = client.get("/api/config")
    assert response.status_code == 200
    assert response.json == {
        "review_min_length": 15,
        "review_max_length": 500,
        "predict_batch_max": 4,
        "page_size_default": 10,
        "page_size_max": 40,
        "review_sorts": list(REVIEW_SORTS),
        "review_sort_default": "-created_at",
        "rate_limits": {"predict": "off", "predict_batch": "off", "review": "5/minute", "default": "off"},
        "personal_data_retention_days": 30,
    }


def test_the_stated_limits_are_the_enforced_ones(make_app):
    client = make_app(**SMALL).test_client()
    config = client.get("/api/config").json
    longest = config["review_max_length"]
    assert post_review(client, text="x" * longest).status_code == 201
    assert post_review(client, text="x" * (longest + 1)).status_code == 422
    assert post_review(client, text="x" * (config["review_min_length"] - 1)).status_code == 422
    batch = ["Good value for the money."] * (config["predict_batch_max"] + 1)
    assert client.post("/api/predict/batch", json={"reviews": batch}).status_code == 422
    largest = config["page_size_max"]
    assert client.get(f"/api/reviews?per_page={largest}", headers=ADMIN).status_code == 200
    assert client.get(f"/api/reviews?per_page={largest + 1}", headers=ADMIN).status_code == 422
    assert client.get("/api/reviews", headers=ADMIN).json["per_page"] == config["page_size_default"]
    for sort in config["review_sorts"]:
        assert client.get("/api/reviews", query_string={"sort": sort}, headers=ADMIN).status_code == 200, sort
    assert client.get("/api/reviews?sort=text", headers=ADMIN).status_code == 422


def test_the_defaults_are_the_default_settings():
    config = client_config(Settings.from_env({}))
    assert (config["review_min_length"], config["review_max_length"]) == (15, 10_000)
    assert (config["page_size_default"], config["page_size_max"]) == (20, 100)
    assert config["rate_limits"]["predict"] == "600/minute"
    assert config["personal_data_retention_days"] == 90


def test_the_config_needs_no_database(tmp_path):
    # Public and cheap: it answers with the database unreachable (no connection is opened).
    app = create_app({"DATABASE_URL": "postgresql://nobody@127.0.0.1:9/none", "LOG_LEVEL": "WARNING"})
    assert app.test_client().get("/api/config").json["review_max_length"] == 10_000


def test_the_config_is_documented(client):
    spec = client.get("/api/openapi.json").json
    operation = spec["paths"]["/api/config"]["get"]
    assert operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/ClientConfig"
    )
    assert "security" not in operation
    schema = spec["components"]["schemas"]["ClientConfig"]
    assert set(schema["required"]) == set(client_config(Settings.from_env({})))
