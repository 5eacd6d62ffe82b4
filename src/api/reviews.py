"""Reviews: `POST /api/review` (public); the list, one review, the summary and the CSV export (admin)."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterator
from datetime import UTC
from typing import Any

from flask import Response, current_app, request, url_for
from peewee import Query, fn
from webargs.flaskparser import abort

from brandpulse.api.db import get_database, open_connection
from brandpulse.api.inference import get_model
from brandpulse.api.models import USER_AGENT_MAX, Brand, Review, as_date
from brandpulse.api.parsing import BODY, BODY_ERRORS, Blueprint
from brandpulse.api.schemas import (
    AdminReviewSchema,
    FlagRequestSchema,
    ReviewCreateSchema,
    ReviewFilterSchema,
    ReviewListQuerySchema,
    ReviewPageSchema,
    ReviewSchema,
    ReviewSummarySchema,
)
from brandpulse.api.security import SECURITY_SCHEME, admin_required, client_ip
from brandpulse.api.settings import Settings
from brandpulse.training.scoring import suggested_rating

bp = Blueprint("reviews", __name__, url_prefix="/api", description="Stored reviews.")
bp.before_request(open_connection)

ADMIN = {"security": [{SECURITY_SCHEME: []}]}
ADMIN_ERRORS = (401, 403, 429, 503)
EXPORT_CHUNK = 1000
EXPORT_COLUMNS = ("text", "label", "brand", "created_at", "suggested_rating", "score")
MAX_REVIEW_ID = 2**31 - 1  # larger ids cannot exist; the route answers 404 without asking the database


def _settings() -> Settings:
    return current_app.extensions["brandpulse.settings"]


@bp.route("/review", methods=["POST"])
@bp.arguments(ReviewCreateSchema, location=BODY)
@bp.response(201, ReviewSchema, headers={"Location": {"schema": {"type": "string"}}})
@bp.errors(*BODY_ERRORS, 503)
def create_review(args: dict[str, Any]) -> tuple[Review, int, dict[str, str]]:
    """Store a review. Its score and suggested rating come from the model unless supplied."""
    brand = Brand.get_or_none(Brand.name == args["brand"])
    if brand is None:
        abort(422, messages={"brand": ["Unknown brand."]})
    text = args["text"].strip()
    score = args.get("score")
    suggested = args.get("suggested_rating")
    model_version = args.get("model_version")
    if score is None:
        prediction = get_model().predict([text])[0]
        score, model_version = prediction["score"], prediction["model_version"]
        suggested = prediction["suggested_rating"] if suggested is None else suggested
    elif suggested is None:
        suggested = suggested_rating(score)
    user_agent = request.headers.get("User-Agent", "").replace("\x00", "")[:USER_AGENT_MAX] or None
    shown = args.get("suggestion_shown")
    if shown and args.get("suggested_rating") is None:
        abort(422, messages={"suggested_rating": ["Required when suggestion_shown is true."]})
    with get_database().atomic():
        review = Review.create(
            brand=brand,
            text=text,
            rating=args["rating"],
            suggested_rating=suggested,
            score=score,
            model_version=model_version,
            user_agent=user_agent,
            ip_address=client_ip(),
            suggestion_shown=shown,
            suggestion_changed=(args["rating"] != suggested) if shown else None,
        )
    return review, 201, {"Location": url_for("reviews.get_review", review_id=review.id)}


def _filtered(args: dict[str, Any], *columns: Any) -> Query:
    query = Review.select(*(columns or (Review, Brand))).join(Brand)
    if "brand" in args:
        query = query.where(Brand.name == args["brand"])
    if "rating" in args:
        query = query.where(Review.rating == args["rating"])
    if "since" in args:
        query = query.where(Review.created_at >= args["since"])
    if "until" in args:
        query = query.where(Review.created_at < args["until"])
    return query


def _ordering(sort: str) -> tuple[Any, ...]:
    """ORDER BY terms for a validated sort key ("-" prefix: descending), ties broken by id."""
    descending = sort.startswith("-")
    key = sort.lstrip("-")
    column = Brand.name if key == "brand" else getattr(Review, key)
    if descending:
        return column.desc(), Review.id.desc()
    return column.asc(), Review.id.asc()


@bp.route("/reviews", methods=["GET"])
@admin_required  # first: no validation messages for callers without the token
@bp.arguments(ReviewListQuerySchema, location="query")
@bp.response(200, ReviewPageSchema)
@bp.errors(*ADMIN_ERRORS)
@bp.doc(**ADMIN)
def list_reviews(args: dict[str, Any]) -> dict[str, Any]:
    """Reviews in the order asked for (newest first by default), a page at a time, with the total
    matching the filters (admin)."""
    per_page = args.get("per_page", _settings().page_size_default)
    query = _filtered(args)
    total = query.count()
    items = list(query.order_by(*_ordering(args["sort"])).paginate(args["page"], per_page))
    return {
        "items": items,
        "total": total,
        "page": args["page"],
        "per_page": per_page,
        "pages": math.ceil(total / per_page),
    }


@bp.route("/reviews/summary", methods=["GET"])
@admin_required
@bp.arguments(ReviewFilterSchema, location="query")
@bp.response(200, ReviewSummarySchema)
@bp.errors(*ADMIN_ERRORS)
@bp.doc(**ADMIN)
def summarise_reviews(args: dict[str, Any]) -> dict[str, Any]:
    """Matching reviews counted per day, per rating and per (rating, suggested rating) pair,
    aggregated in the database, so a chart never reads every review (admin)."""
    count = fn.COUNT(Review.id).alias("count")
    day = fn.DATE(Review.created_at)
    per_day = _filtered(args, day.alias("day"), count).group_by(day).order_by(day).tuples()
    ratings = dict(_filtered(args, Review.rating, count).group_by(Review.rating).tuples())
    suggestions = (
        _filtered(args, Review.rating, Review.suggested_rating, count)
        .where(Review.suggested_rating.is_null(False))
        .group_by(Review.rating, Review.suggested_rating)
        .order_by(Review.rating, Review.suggested_rating)
        .tuples()
    )
    return {
        "total": sum(ratings.values()),
        "per_day": [{"day": as_date(value), "count": n} for value, n in per_day],
        "ratings": [{"rating": rating, "count": ratings.get(rating, 0)} for rating in range(1, 6)],
        "suggestions": [
            {"rating": given, "suggested_rating": guess, "count": n} for given, guess, n in suggestions
        ],
    }


@bp.route(f"/reviews/<int(max={MAX_REVIEW_ID}):review_id>", methods=["GET"])
@admin_required
@bp.response(200, AdminReviewSchema)
@bp.errors(404, *ADMIN_ERRORS)
@bp.doc(**ADMIN)
def get_review(review_id: int) -> Review:
    """One review, with its user agent and IP address (admin)."""
    review = Review.select(Review, Brand).join(Brand).where(Review.id == review_id).first()
    if review is None:
        abort(404, message=f"no review {review_id}")
    return review


@bp.route(f"/reviews/<int(max={MAX_REVIEW_ID}):review_id>/flag", methods=["PUT"])
@admin_required
@bp.arguments(FlagRequestSchema, location=BODY)
@bp.response(200, AdminReviewSchema)
@bp.errors(404, *sorted(set(BODY_ERRORS) | set(ADMIN_ERRORS)))
@bp.doc(**ADMIN)
def flag_review(args: dict[str, Any], review_id: int) -> Review:
    """Flag a review so `retrain` never learns from it (spam, abuse, a wrong label), or clear the
    flag; the review itself stays stored (admin)."""
    updated = Review.update(flagged=args["flagged"]).where(Review.id == review_id).execute()
    if not updated:
        abort(404, message=f"no review {review_id}")
    return Review.select(Review, Brand).join(Brand).where(Review.id == review_id).first()


def _csv_lines(rows: list[Review], header: bool) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    if header:
        writer.writerow(EXPORT_COLUMNS)
    for review in rows:
        writer.writerow(
            (
                review.text,
                review.rating,
                review.brand.name,
                review.created_at.replace(tzinfo=UTC).isoformat(),
                "" if review.suggested_rating is None else review.suggested_rating,
                "" if review.score is None else repr(review.score),
            )
        )
    return buffer.getvalue()


@bp.route("/reviews/export.csv", methods=["GET"])
@admin_required
@bp.arguments(ReviewFilterSchema, location="query")
@bp.response(
    200,
    {"type": "string"},
    content_type="text/csv",
    description="CSV with the columns text, label (the 1-5 rating), brand, created_at, "
    "suggested_rating, score: `train --labels stars3` reads it.",
)
@bp.errors(*ADMIN_ERRORS)
@bp.doc(**ADMIN)
def export_reviews(args: dict[str, Any]) -> Response:
    """Every matching review as labelled CSV for retraining, streamed (admin)."""
    query = _filtered(args).order_by(Review.id)
    first = list(query.limit(EXPORT_CHUNK))  # inside the request: a database failure is still a 503
    db = get_database()

    def generate() -> Iterator[str]:
        rows = first
        yield _csv_lines(rows, header=True)
        while len(rows) == EXPORT_CHUNK:
            # The request's connection is closed once the response starts: use one of our own.
            opened = db.connect(reuse_if_open=True)
            try:
                rows = list(query.where(Review.id > rows[-1].id).limit(EXPORT_CHUNK))
            finally:
                if opened:
                    db.close()
            yield _csv_lines(rows, header=False)

    return Response(
        generate(),
        mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="reviews.csv"'},
    )
