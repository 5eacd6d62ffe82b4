"""The tables: brands, their reviews, the model registry, idempotency keys and the applied schema version.

Times are stored as naive UTC datetimes (the same on SQLite and PostgreSQL). The CHECK
constraints repeat the API's validation, so a bug upstream cannot store an impossible rating or
a score outside [0, 1] (NaN included).
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from peewee import (
    AutoField,
    BooleanField,
    CharField,
    Check,
    DateTimeField,
    FloatField,
    ForeignKeyField,
    IntegerField,
    SmallIntegerField,
    TextField,
)

from brandpulse.api.storage.db import BaseModel

NAME_MAX = 200
URL_MAX = 500
MODEL_VERSION_MAX = 64
USER_AGENT_MAX = 512
IP_MAX = 45  # the longest textual IPv6 address
PSEUDONYM_MAX = 32  # hex characters of a client pseudonym (pseudonyms.PSEUDONYM_HEX_CHARS)
IDEMPOTENCY_KEY_MAX = 255
MAX_ID = 2**31 - 1  # the largest id an AutoField (a 32-bit integer column) can hold


def as_date(value: object) -> date:
    """A DATE() result: a date on PostgreSQL, "YYYY-MM-DD" text on SQLite."""
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def utcnow() -> datetime:
    """The current time as a naive UTC datetime, as stored."""
    return datetime.now(UTC).replace(tzinfo=None)


class Brand(BaseModel):
    """A brand people review."""

    id = AutoField()
    name = CharField(max_length=NAME_MAX, unique=True)
    website = CharField(max_length=URL_MAX, null=True)
    logo_url = CharField(max_length=URL_MAX, null=True)
    created_at = DateTimeField(default=utcnow)

    class Meta:
        table_name = "brand"


class Review(BaseModel):
    """One review of a brand, with the model's score and suggested rating."""

    id = AutoField()
    brand = ForeignKeyField(Brand, backref="reviews", on_delete="RESTRICT", index=False)  # (brand, id) below
    text = TextField()
    rating = SmallIntegerField(constraints=[Check("rating BETWEEN 1 AND 5")])
    suggested_rating = SmallIntegerField(null=True, constraints=[Check("suggested_rating BETWEEN 1 AND 5")])
    score = FloatField(null=True, constraints=[Check("score >= 0 AND score <= 1")])
    model_version = CharField(max_length=MODEL_VERSION_MAX, null=True)
    user_agent = CharField(max_length=USER_AGENT_MAX, null=True)
    ip_address = CharField(max_length=IP_MAX, null=True)
    # The keyed hash of the client's network (pseudonyms.py): what the retrain's per-client
    # filters count and an erasure by address finds, after PERSONAL_DATA_RETENTION_DAYS has
    # cleared `ip_address` and `user_agent` (docs/privacy.md).
    client_pseudonym = CharField(max_length=PSEUDONYM_MAX, null=True)
    created_at = DateTimeField(default=utcnow)  # indexed with id below
    # Whether the visitor saw the suggestion before rating (null: the client did not say) and,
    # when they did, whether their rating differs from it: the echo `retrain` must not learn.
    suggestion_shown = BooleanField(null=True)
    suggestion_changed = BooleanField(null=True)
    flagged = BooleanField(default=False)  # an admin marked it unfit to learn from

    class Meta:
        table_name = "review"
        # The review list's orders and filters (migration 5): every sort key with the id that
        # breaks its ties, and the brand with the default order. Migration 6 adds the client
        # pseudonym's, and two partial ones the expiry and the pseudonym fill read
        # (migrations.PERSONAL_DATA_INDEXES).
        indexes = (
            (("created_at", "id"), False),
            (("rating", "id"), False),
            (("suggested_rating", "id"), False),
            (("score", "id"), False),
            (("brand", "id"), False),
            (("brand", "created_at", "id"), False),
            (("client_pseudonym",), False),
        )


class IdempotencyKey(BaseModel):
    """The first answer to a `POST /api/review` sent with an `Idempotency-Key` header.

    Stored in the transaction that stores the review, so a key exists exactly when its review
    does; a retry with the key gets `response` back and stores nothing. `fingerprint` (SHA-256 of
    the request's fields) tells a retry from a different request reusing the key. A key older
    than IDEMPOTENCY_TTL_HOURS is expired: ignored, replaced by a new request, and pruned.
    `review` is the review it stored: deleting or erasing the review deletes its key too (the
    stored answer repeats the review's text), and the database cascades a review's deletion.
    """

    key = CharField(max_length=IDEMPOTENCY_KEY_MAX, primary_key=True)
    fingerprint = CharField(max_length=64)
    status = SmallIntegerField()
    response = TextField()  # the JSON body answered
    created_at = DateTimeField(default=utcnow, index=True)
    review = ForeignKeyField(Review, null=True, on_delete="CASCADE", backref="idempotency_keys")

    class Meta:
        table_name = "idempotency_key"


class SchemaVersion(BaseModel):
    """One applied schema migration."""

    version = IntegerField(primary_key=True)
    name = CharField(max_length=NAME_MAX)
    applied_at = DateTimeField(default=utcnow)

    class Meta:
        table_name = "schema_version"


MODEL_STATUSES = ("champion", "candidate", "rejected", "retired")


class ModelVersion(BaseModel):
    """One model of the registry: its checkpoint file, lineage, figures and status.

    At most one row is the champion (a partial unique index), the model every API worker
    serves. `file` is the checkpoint's path: absolute, or relative to `MODEL_DIR`. Migration 7
    added `corpus_fingerprint` and `promoted_via`.
    """

    id = AutoField()
    version = CharField(max_length=MODEL_VERSION_MAX, unique=True)
    parent = CharField(max_length=MODEL_VERSION_MAX, null=True)
    file = CharField(max_length=URL_MAX)
    sha256 = CharField(max_length=64)
    data_fingerprint = CharField(max_length=64, null=True)  # the very rows it learnt from
    corpus_fingerprint = CharField(max_length=64, null=True)  # the corpus rows they descend from
    counts = TextField(null=True)  # JSON: rows trained on, stored reviews used and filtered
    metrics = TextField(null=True)  # JSON: figures on the fixed test and on recent reviews
    status = CharField(max_length=16, constraints=[Check(f"status IN {MODEL_STATUSES}")])
    reason = TextField(null=True)  # why the gate or an admin decided what it did
    created_at = DateTimeField(default=utcnow)
    promoted_at = DateTimeField(null=True)
    promoted_by = CharField(max_length=NAME_MAX, null=True)  # the name given (`by`)
    # How: the admin endpoint ("admin token from <address>"), a command, retrain's gate, the install.
    promoted_via = CharField(max_length=NAME_MAX, null=True)

    class Meta:
        table_name = "model_version"
