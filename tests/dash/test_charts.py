"""The admin charts, from the API's CSV export and statistics."""

from __future__ import annotations

from datetime import date

from brandpulse.dash import charts

EXPORT = """text,label,brand,created_at,suggested_rating,score
"Great, really",5,Nike,2026-01-02T10:00:00+00:00,5,0.93
"Meh",3,Nike,2026-01-02T11:00:00+00:00,4,0.71
"Bad, ""broke"" at once",1,Apple,2026-01-04T09:30:00+00:00,,
"""


def test_parse_export_reads_the_api_format():
    rows = charts.parse_export(EXPORT)
    assert rows[0] == charts.ReviewRow(brand="Nike", rating=5, suggested=5, score=0.93, day=date(2026, 1, 2))
    assert rows[2].suggested is None and rows[2].score is None
    assert charts.parse_export("text,label,brand,created_at,suggested_rating,score\n") == []


def test_suggestion_matrix_counts_pairs_and_the_share_kept():
    matrix, kept = charts.suggestion_matrix(charts.parse_export(EXPORT))
    assert matrix[4][4] == 1  # given 5, suggested 5
    assert matrix[2][3] == 1  # given 3, suggested 4
    assert sum(map(sum, matrix)) == 2  # the review without a suggestion is left out
    assert kept == 0.5
    assert charts.suggestion_matrix([]) == ([[0] * 5 for _ in range(5)], None)


def test_figures_hold_the_data():
    rows = charts.parse_export(EXPORT)
    per_day = charts.reviews_per_day(rows)
    assert list(per_day.data[0].y) == [2, 1]
    assert list(per_day.data[0].x) == ["2026-01-02", "2026-01-04"]
    ratings = charts.rating_distribution(rows)
    assert list(ratings.data[0].y) == [1, 0, 1, 0, 1]
    heatmap = charts.suggestion_heatmap(rows)
    assert heatmap.data[0].type == "heatmap" and "50% kept" in heatmap.layout.title.text
    stats = {
        "brands": [
            {"brand": "Apple", "count": 1, "mean_score": 0.1},
            {"brand": "Nike", "count": 2, "mean_score": 0.82},
            {"brand": "Sony", "count": 0, "mean_score": None},
        ]
    }
    brands = charts.mean_score_by_brand(stats)
    assert list(brands.data[0].y) == ["Apple", "Nike"]  # unreviewed brands left out, lowest first


def test_no_reviews_gives_labelled_empty_charts():
    for figure in (
        charts.reviews_per_day([]),
        charts.rating_distribution([]),
        charts.suggestion_heatmap([]),
        charts.mean_score_by_brand({"brands": []}),
    ):
        assert not figure.data
        assert figure.layout.annotations[0].text.startswith("No reviews")
