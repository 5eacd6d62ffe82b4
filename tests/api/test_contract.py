"""The OpenAPI document says what the code enforces, and schemathesis finds no difference.

The fuzz test runs schemathesis' engine (examples, coverage, fuzzing and stateful phases, valid
and invalid data, every check) on every operation of the real app, served over loopback HTTP,
on SQLite and on PostgreSQL, with a bounded number of cases: no 5xx, responses as documented,
every valid request accepted, every invalid one refused. FUZZ_SEED=<seed> replays a run (the
seed is in the failure message). The other tests pin what the fuzzer found once: a score that
underflows PostgreSQL's REAL, a form body read as a list, limits the document did not state.
"""

from __future__ import annotations

import os
import re
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from brandpulse.api.endpoints.field_types import BLANKS, FLOAT32_TINY, as_float32, text_pattern
from brandpulse.api.endpoints.parsing import SERVER_REFUSALS
from tests.api.conftest import ADMIN, ADMIN_TOKEN, post_review
from tests.support.contract import fuzz, serve

FUZZ_EXAMPLES = 25  # per operation and phase: about 1,200 cases per database
TEXT = "Comfortable shoes, quick delivery, very happy with them."
FORM = "application/x-www-form-urlencoded"


def _operations(spec: dict) -> set[str]:
    return {
        f"{method.upper()} {path}"
        for path, item in spec["paths"].items()
        for method in item
        if method in ("get", "put", "post", "delete", "patch")
    }


def test_every_operation_holds_to_the_document(app, client):
    seed = int(os.environ["FUZZ_SEED"]) if os.environ.get("FUZZ_SEED") else None
    with serve(app) as base_url:
        report = fuzz(base_url, admin_token=ADMIN_TOKEN, max_examples=FUZZ_EXAMPLES, seed=seed)
    summary = report.describe()
    assert not report.failures and not report.errors, summary
    untested = _operations(client.get("/api/openapi.json").json) - set(report.cases)
    assert not untested, f"operations without a case: {sorted(untested)}\n{summary}"
    assert report.total > 20 * len(report.cases), summary


# ---------------------------------------------------------------- numbers that fit the columns


@pytest.mark.parametrize("sent", [6.69e-101, 1e-45, FLOAT32_TINY, 0.9, 1 / 3, 1.0])
def test_a_deprecated_score_is_accepted_as_documented_and_ignored(app, client, sent):
    # 6.69e-101 was once a 500 on PostgreSQL (a REAL that underflows): a client's score is no
    # longer stored at all, only the server's, rounded as the REAL column keeps it.
    own = client.post("/api/predict", json={"text": TEXT}).json
    response = post_review(client, text=TEXT, score=sent, suggested_rating=3)
    assert response.status_code == 201, response.json
    assert response.json["score"] == as_float32(own["score"])
    again = client.get(f"/api/reviews/{response.json['id']}", headers=ADMIN).json
    assert again["score"] == pytest.approx(response.json["score"], rel=1e-7)


def test_a_score_is_validated_as_sent(client):
    # 1 + 1e-9 rounds to the float32 1.0, but the document's maximum is 1: refused.
    assert post_review(client, score=1 + 1e-9).status_code == 422
    assert post_review(client, score=-1e-300).status_code == 422


@pytest.mark.parametrize(
    ("number", "stored"), [(6.69e-101, 0.0), (FLOAT32_TINY, 1.1754944e-38), (1 / 3, 0.33333334)]
)
def test_a_score_is_stored_as_postgresql_keeps_a_real(number, stored):
    assert as_float32(number) == stored


@pytest.mark.parametrize(
    ("path", "status"),
    [
        (f"/api/reviews/{2**31 - 1}", 404),
        (f"/api/reviews/{2**31}", 404),  # past PostgreSQL's integer: no route, no query
        ("/api/reviews?page=1000000", 200),
        ("/api/reviews?page=1000001", 422),
        ("/api/reviews?per_page=100", 200),
        ("/api/reviews?per_page=101", 422),
        ("/api/reviews?per_page=+5", 200),
        ("/api/models/suggestions?days=366", 200),
        ("/api/models/suggestions?days=367", 422),
    ],
)
def test_integer_inputs_stay_within_their_documented_range(client, path, status):
    assert client.get(path, headers=ADMIN).status_code == status


def test_a_date_filter_beyond_year_one_or_9999_in_utc_is_clamped(client):
    for query in ("since=0001-01-01T00:00:00%2B05:00", "until=9999-12-31T23:59:59-05:00"):
        response = client.get(f"/api/reviews/summary?{query}", headers=ADMIN)
        assert response.status_code == 200, response.json


# ---------------------------------------------------------------- bodies: JSON only


