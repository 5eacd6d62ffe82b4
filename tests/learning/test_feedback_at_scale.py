"""The learning loop at scale: stored reviews streamed as columns are filtered exactly as the rules
say (on SQLite and PostgreSQL), in bounded memory; a round reads the texts of a bounded, seeded
sample only; the benchmark (bench/retrain_scale.py) runs end to end."""

from __future__ import annotations

import tracemalloc
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import pytest
from flask import Flask

from bench.retrain_scale import postings, table_rows
from brandpulse.api.pseudonyms import client_pseudonym
from brandpulse.api.settings import current_settings
from brandpulse.api.storage.db import get_database
from brandpulse.api.storage.tables import Brand, Review
from brandpulse.learning import feedback
from brandpulse.learning.retrain_round import round_reviews
from brandpulse.learning.stored_reviews import fetch_reviews, normalise

RULES = {"min_chars": 20, "max_per_client_day": 20}
FIELDS = (
    Review.brand,
    Review.text,
    Review.rating,
    Review.suggested_rating,
    Review.score,
    Review.model_version,
    Review.user_agent,
    Review.ip_address,
    Review.client_pseudonym,
    Review.created_at,
    Review.suggestion_shown,
    Review.suggestion_changed,
    Review.flagged,
)
WORDS = "shoes delivery refund support app crashes size fits quality price late fast staff rude kind".split()


def corpus_like(n: int, seed: int = 5) -> tuple[list[str], list[int]]:
    """`n` texts of review length with their stars, all different."""
    draw = np.random.default_rng(seed)
    texts = [
        f"Review {i}: " + " ".join(draw.choice(WORDS, int(draw.integers(5, 40)))) + "." for i in range(n)
    ]
    return texts, [int(stars) for stars in draw.integers(1, 6, n)]


