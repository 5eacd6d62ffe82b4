"""Rate limits: per endpoint, per client address, 429 with Retry-After."""

from __future__ import annotations

from tests.api.conftest import post_review


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
