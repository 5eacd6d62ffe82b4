"""`POST /api/predict` and `/api/predict/batch` with the tiny model (the bundled one: test_model.py)."""

from __future__ import annotations

import time

import pytest

from brandpulse.model.scoring import suggested_rating
from tests.api.conftest import post_measured

REVIEW = "Friendly staff and great quality, I will come back."
# Glowing, and every character outside the model's alphabet.
JAPANESE = "とても素晴らしい製品でした。配送も早く、また買いたいです！"


def _check_prediction(body: dict) -> None:
    assert set(body) == {
        "score",
        "label",
        "probabilities",
        "suggested_rating",
        "model_version",
        "reliable",
        "unreliable_reason",
        "token",
    }
    assert 0.0 <= body["score"] <= 1.0
    assert set(body["probabilities"]) == {"negative", "positive"}
    assert sum(body["probabilities"].values()) == pytest.approx(1.0)
    assert body["label"] == max(body["probabilities"], key=body["probabilities"].get)
    assert body["suggested_rating"] == suggested_rating(body["score"])
    assert body["model_version"].startswith("tiny-")


def test_predict_json(client):
    response = client.post("/api/predict", json={"text": REVIEW})
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    _check_prediction(response.json)


def test_a_usable_prediction_says_so(client):
    body = client.post("/api/predict", json={"text": REVIEW}).json
    assert (body["reliable"], body["unreliable_reason"]) == (True, None)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("Good.", "too_short"),
        ("   Good service.   ", "too_short"),  # 13 characters once stripped, as a review counts them
        (JAPANESE, "outside_alphabet"),
        ("Отличный товар, всем рекомендую! Доставка быстрая.", "outside_alphabet"),
        ("Schrecklicher Kundenservice, das Paket kam nie an und niemand antwortet.", "not_english"),
        ("Très bon produit, je le recommande à tous.", "not_english"),
        ("!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!", "no_letters"),  # was "not_english"
        ("😀😀😀 🎉🎉🎉 !!! ??? 👍👍👍👍", "no_letters"),
    ],
)
def test_a_prediction_says_when_its_score_is_no_usable_suggestion(client, text, reason):
    body = client.post("/api/predict", json={"text": text}).json
    _check_prediction(body)  # the score is still there, for clients that want it
    assert (body["reliable"], body["unreliable_reason"]) == (False, reason)


def test_english_with_accented_words_is_read(client):
    review = "The café was lovely, the crème brûlée perfect and the staff very kind."
    body = client.post("/api/predict", json={"text": review}).json
    assert (body["reliable"], body["unreliable_reason"]) == (True, None)


def test_the_too_short_line_is_the_review_minimum(make_app):
    client = make_app(REVIEW_MIN_LENGTH=4).test_client()
    assert client.post("/api/predict", json={"text": "Good."}).json["reliable"] is True
    assert client.post("/api/predict", json={"text": "ok"}).json["unreliable_reason"] == "too_short"


def test_a_batch_says_it_per_text(client):
    texts = [REVIEW, "ok", JAPANESE]
    predictions = client.post("/api/predict/batch", json={"texts": texts}).json["predictions"]
    assert [(p["reliable"], p["unreliable_reason"]) for p in predictions] == [
        (True, None),
        (False, "too_short"),
        (False, "outside_alphabet"),
    ]


def test_the_openapi_document_states_the_fields(client):
    schema = client.get("/api/openapi.json").json["components"]["schemas"]["Prediction"]
    assert {"reliable", "unreliable_reason"} <= set(schema["required"])
    reason = schema["properties"]["unreliable_reason"]
    assert reason["nullable"] is True
    assert set(reason["enum"]) == {"too_short", "no_letters", "outside_alphabet", "not_english", None}


def test_predict_refuses_a_form_body(client):
    form = client.post("/api/predict", data={"review": REVIEW})
    assert form.status_code == 415
    assert "application/x-www-form-urlencoded" in form.json["error"]["message"]