def fill(app: Flask, n: int, seed: int = 2027) -> None:
    """`n` reviews as the benchmark makes them (visitors, floods from one address and from one
    IPv6 network, a campaign, scripts, short texts, flags), inserted through peewee."""
    texts, stars = corpus_like(max(100, n // 2))
    with app.app_context(), get_database().connection_context():
        brands = [brand.id for brand in Brand.select(Brand.id)]
        stream = postings(n, texts, stars, seed)
        rows = list(table_rows(stream, brands, client_pseudonym, seed))
        with get_database().atomic():
            for start in range(0, len(rows), 500):
                Review.insert_many(rows[start : start + 500], fields=FIELDS).execute()


@dataclass
class Reference:
    ids: list[int]
    dropped: dict[str, int]
    weights: list[float]
    kept_weight: float


def reference_selection(
    reviews: list[feedback.StoredReview], min_chars: int, max_per_client_day: int
) -> Reference:
    """The six filters and the echo weight as they were written before the columns, with Counters
    of whole texts: the oracle the streamed selection must equal."""
    dropped: Counter[str] = Counter({reason: 0 for reason in feedback.REASONS})
    rows = []
    for review in reviews:
        if review.flagged:
            dropped["flagged"] += 1
        elif len(normalise(review.text)) < min_chars:
            dropped["too_short"] += 1
        else:
            rows.append(review)
    per_client_text = Counter((review.client, normalise(review.text)) for review in rows)
    copies = Counter(normalise(review.text) for review in rows)
    kept, seen = [], set()
    for review in rows:
        text = normalise(review.text)
        if review.client is not None and per_client_text[(review.client, text)] > 1:
            dropped["repeated_by_client"] += 1
        elif copies[text] > feedback.MAX_COPIES:
            dropped["mass_posted"] += 1
        elif text in seen:
            dropped["duplicate"] += 1
        else:
            seen.add(text)
            kept.append(review)
    per_day = Counter((r.client, r.created_at.date()) for r in kept if r.client is not None)
    selected = []
    for review in kept:
        if (
            review.client is not None
            and per_day[(review.client, review.created_at.date())] > max_per_client_day
        ):
            dropped["client_day_cap"] += 1
        else:
            selected.append(review)
    shown, control = [], []
    for review in selected:
        if review.suggested_rating is not None and review.suggestion_shown is not None:
            (shown if review.suggestion_shown else control).append(review.rating == review.suggested_rating)
    alone, with_it = float(np.mean(control)), float(np.mean(shown))
    weight = float(np.clip((1 - with_it) / (1 - alone) * alone / with_it, feedback.MIN_KEPT_WEIGHT, 1.0))
    weights = [weight if review.kept_suggestion else 1.0 for review in selected]
    return Reference([review.id for review in selected], dict(dropped), weights, weight)


def test_streamed_columns_select_exactly_what_the_rules_say(app):
    fill(app, 4000)
    with app.app_context(), get_database().connection_context():
        reviews = feedback.read_reviews()
        streamed = feedback.select_columns(feedback.read_review_columns(page=97), **RULES)
    expected = reference_selection(reviews, **RULES)
    assert all(expected.dropped[reason] > 0 for reason in feedback.REASONS), expected.dropped
    assert streamed.dropped == expected.dropped
    assert streamed.columns.id.tolist() == expected.ids
    assert streamed.kept_weight == pytest.approx(expected.kept_weight) and expected.kept_weight < 1
    np.testing.assert_allclose(streamed.weights, expected.weights)
    in_memory = feedback.select_feedback(reviews, **RULES)
    assert [review.id for review in in_memory.reviews] == expected.ids
    assert feedback.visitor_mix(streamed) == feedback.visitor_mix(in_memory)


def test_the_columns_hold_each_review_oldest_first_whatever_the_page(app):
    fill(app, 600)
    with app.app_context(), get_database().connection_context():
        ids = [review.id for review in Review.select(Review.id)]
        Review.update(created_at=datetime(2025, 6, 1)).where(Review.id.in_(ids[::7])).execute()  # ties
        reviews = feedback.read_reviews()
        pages = [feedback.read_review_columns(page=page) for page in (1, 13, 5000)]
    for columns in pages:
        assert columns.id.tolist() == [review.id for review in reviews]
        assert columns.rating.tolist() == [review.rating for review in reviews]
        assert columns.kept_suggestion.tolist() == [review.kept_suggestion for review in reviews]
        assert columns.length.tolist() == [len(normalise(review.text)) for review in reviews]
        assert columns.has_client.tolist() == [review.client is not None for review in reviews]


@pytest.mark.slow
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_reading_50000_reviews_as_columns_holds_a_fraction_of_the_list(app):
    n = 50_000
    with app.app_context(), get_database().connection_context():
        brand = Brand.select(Brand.id).first().id
        long_text = "The delivery was late but the support team sorted it out kindly. " * 5
        start = datetime(2026, 1, 1)
        with get_database().atomic():
            for first in range(0, n, 1000):
                Review.insert_many(
                    [
                        (
                            brand,
                            f"{i}: {long_text}",
                            1 + i % 5,
                            start + timedelta(minutes=i),
                            f"{i % 9000:032x}",
                        )
                        for i in range(first, first + 1000)
                    ],
                    fields=(
                        Review.brand,
                        Review.text,
                        Review.rating,
                        Review.created_at,
                        Review.client_pseudonym,
                    ),
                ).execute()

        def peak(read):
            tracemalloc.start()
            try:
                result = read()
                return result, tracemalloc.get_traced_memory()[1]
            finally:
                tracemalloc.stop()

        columns, columns_peak = peak(feedback.read_review_columns)
        reviews, list_peak = peak(feedback.read_reviews)
    assert len(columns) == len(reviews) == n
    assert columns.nbytes == 41 * n
    # One page of whole reviews at a time (5,000 of ~350 characters) and the columns, copied once
    # to sort them by time: the list of every review, whole, holds several times more.
    assert columns_peak < 4 * 2**20 + 3 * columns.nbytes, columns_peak
    assert columns_peak < list_peak / 3, (columns_peak, list_peak)


def test_a_round_reads_a_bounded_seeded_sample_and_weighs_with_every_review(make_app):
    app = make_app(RETRAIN_MAX_FEEDBACK_ROWS=1000)
    fill(app, 3000)
    settings = current_settings(app)
    with app.app_context(), get_database().connection_context():
        selected = feedback.select_columns(feedback.read_review_columns(), **RULES)
        older, recent = selected.split_by_time(settings.retrain_recent_share)
        in_test = {normalise(r.text) for r in fetch_reviews(older.columns.id[:50:5]).values()}
        trained, judged, figures = round_reviews(selected, in_test, settings)
        again = round_reviews(selected, in_test, settings)
        all_used = round_reviews(
            selected, in_test, settings.model_copy(update={"retrain_max_feedback_rows": 20_000})
        )
    assert figures == {
        "in_fixed_test": 10,
        "older": len(older) - 10,
        "older_used": 800,
        "recent": len(recent),
        "recent_used": 200,
        "max_rows": 1000,
    }
    assert [r.id for r in again[0].reviews] == [r.id for r in trained.reviews]  # seeded: the same sample
    assert [r.id for r in again[1].reviews] == [r.id for r in judged.reviews]
    times = [(r.created_at, r.id) for r in trained.reviews]
    assert times == sorted(times) and max(times) < min((r.created_at, r.id) for r in judged.reviews)
    assert not {normalise(r.text) for r in trained.reviews} & in_test
    weight_of = dict(zip(selected.columns.id.tolist(), selected.weights, strict=True))
    assert [weight_of[r.id] for r in trained.reviews] == trained.weights.tolist()  # the whole's weights
    assert selected.kept_weight < 1 and any(r.kept_suggestion for r in trained.reviews)
    # Under the cap, every usable review is used, as before the cap.
    assert len(all_used[0].reviews) == len(older) - 10 and len(all_used[1].reviews) == len(recent)


def test_a_review_deleted_after_it_was_read_is_not_fetched(app):
    fill(app, 300)
    with app.app_context(), get_database().connection_context():
        selected = feedback.select_columns(feedback.read_review_columns(), **RULES)
        gone = int(selected.columns.id[3])
        Review.delete().where(Review.id == gone).execute()
        fetched = selected.fetch()
    assert len(fetched.reviews) == len(selected) - 1 == len(fetched.weights)
    assert gone not in {review.id for review in fetched.reviews}


def test_the_sample_sizes_share_the_cap_as_the_reviews_are_shared():
    assert feedback.sample_sizes(20_000, 0.2) == (16_000, 4_000)
    assert feedback.sample_sizes(10, 0.25) == (8, 2)  # round(2.5) is 2


@pytest.mark.slow
@pytest.mark.postgres
def test_the_benchmark_fills_measures_and_drops_its_database(postgres_server, reviews_csv):
    from bench.retrain_scale import run

    def databases() -> set[str]:
        import psycopg2

        connection = psycopg2.connect(postgres_server)
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT datname FROM pg_database WHERE datname LIKE 'brandpulse_bench%'")
                return {name for (name,) in cursor.fetchall()}
        finally:
            connection.close()

    before = databases()
    figures = run([2000], legacy=True)
    assert databases() == before
    assert figures["cpu"]["model"] and isinstance(figures["cpu"]["avx512_bf16"], bool)
    (result,) = figures["results"]
    stream, legacy = result["stages"]
    assert result["fill"]["reviews"] == stream["read"] == 2000
    assert stream["selection_sha256"] == legacy["selection_sha256"] and stream["dropped"] == legacy["dropped"]
    assert all(stream["dropped"][reason] > 0 for reason in feedback.REASONS), stream["dropped"]
    assert 0 < stream["baseline_rss_mb"] <= stream["peak_rss_mb"] <= stream["process_peak_rss_mb"] + 1
    assert "review_pkey" in result["postgres"]["page_plan"]
