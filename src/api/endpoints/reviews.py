"""Reviews: `POST /api/review` (public); the list, one review, the summary and the CSV export (admin)."""

from __future__ import annotations

import csv
import io
import json
import logging
import math
from collections.abc import Iterator
from datetime import UTC
from typing import Any

from flask import Response, current_app, request, url_for
from flask.blueprints import BlueprintSetupState
from peewee import IntegrityError, Query, fn
from webargs.flaskparser import abort

from brandpulse.api.endpoints.parsing import BODY, BODY_ERRORS, Blueprint
from brandpulse.api.endpoints.review_schemas import (
    AdminReviewSchema,
    FlagRequestSchema,
    IdempotencyHeaderSchema,
    ReviewCreateSchema,
    ReviewFilterSchema,
    ReviewListQuerySchema,
    ReviewPageSchema,
    ReviewSchema,
    ReviewSummarySchema,
)
from brandpulse.api.security import client_ip
from brandpulse.api.serving.inference import ModelUnavailable, get_model
from brandpulse.api.settings import current_settings
from brandpulse.api.storage import idempotency, review_pages, review_store
from brandpulse.api.storage.db import get_database, open_connection
from brandpulse.api.storage.tables import MAX_ID, USER_AGENT_MAX, Brand, Review, as_date

logger = logging.getLogger(__name__)
bp = Blueprint("reviews", __name__, url_prefix="/api", description="Stored reviews.")
bp.before_request(open_connection)

EXPORT_CHUNK = 1000
EXPORT_COLUMNS = ("text", "label", "brand", "created_at", "suggested_rating", "score")
REVIEW_OUT = ReviewSchema()


def _init_app(state: BlueprintSetupState) -> None:
    review_store.init_app(state.app)
    idempotency.init_app(state.app)


bp.record_once(_init_app)


@bp.route("/review", methods=["POST"])
# Schema instances, not classes: webargs would build a new schema per request from a class.
@bp.arguments(IdempotencyHeaderSchema(), location="headers")
@bp.arguments(ReviewCreateSchema(), location=BODY)
@bp.response(
    201,
    ReviewSchema,
    headers={
        "Location": {"schema": {"type": "string"}},
        idempotency.REPLAYED_HEADER: {
            "description": "`true` when this is the stored answer to an earlier request with the same "
            "Idempotency-Key (nothing new was stored).",
            "schema": {"type": "string", "enum": ["true"]},
        },
    },
)
@bp.errors(*BODY_ERRORS, 503)
def create_review(headers: dict[str, Any], args: dict[str, Any]) -> Response:
    """Store a review. Its score comes from the model unless supplied; its suggested rating is the
    one the visitor saw (`suggestion_shown` true), else the served model's for the score.

    With an `Idempotency-Key` header, a retry (same key, same fields) gets the first answer back
    and stores nothing; the same key with other fields is a 422.
    """
    key = headers.get("idempotency_key")
    ttl = current_settings().idempotency_ttl_hours
    request_fingerprint = idempotency.fingerprint(args) if key is not None else ""
    if key is not None and args.get("score") is None:
        # The model would score the text: look for a stored answer first, not to score it twice.
        # (With a score, the insert of the key finds an earlier one as cheaply.)
        replay = _replay(key, request_fingerprint, ttl)
        if replay is not None:
            return replay
    brand_id = review_store.brand_ids().get(args["brand"])
    if brand_id is None:
        abort(422, messages={"brand": ["Unknown brand."]})
    review = _new_review(args, brand_id)
    db = get_database()
    try:
        if key is None:
            review_store.insert_review(review, db)  # one statement: its own transaction
            return _created(_answer(review), review.id)
        with db.atomic():
            review_store.insert_review(review, db)
            answer = _answer(review)
            if not idempotency.remember(db, key, request_fingerprint, answer, ttl):
                raise _KeyTaken
    except _KeyTaken:  # a request with this key was stored first: ours is rolled back
        replay = _replay(key, request_fingerprint, ttl)
        if replay is None:  # pragma: no cover, the key was stored and has not expired since
            raise
        return replay
    except IntegrityError:
        # Only a brand deleted since its id was cached breaks a constraint validation let through.
        review_store.brand_ids().forget(args["brand"])
        if Brand.get_or_none(Brand.id == brand_id) is not None:
            raise
        abort(422, messages={"brand": ["Unknown brand."]})
    idempotency.prune_if_due(ttl)
    return _created(answer, review.id)


