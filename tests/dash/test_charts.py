"""The admin charts, from the API's review summary and statistics."""

from __future__ import annotations

from brandpulse.dash import charts

# What GET /api/reviews/summary answers for three reviews, one of them without a suggestion.
SUMMARY = {
    "total": 3,
    "per_day": [{"day": "2026-01-02", "count": 2}, {"day": "2026-01-04", "count": 1}],
    "ratings": [{"rating": r, "count": c} for r, c in [(1, 1), (2, 0), (3, 1), (4, 0), (5, 1)]],
    "suggestions": [
        {"rating": 3, "suggested_rating": 4, "count": 1},
        {"rating": 5, "suggested_rating": 5, "count": 1},
    ],
}
EMPTY = {
    "total": 0,
    "per_day": [],
    "ratings": [{"rating": r, "count": 0} for r in range(1, 6)],
    "suggestions": [],
}


def test_suggestion_matrix_counts_pairs_and_the_share_kept():
    matrix, kept = charts.suggestion_matrix(SUMMARY)
    assert matrix[4][4] == 1  # given 5, suggested 5
    assert matrix[2][3] == 1  # given 3, suggested 4
    assert sum(map(sum, matrix)) == 2  # the review without a suggestion is not in the summary's pairs
    assert kept == 0.5
    assert charts.suggestion_matrix(EMPTY) == ([[0] * 5 for _ in range(5)], None)


def test_figures_hold_the_data():
    per_day = charts.reviews_per_day(SUMMARY)
    assert list(per_day.data[0].y) == [2, 1]
    assert list(per_day.data[0].x) == ["2026-01-02", "2026-01-04"]
    ratings = charts.rating_distribution(SUMMARY)
    assert list(ratings.data[0].y) == [1, 0, 1, 0, 1]
    heatmap = charts.suggestion_heatmap(SUMMARY)
    # Every review with a suggestion, shown or not: "match", not "kept" (the control group kept nothing).
    assert heatmap.data[0].type == "heatmap"
    assert heatmap.layout.title.text == "Suggested vs. given rating<br><sup>50% match (1 of 2)</sup>"
    stats = {
        "brands": [
            {"brand": "Apple", "count": 1, "mean_score": 0.1},
            {"brand": "Nike", "count": 2, "mean_score": 0.82},
            {"brand": "Sony", "count": 0, "mean_score": None},
        ]
    }
    brands = charts.mean_score_by_brand(stats)
    assert list(brands.data[0].y) == ["Apple", "Nike"]  # unreviewed brands left out, lowest first


def test_brand_means_say_their_counts_and_grey_out_below_the_minimum():
    minimum = charts.MIN_BRAND_REVIEWS
    stats = {
        "brands": [
            {"brand": "Apple", "count": minimum - 1, "mean_score": 0.9},
            {"brand": "Nike", "count": minimum, "mean_score": 0.5},
            {"brand": "IKEA", "count": 1, "mean_score": 0.25},
            {"brand": "LEGO", "count": 1204, "mean_score": 0.75},
        ]
    }
    bars = charts.mean_score_by_brand(stats).data[0]
    assert list(bars.y) == ["IKEA", "Nike", "LEGO", "Apple"]
    assert list(bars.text) == [
        "0.25 · 1 review",
        f"0.50 · {minimum} reviews",
        "0.75 · 1,204 reviews",
        f"0.90 · {minimum - 1} reviews",
    ]
    grey, green = charts.FEW_REVIEWS_COLOUR, charts.BRAND_COLOUR
    assert list(bars.marker.color) == [grey, green, green, grey]
    assert list(bars.insidetextfont.color) == ["#212529", "#ffffff", "#ffffff", "#212529"]  # readable on each
    (note,) = charts.mean_score_by_brand(stats).layout.annotations
    assert note.text == f"grey: fewer than {minimum} reviews, too few to compare"
    enough = {"brands": [{"brand": "Nike", "count": minimum, "mean_score": 0.5}]}
    assert not charts.mean_score_by_brand(enough).layout.annotations  # nothing grey: no note


def test_no_reviews_gives_labelled_empty_charts():
    for figure in (
        charts.reviews_per_day(EMPTY),
        charts.rating_distribution(EMPTY),
        charts.suggestion_heatmap(EMPTY),
        charts.mean_score_by_brand({"brands": []}),
    ):
        assert not figure.data
        assert figure.layout.annotations[0].text.startswith("No reviews")


# What GET /api/models/suggestions answers: two versions, one of them on two days.
DAILY = {
    "daily": [
        {"version": "v1", "day": "2026-01-02", "reviews": 4, "kept_suggestion": 0.75, "mean_abs_error": 0.25},
        {"version": "v1", "day": "2026-01-03", "reviews": 2, "kept_suggestion": 0.5, "mean_abs_error": 1.0},
        {"version": "v2", "day": "2026-01-03", "reviews": 1, "kept_suggestion": 1.0, "mean_abs_error": 0.0},
    ],
    "anchoring": [],
}


def test_suggestions_per_day_draws_both_measures_per_version():
    figure = charts.suggestions_per_day(DAILY)
    traces = [(trace.name, trace.xaxis, list(trace.x), list(trace.y)) for trace in figure.data]
    assert traces == [
        ("v1", "x", ["2026-01-02", "2026-01-03"], [0.75, 0.5]),
        ("v1", "x2", ["2026-01-02", "2026-01-03"], [0.25, 1.0]),
        ("v2", "x", ["2026-01-03"], [1.0]),
        ("v2", "x2", ["2026-01-03"], [0.0]),
    ]
    assert [trace.showlegend for trace in figure.data] == [None, False, None, False]  # one entry each
    assert figure.data[0].line.color == figure.data[1].line.color != figure.data[2].line.color
    assert list(figure.data[0].customdata) == [4, 2]  # reviews, in the hover text
    assert figure.layout.yaxis.tickformat == ".0%"


def test_suggestions_per_day_without_reviews():
    figure = charts.suggestions_per_day({"daily": [], "anchoring": []})
    assert not figure.data
    assert figure.layout.annotations[0].text == "No reviews with a suggestion shown yet"


EVIL_VERSION = '<a href="http://evil.example">Token expired: sign in</a>'


def test_api_strings_are_drawn_as_text_never_as_markup():
    daily = {
        "daily": [
            {
                "version": EVIL_VERSION,
                "day": "2026-01-02",
                "reviews": 3,
                "kept_suggestion": 0.5,
                "mean_abs_error": 1.0,
            }
        ]
    }
    figure = charts.suggestions_per_day(daily)
    escaped = '&lt;a href="http://evil.example"&gt;Token expired: sign in&lt;/a&gt;'
    assert {trace.name for trace in figure.data} == {escaped}  # the legend and the hover label
    assert "<" not in figure.to_json().replace("<extra>", "").replace("</extra>", "")
    stats = {"brands": [{"brand": "<b>Bold</b> & <br>Co", "count": 2, "mean_score": 0.5}]}
    bars = charts.mean_score_by_brand(stats)
    assert list(bars.data[0].y) == ["&lt;b&gt;Bold&lt;/b&gt; &amp; &lt;br&gt;Co"]  # tick labels and hover


def test_plain_escapes_what_plotly_reads_as_markup():
    assert charts.plain("a < b > c & d") == "a &lt; b &gt; c &amp; d"
    assert charts.plain('say "hi"') == 'say "hi"'  # Plotly has no &quot;: a quote starts no tag
    assert charts.plain(None) == "None"