@pytest.mark.parametrize(
    ("path", "content_type", "body", "named"),
    [
        ("/api/predict/batch", FORM, "reviews=AAA", FORM),
        ("/api/predict", FORM, "review=Parcel+arrived+on+time", FORM),
        ("/api/review", "text/plain", '{"text": "x"}', "text/plain"),
        ("/api/review", None, '{"text": "x"}', "no Content-Type"),
        ("/api/models/rollback", FORM, "by=alice", FORM),
    ],
)
def test_a_body_that_is_not_json_is_415_naming_what_came(client, path, content_type, body, named):
    headers = {**ADMIN, **({"Content-Type": content_type} if content_type else {})}
    response = client.post(path, data=body, headers=headers)
    assert response.status_code == 415
    assert response.json["error"]["code"] == "unsupported_media_type"
    assert "application/json" in response.json["error"]["message"]
    assert named in response.json["error"]["message"]


def test_an_optional_body_may_be_absent(client):
    # No body, no Content-Type: the defaults (rollback then has no previous champion: 409).
    assert client.post("/api/models/rollback", headers=ADMIN).status_code == 409


# ---------------------------------------------------------------- the document states the limits


def test_the_document_states_the_configured_limits(make_app):
    app = make_app(PREDICT_BATCH_MAX=3, PAGE_SIZE_MAX=50, REVIEW_MIN_LENGTH=20, REVIEW_MAX_LENGTH=500)
    client = app.test_client()
    spec = client.get("/api/openapi.json").json
    schemas = spec["components"]["schemas"]
    assert schemas["PredictBatchRequest"]["properties"]["reviews"]["maxItems"] == 3
    text = schemas["ReviewCreate"]["properties"]["text"]
    assert text["maxLength"] == 500 and text["pattern"] == text_pattern(20)
    parameters = {p["name"]: p["schema"] for p in spec["paths"]["/api/reviews"]["get"]["parameters"]}
    assert parameters["per_page"]["maximum"] == 50
    # ... and the code enforces exactly them.
    assert client.get("/api/reviews?per_page=50", headers=ADMIN).status_code == 200
    assert client.get("/api/reviews?per_page=51", headers=ADMIN).status_code == 422
    assert post_review(client, text="  " + "x" * 20 + "  ").status_code == 201
    assert post_review(client, text="  " + "x" * 19 + "  ").status_code == 422
    assert post_review(client, text="x" * 500).status_code == 201
    assert post_review(client, text="x" * 501).status_code == 422
    assert client.post("/api/predict/batch", json={"reviews": ["ok"] * 4}).status_code == 422


def test_a_shown_suggestion_need_not_be_named_and_the_document_says_so(client):
    schema = client.get("/api/openapi.json").json["components"]["schemas"]["ReviewCreate"]
    assert "anyOf" not in schema  # the suggestion shown is the server's (its token's): not asked for
    assert post_review(client, suggestion_shown=True).status_code == 201
    assert post_review(client, suggestion_shown=True, suggested_rating=4).status_code == 201
    assert post_review(client, suggestion_shown=False).status_code == 201


ERRORS_BY_KIND = {
    "body": {"400", "413", "415", "422", "429"},
    "admin": {"401", "403", "429", "503"},
    "query": {"422"},
}


def test_every_operation_lists_its_error_answers_with_the_error_schema(client):
    spec = client.get("/api/openapi.json").json
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            responses = operation["responses"]
            expected = {str(status) for status in SERVER_REFUSALS}
            if "requestBody" in operation:
                expected |= ERRORS_BY_KIND["body"]
            if operation.get("security"):
                expected |= ERRORS_BY_KIND["admin"]
            if any(p["in"] == "query" for p in operation.get("parameters", [])):
                expected |= ERRORS_BY_KIND["query"]
            if "{" in path:
                expected.add("404")
            assert expected <= set(responses), (method, path, sorted(expected - set(responses)))
            for status in {status for status in responses if status.startswith("4")}:
                name = responses[status]["$ref"].rsplit("/", 1)[1]
                content = spec["components"]["responses"][name]["content"]
                if int(status) in SERVER_REFUSALS:  # the HTTP server's page, before the app
                    assert set(content) == {"text/html"}, (method, path, status)
                else:
                    assert content["application/json"]["schema"]["$ref"].endswith("/Error"), (method, path)


# ---------------------------------------------------------------- the text pattern is the server's rule


def test_the_blank_class_is_exactly_what_str_strip_removes():
    blank = re.compile(f"[{BLANKS}]")
    for code in range(sys.maxunicode + 1):
        character = chr(code)
        assert bool(blank.fullmatch(character)) == character.isspace(), hex(code)


@settings(database=None)  # no .hypothesis/ directory in the working tree
@given(
    text=st.text(alphabet=st.sampled_from("ab \t\n\x00\u3000\x1c\x85"), max_size=30),
    minimum=st.integers(0, 6),
)
def test_the_text_pattern_says_what_the_server_checks(text, minimum):
    accepted_by_server = "\x00" not in text and len(text.strip()) >= minimum
    assert bool(re.search(text_pattern(minimum), text)) == accepted_by_server
