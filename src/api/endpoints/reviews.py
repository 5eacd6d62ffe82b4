"""Reviews: `POST /api/review` (public); the list, one review, the summary and the CSV export (admin)."""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterator
from typing import Any

from flask import Response, current_app, request, url_for
from flask.blueprints import BlueprintSetupState
from flask.views import MethodView
from peewee import IntegrityError, Query, fn
from webargs.flaskparser import abort

from brandpulse.api import prediction_tokens
from brandpulse.api.endpoints import csv_export
from brandpulse.api.endpoints.field_types import as_float32
from brandpulse.api.endpoints.parsing import BODY, BODY_ERRORS, Blueprint
from brandpulse.api.endpoints.privacy import admin_actor
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
from brandpulse.api.prediction_tokens import ModelFigures
from brandpulse.api.pseudonyms import client_pseudonym
from brandpulse.api.security import client_ip
from brandpulse.api.serving.batching import Overloaded
from brandpulse.api.serving.inference import ModelUnavailable, get_model
from brandpulse.api.settings import current_settings
from brandpulse.api.storage import erasure, idempotency, review_pages, review_store
from brandpulse.api.storage.db import get_database, open_connection
from brandpulse.api.storage.tables import MAX_ID, USER_AGENT_MAX, Brand, Review, as_date

logger = logging.getLogger(__name__)
bp = Blueprint("reviews", __name__, url_prefix="/api", description="Stored reviews.")
bp.before_request(open_connection)

EXPORT_CHUNK = 1000
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
    """Store a review. Its score, suggested rating and model version are the server's: those of
    a valid `prediction_token` for its text (what the visitor was shown), else the served model's
    reading of the text, else none (no model now: the review is stored all the same). A client's
    `score`, `suggested_rating` and `model_version` are ignored.

    With an `Idempotency-Key` header, a retry (same key, same fields) gets the first answer back
    and stores nothing; the same key with other fields is a 422.
    """
    key = headers.get("idempotency_key")
    ttl = current_settings().idempotency_ttl_hours
    request_fingerprint = idempotency.fingerprint(args) if key is not None else ""
    figures = _token_figures(args)
    if key is not None and figures is None:
        # The model would score the text: look for a stored answer first, not to score it twice.
        # (With a valid token, the insert of the key finds an earlier one as cheaply.)
        replay = _replay(key, request_fingerprint, ttl)
        if replay is not None:
            return replay
    brand_id = review_store.brand_ids().get(args["brand"])
    if brand_id is None:
        abort(422, messages={"brand": ["Unknown brand."]})
    review = _new_review(args, brand_id, figures)
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


def _new_review(args: dict[str, Any], brand_id: int, figures: ModelFigures | None = None) -> Review:
    """The review to store (unsaved), with the model's `figures` (a valid token's), else those of
    the served model for its text. The client's own figures are never read: a client could put
    any score into the statistics, or markup as a model version into the admin's charts."""
    text = args["text"].strip()
    figures = figures or _scored(text)
    score = None if figures.score is None else as_float32(figures.score)  # as the REAL column keeps it
    suggested, model_version = figures.suggested_rating, figures.model_version
    shown = args.get("suggestion_shown")
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
        client_pseudonym=client_pseudonym(client_ip()),
        suggestion_shown=shown,
        suggestion_changed=(args["rating"] != suggested) if shown and suggested is not None else None,
    )


def _token_figures(args: dict[str, Any]) -> ModelFigures | None:
    """The figures the request's `prediction_token` vouches for its text, or None (no token, or
    one that cannot be used: expired on a page left open, from before a key change, altered, or
    for another text; none is an error, the server then scores the text itself)."""
    token = args.get("prediction_token")
    if token is None:
        return None
    try:
        return prediction_tokens.read(token, args["text"])
    except prediction_tokens.InvalidToken as error:
        logger.info("prediction token not used (%s): the review is scored by the server", error)
        return None