def _new_review(args: dict[str, Any], brand_id: int) -> Review:
    """The review to store (unsaved): the model scores the text unless the client sent a score."""
    text = args["text"].strip()
    score = args.get("score")
    suggested = args.get("suggested_rating")
    model_version = args.get("model_version")
    shown = args.get("suggestion_shown")
    if shown and suggested is None:
        abort(422, messages={"suggested_rating": ["Required when suggestion_shown is true."]})
    if not shown:
        # Only a suggestion the visitor saw is theirs to report; any other is the served model's.
        suggested = None
    if score is None:
        prediction = get_model().predict([text])[0]
        score, model_version = prediction["score"], prediction["model_version"]
        suggested = prediction["suggested_rating"] if suggested is None else suggested
    elif suggested is None:
        try:  # the served model's rule, not a default one
            suggested = get_model().suggested_rating(score)
        except ModelUnavailable:  # the review is stored all the same, with no suggestion
            logger.warning("no model to suggest a rating for a supplied score: stored without one")
    user_agent = request.headers.get("User-Agent", "").replace("\x00", "")[:USER_AGENT_MAX] or None
    return Review(
        brand=Brand(id=brand_id, name=args["brand"]),  # its name is all the answer needs
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


class _KeyTaken(Exception):
    """Rolls back a review whose Idempotency-Key another request stored first."""


def _answer(review: Review) -> idempotency.Answer:
    """The 201 answer to a stored review: its public fields as JSON, rendered once (and stored as
    sent, with an Idempotency-Key)."""
    return idempotency.Answer(201, current_app.json.dumps(REVIEW_OUT.dump(review)) + "\n")


def _created(answer: idempotency.Answer, review_id: int, replayed: bool = False) -> Response:
    headers = {"Location": url_for("reviews.get_review", review_id=review_id)}
    if replayed:
        headers[idempotency.REPLAYED_HEADER] = "true"
    return Response(answer.body, status=answer.status, headers=headers, mimetype="application/json")


def _replay(key: str, request_fingerprint: str, ttl_hours: int) -> Response | None:
    """The stored answer of `key` as a response (None: none stored); 422 if the key was stored for
    a request with other fields."""
    try:
        answer = idempotency.stored_answer(key, request_fingerprint, ttl_hours)
    except idempotency.KeyReused:
        abort(
            422,
            messages={
                idempotency.HEADER: [
                    "This key was already used for a request with other fields: "
                    "send a new key for a new review."
                ]
            },
        )
    if answer is None:
        return None
    return _created(answer, json.loads(answer.body)["id"], replayed=True)


def _filtered(args: dict[str, Any], *columns: Any) -> Query:
    """The matching reviews' `columns` (default: each review with its brand)."""
    query = Review.select(*columns) if columns else Review.select(Review, Brand).join(Brand)
    return review_pages.Filters.of(args).apply(query)


@bp.route("/reviews", methods=["GET"])
@bp.admin()
@bp.arguments(ReviewListQuerySchema, location="query")
@bp.response(200, ReviewPageSchema)
def list_reviews(args: dict[str, Any]) -> dict[str, Any]:
    """Reviews in the order asked for (newest first by default), a page at a time, with the total
    matching the filters (admin). Follow `next_cursor` for the next page: as fast at any depth,
    where `page=N` reads every review before the page."""
    per_page = args.get("per_page", current_settings().page_size_default)
    order = review_pages.Order.parse(args["sort"])
    after = None
    if "cursor" in args:
        try:
            after = review_pages.decode_cursor(args["cursor"], order)
        except review_pages.InvalidCursor as error:
            abort(422, messages={"cursor": [str(error)]})
    filters = review_pages.Filters.of(args)
    if filters.matches_nothing:
        page, (total, exact) = review_pages.Page([], None), (0, True)
    else:
        total, exact = review_pages.count(filters.conditions)
        offset = (args["page"] - 1) * per_page
        page = review_pages.fetch(filters, order, per_page, after, offset, matching=total)
    return {
        "items": page.items,
        "total": total,
        "total_exact": exact,
        "page": None if after is not None else args["page"],
        "per_page": per_page,
        "pages": math.ceil(total / per_page),
        "next_cursor": page.next_cursor,
    }


@bp.route("/reviews/summary", methods=["GET"])
@bp.admin()
@bp.arguments(ReviewFilterSchema, location="query")
@bp.response(200, ReviewSummarySchema)
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


# Larger ids cannot exist: such a route answers 404 without asking the database.
@bp.route(f"/reviews/<int(max={MAX_ID}):review_id>", methods=["GET"])
@bp.admin(404)
@bp.response(200, AdminReviewSchema)
def get_review(review_id: int) -> Review:
    """One review, with its user agent and IP address (admin)."""
    review = Review.select(Review, Brand).join(Brand).where(Review.id == review_id).first()
    if review is None:
        abort(404, message=f"no review {review_id}")
    return review


@bp.route(f"/reviews/<int(max={MAX_ID}):review_id>/flag", methods=["PUT"])
@bp.admin(404, *BODY_ERRORS)
@bp.arguments(FlagRequestSchema, location=BODY)
@bp.response(200, AdminReviewSchema)
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
@bp.admin()
@bp.arguments(ReviewFilterSchema, location="query")
@bp.response(
    200,
    {"type": "string"},
    content_type="text/csv",
    description="CSV with the columns text, label (the 1-5 rating), brand, created_at, "
    "suggested_rating, score: `train --labels stars3` reads it.",
)
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
