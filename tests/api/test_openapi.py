"""The OpenAPI document is valid and complete; Swagger UI is served with local assets only."""

from __future__ import annotations

import re

import pytest
from openapi_spec_validator import validate

# The documentation's own routes (the document, the UI page and its static files).
DOC_ENDPOINTS = {"api-docs.openapi_json", "api-docs.openapi_swagger_ui", "docs_assets.asset"}


@pytest.fixture
def spec(client) -> dict:
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    return response.json


def _openapi_path(rule: str) -> str:
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


def test_the_document_validates(spec):
    validate(spec)
    assert spec["openapi"].startswith("3.")


def test_every_route_and_method_is_documented(app, spec):
    for rule in app.url_map.iter_rules():
        if rule.endpoint in DOC_ENDPOINTS:
            continue
        path = _openapi_path(rule.rule)
        assert path in spec["paths"], path
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert method.lower() in spec["paths"][path], (path, method)


def test_request_bodies_are_json_only(spec):
    for path in ("/api/predict", "/api/predict/batch", "/api/review", "/api/models/rollback"):
        content = spec["paths"][path]["post"]["requestBody"]["content"]
        assert set(content) == {"application/json"}


def test_admin_operations_declare_the_bearer_scheme(spec):
    assert spec["components"]["securitySchemes"]["AdminToken"]["scheme"] == "bearer"
    for path in ("/api/reviews", "/api/reviews/{review_id}", "/api/reviews/export.csv"):
        assert spec["paths"][path]["get"]["security"] == [{"AdminToken": []}]
    assert "security" not in spec["paths"]["/api/review"]["post"]


def test_errors_are_documented_with_the_error_schema(spec):
    create = spec["paths"]["/api/review"]["post"]["responses"]
    assert {"201", "400", "413", "415", "422", "429", "503"} <= set(create)
    error = spec["components"]["schemas"]["Error"]
    assert error["properties"]["error"]["$ref"].endswith("/ErrorBody")
    assert set(spec["components"]["schemas"]["ErrorBody"]["properties"]) == {"code", "message", "fields"}


def test_server_owned_fields_are_not_in_the_request_schema(spec):
    properties = spec["components"]["schemas"]["ReviewCreate"]["properties"]
    assert not {"id", "created_at", "ip_address", "user_agent"} & set(properties)
    assert spec["components"]["schemas"]["ReviewCreate"]["required"] == ["brand", "rating", "text"]


def test_swagger_ui_uses_local_assets(client):
    page = client.get("/api/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "http://" not in html and "https://" not in html
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert len(assets) == 3
    for asset in assets:
        response = client.get(f"/api/{asset}")
        assert response.status_code == 200, asset
        assert len(response.data) > 1000
        response.close()
    assert client.get("/api/docs/assets/../../../etc/passwd").status_code == 404


def test_the_models_figures_are_the_servers_and_the_document_says_so(spec):
    schemas = spec["components"]["schemas"]
    properties = schemas["ReviewCreate"]["properties"]
    for name in ("score", "suggested_rating", "model_version"):
        assert properties[name]["deprecated"] is True, name
        assert properties[name]["description"].startswith("Deprecated and ignored"), name
    assert "prediction_token" in properties and "prediction_token" not in schemas["ReviewCreate"]["required"]
    assert "token" in schemas["Prediction"]["required"]