def test_predict_batch_keeps_order_and_matches_single(client):
    texts = [REVIEW, "Awful. Broken after a day and nobody answered.", "ok"]
    response = client.post("/api/predict/batch", json={"texts": texts})
    assert response.status_code == 200
    predictions = response.json["predictions"]
    assert len(predictions) == 3
    for text, prediction in zip(texts, predictions, strict=True):
        _check_prediction(prediction)
        single = client.post("/api/predict", json={"text": text}).json
        assert prediction["score"] == pytest.approx(single["score"], abs=1e-6)
    assert response.json["model_version"] == predictions[0]["model_version"]


def test_predict_batch_refuses_a_form_body(client):
    # A form field cannot say whether it is a text or a list of one: `reviews=AAA` is not a list.
    response = client.post("/api/predict/batch", data={"reviews": "AAA"})
    assert response.status_code == 415
    assert response.json["error"]["code"] == "unsupported_media_type"


def test_predict_batch_size_is_capped(make_app):
    client = make_app(PREDICT_BATCH_MAX=3).test_client()
    assert client.post("/api/predict/batch", json={"texts": ["a"] * 3}).status_code == 200
    response = client.post("/api/predict/batch", json={"texts": ["a"] * 4})
    assert response.status_code == 422
    assert "texts" in response.json["error"]["fields"]


def test_predict_without_a_model_is_503(make_app, tmp_path):
    client = make_app(MODEL_PATH=tmp_path / "missing.safetensors").test_client()
    response = client.post("/api/predict", json={"text": REVIEW})
    assert response.status_code == 503
    assert response.json["error"]["code"] == "service_unavailable"
    assert "Traceback" not in response.get_data(as_text=True)


def test_a_5_mb_review_is_refused_before_it_is_read(client):
    start = time.perf_counter()
    response = client.post("/api/predict", json={"text": "x" * (5 * 1024 * 1024)})
    assert response.status_code == 413
    assert response.json["error"]["code"] == "payload_too_large"
    assert time.perf_counter() - start < 2.0


def test_a_5_mb_review_costs_no_more_than_the_model_input_when_allowed(make_app):
    # With a body limit raised past 5 MB the text is scored, but only its first max_length
    # characters reach the model: time and memory stay those of reading the body.
    client = make_app(MAX_CONTENT_LENGTH=8 * 1024 * 1024).test_client()
    body = ('{"review": "' + "great product, " * (5 * 1024 * 1024 // 15) + '"}').encode()
    short = client.post("/api/predict", json={"text": "great product, " * 10}).json
    response, elapsed, peak = post_measured(client, body)
    assert response.status_code == 200
    assert response.json["score"] == pytest.approx(short["score"], abs=1e-6)  # same first 64 characters
    assert elapsed < 5.0
    assert peak < 8 * len(body)  # body bytes, the decoded string and its parse: no per-character blow-up


def test_text_is_the_field_and_review_its_deprecated_alias(client):
    new = client.post("/api/predict", json={"text": REVIEW})
    old = client.post("/api/predict", json={"review": REVIEW})
    assert new.status_code == old.status_code == 200
    assert new.json["score"] == old.json["score"]
    batch_new = client.post("/api/predict/batch", json={"texts": [REVIEW, JAPANESE]})
    batch_old = client.post("/api/predict/batch", json={"reviews": [REVIEW, JAPANESE]})
    assert batch_new.status_code == batch_old.status_code == 200
    assert batch_new.json["predictions"] == batch_old.json["predictions"]


@pytest.mark.parametrize(
    ("path", "body", "field", "words"),
    [
        ("/api/predict", {"text": REVIEW, "review": REVIEW}, "review", "Send `text` only"),
        ("/api/predict", {}, "text", "Missing data"),
        ("/api/predict/batch", {"texts": [REVIEW], "reviews": [REVIEW]}, "reviews", "Send `texts` only"),
        ("/api/predict/batch", {}, "texts", "Missing data"),
    ],
)
def test_both_names_or_neither_is_a_422_naming_the_field(client, path, body, field, words):
    response = client.post(path, json=body)
    assert response.status_code == 422
    assert words in str(response.json["error"]["fields"][field])


def test_the_document_marks_the_alias_deprecated(client):
    document = client.get("/api/openapi.json").json
    schema = document["components"]["schemas"]["PredictRequest"]
    assert schema["properties"]["review"]["deprecated"] is True
    assert schema["oneOf"] == [{"required": ["text"]}, {"required": ["review"]}]