def _scored(text: str) -> ModelFigures:
    """The served model's figures for `text`; none when it cannot score now (not loaded, or its
    queue full): a review is what the visitor wrote, worth keeping without the model's opinion."""
    try:
        prediction = get_model().predict([text])[0]
    except (ModelUnavailable, Overloaded) as error:
        logger.warning("review stored without a score: %s", error)
        return prediction_tokens.NO_FIGURES
    return ModelFigures(prediction["score"], prediction["suggested_rating"], prediction["model_version"])


class _KeyTaken(Exception):
    """Rolls back a review whose Idempotency-Key another request stored first."""


def _answer(review: Review) -> idempotency.Answer:
    """The 201 answer to a stored review: its public fields as JSON, rendered once (and stored as
    sent, with an Idempotency-Key)."""
    return idempotency.Answer(201, current_app.json.dumps(REVIEW_OUT.dump(review)) + "\n")


def _created(answer: idempotency.Answer, review_id: int, replayed: bool = False) -> Response:
    headers = {"Location": url_for("reviews.review", review_id=review_id)}
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


# Larger ids cannot exist: such a route answers 404 without asking the database. One rule for
# both methods: with a rule per method, an id over the maximum answered DELETE with 405.
@bp.route(f"/reviews/<int(max={MAX_ID}):review_id>", endpoint="review")
class ReviewItem(MethodView):
    @bp.admin(404)
    @bp.response(200, AdminReviewSchema)
    def get(self, review_id: int) -> Review:
        """One review, with its user agent and IP address (admin)."""
        review = Review.select(Review, Brand).join(Brand).where(Review.id == review_id).first()
        if review is None:
            abort(404, message=f"no review {review_id}")
        return review

    @bp.admin(404)
    @bp.response(204)
    def delete(self, review_id: int) -> None:
        """Delete a review for good, with its idempotency keys (their stored answers repeat it): no
        later list, export or retrain round sees it (admin). The audit log records who and when."""
        if erasure.delete_review(review_id, actor=admin_actor()) is None:
            abort(404, message=f"no review {review_id}")


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


@bp.route("/reviews/export.csv", methods=["GET"])
@bp.admin()
@bp.arguments(csv_export.ReviewExportQuerySchema, location="query")
@bp.response(
    200,
    {"type": "string"},
    content_type="text/csv",
    description="CSV with the columns text, label (the 1-5 rating), brand, created_at, "
    "suggested_rating, score, id (the review's, as the admin list shows it) and flagged (true or "
    "false). By default (`format=spreadsheet`) every matching review, flagged ones included, and "
    "every text cell that a spreadsheet would run as a formula (starting with `=`, `+`, `-`, `@`, a "
    "tab or a carriage return) prefixed with `'`, as OWASP advises; numbers are unchanged. "
    "`format=training` keeps the texts as stored and leaves out the flagged reviews, for "
    "`train --labels stars3`.",
)
def export_reviews(args: dict[str, Any]) -> Response:
    """Every matching review as labelled CSV, streamed (admin): safe to open in a spreadsheet,
    or with `format=training` the raw texts that `train` reads, flagged reviews left out."""
    training = args["format"] == csv_export.TRAINING
    cell = csv_export.raw if training else csv_export.neutralise
    filename = csv_export.FILENAMES[args["format"]]
    query = _filtered(args).order_by(Review.id)
    if training:  # what an admin flagged is never learnt from (as `retrain` skips it)
        query = query.where(Review.flagged == False)  # noqa: E712 (SQL)
    first = list(query.limit(EXPORT_CHUNK))  # inside the request: a database failure is still a 503
    db = get_database()

    def generate() -> Iterator[str]:
        rows = first
        yield csv_export.csv_lines(rows, header=True, cell=cell)
        while len(rows) == EXPORT_CHUNK:
            # The request's connection is closed once the response starts: use one of our own.
            opened = db.connect(reuse_if_open=True)
            try:
                rows = list(query.where(Review.id > rows[-1].id).limit(EXPORT_CHUNK))
            finally:
                if opened:
                    db.close()
            yield csv_export.csv_lines(rows, header=False, cell=cell)

    return Response(
        generate(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
