"""Versioned schema migrations: `flask --app brandpulse.api db upgrade` applies the pending ones.

Each migration has a number, a name and a function; `schema_version` records the applied ones.
An upgrade runs in one transaction under a lock (an advisory lock on PostgreSQL, an immediate
write lock on SQLite), so running it twice, or twice at once, applies each migration once.

A migration declares the tables as they were at its version (frozen models below), never the
live classes of `models.py`: those will change, and an old migration must keep creating the
schema it always created. Later migrations alter tables with `playhouse.migrate`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from peewee import (
    AutoField,
    BooleanField,
    CharField,
    Check,
    Database,
    DateTimeField,
    FloatField,
    ForeignKeyField,
    Model,
    PostgresqlDatabase,
    SmallIntegerField,
    SqliteDatabase,
    TextField,
)

from brandpulse.api.storage.db import database
from brandpulse.api.storage.tables import SchemaVersion, utcnow

logger = logging.getLogger(__name__)

ADVISORY_LOCK_KEY = 0x6272616E64  # "brand": serialises concurrent upgrades on PostgreSQL


@dataclass(frozen=True)
class Migration:
    """One schema change."""

    version: int
    name: str
    apply: Callable[[Database], None]


def _v1_initial(db: Database) -> None:
    """Brands and reviews, as of version 1."""

    class Base(Model):
        class Meta:
            database = db

    class Brand(Base):
        id = AutoField()
        name = CharField(max_length=200, unique=True)
        website = CharField(max_length=500, null=True)
        logo_url = CharField(max_length=500, null=True)
        created_at = DateTimeField(default=utcnow)

        class Meta:
            table_name = "brand"

    class Review(Base):
        id = AutoField()
        brand = ForeignKeyField(Brand, backref="reviews", on_delete="RESTRICT")
        text = TextField()
        rating = SmallIntegerField(constraints=[Check("rating BETWEEN 1 AND 5")])
        suggested_rating = SmallIntegerField(
            null=True, constraints=[Check("suggested_rating BETWEEN 1 AND 5")]
        )
        score = FloatField(null=True, constraints=[Check("score >= 0 AND score <= 1")])
        model_version = CharField(max_length=64, null=True)
        user_agent = CharField(max_length=512, null=True)
        ip_address = CharField(max_length=45, null=True)
        created_at = DateTimeField(default=utcnow, index=True)

        class Meta:
            table_name = "review"

    db.create_tables([Brand, Review], safe=True)


def _v2_model_registry(db: Database) -> None:
    """The model registry (version 2): one row per model, at most one champion."""

    class ModelVersion(Model):
        id = AutoField()
        version = CharField(max_length=64, unique=True)
        parent = CharField(max_length=64, null=True)
        file = CharField(max_length=500)
        sha256 = CharField(max_length=64)
        data_fingerprint = CharField(max_length=64, null=True)
        counts = TextField(null=True)
        metrics = TextField(null=True)
        status = CharField(
            max_length=16,
            constraints=[Check("status IN ('champion', 'candidate', 'rejected', 'retired')")],
        )
        reason = TextField(null=True)
        created_at = DateTimeField(default=utcnow)
        promoted_at = DateTimeField(null=True)
        promoted_by = CharField(max_length=200, null=True)

        class Meta:
            database = db
            table_name = "model_version"

    db.create_tables([ModelVersion])
    # At most one champion: SQLite and PostgreSQL both take a partial unique index.
    db.execute_sql(
        "CREATE UNIQUE INDEX model_version_one_champion ON model_version (status) WHERE status = 'champion'"
    )


def _v3_review_feedback(db: Database) -> None:
    """Per review (version 3): was the suggestion shown, did the visitor change it, did an admin flag it."""
    from playhouse.migrate import PostgresqlMigrator, SqliteMigrator, migrate

    migrator = SqliteMigrator(db) if isinstance(db, SqliteDatabase) else PostgresqlMigrator(db)
    migrate(
        migrator.add_column("review", "suggestion_shown", BooleanField(null=True)),
        migrator.add_column("review", "suggestion_changed", BooleanField(null=True)),
        migrator.add_column("review", "flagged", BooleanField(default=False)),
    )


def _v4_idempotency_keys(db: Database) -> None:
    """The first answers of review posts sent with an Idempotency-Key (version 4)."""

    class IdempotencyKey(Model):
        key = CharField(max_length=255, primary_key=True)
        fingerprint = CharField(max_length=64)
        status = SmallIntegerField()
        response = TextField()
        created_at = DateTimeField(default=utcnow, index=True)

        class Meta:
            database = db
            table_name = "idempotency_key"

    db.create_tables([IdempotencyKey])


# The review list's orders and filters at a million rows (docs/performance.md): each sort key with
# the id that breaks its ties, the brand filter with the default order and the brand order.
REVIEW_LIST_INDEXES = {
    "review_created_at_id": ("created_at", "id"),
    "review_rating_id": ("rating", "id"),
    "review_suggested_rating_id": ("suggested_rating", "id"),
    "review_score_id": ("score", "id"),
    "review_brand_id_id": ("brand_id", "id"),
    "review_brand_id_created_at_id": ("brand_id", "created_at", "id"),
}


def _v5_review_list_indexes(db: Database) -> None:
    """Indexes for the review list at scale (version 5); they replace the single-column ones on
    `created_at` and `brand_id`, which they begin with."""
    for name, columns in REVIEW_LIST_INDEXES.items():
        db.execute_sql(f"CREATE INDEX {name} ON review ({', '.join(columns)})")
    for name in ("review_created_at", "review_brand_id"):
        db.execute_sql(f"DROP INDEX IF EXISTS {name}")
    if isinstance(db, PostgresqlDatabase):
        db.execute_sql("ANALYZE review")  # the planner's row counts, for the brand filter's plans


# Migration 6's indexes: the reviews of one client (an erasure by address), the reviews that still
# hold an address or a user agent by age (the expiry: only those, so the index stays as small as
# PERSONAL_DATA_RETENTION_DAYS keeps it), the reviews whose pseudonym is still missing (stored by
# an older API process during a rolling upgrade: nearly always none), a review's idempotency keys.
PERSONAL_DATA_INDEXES = {
    "review_client_pseudonym": "review (client_pseudonym)",
    "review_personal_created_at": (
        "review (created_at) WHERE ip_address IS NOT NULL OR user_agent IS NOT NULL"
    ),
    "review_pseudonym_missing": "review (id) WHERE client_pseudonym IS NULL AND ip_address IS NOT NULL",
    "idempotency_key_review_id": "idempotency_key (review_id)",
}
BACKFILL_BATCH = 500  # reviews per UPDATE of the pseudonym backfill


def _v6_personal_data(db: Database) -> None:
    """A lifetime for personal data (version 6): each review's client pseudonym, filled in from
    its address, and the review each idempotency key stored (read from its stored answer), so an
    erasure finds a client's reviews once their addresses are cleared and deletes their keys."""
    db.execute_sql("ALTER TABLE review ADD COLUMN client_pseudonym VARCHAR(32)")
    # Both databases take a column with a REFERENCES clause (SQLite: with a null default).
    db.execute_sql(
        "ALTER TABLE idempotency_key ADD COLUMN review_id INTEGER REFERENCES review (id) ON DELETE CASCADE"
    )
    for name, target in PERSONAL_DATA_INDEXES.items():
        db.execute_sql(f"CREATE INDEX {name} ON {target}")
    _v6_fill_pseudonyms(db)
    for key, response in db.execute_sql('SELECT "key", response FROM idempotency_key').fetchall():
        try:
            review_id = json.loads(response).get("id")
        except (ValueError, AttributeError):
            continue
        if isinstance(review_id, int):
            db.execute_sql(
                f'UPDATE idempotency_key SET review_id = {db.param} WHERE "key" = {db.param} '
                f"AND EXISTS (SELECT 1 FROM review WHERE id = {db.param})",
                (review_id, key, review_id),
            )


def _v6_fill_pseudonyms(db: Database) -> None:
    """Set the pseudonym of every review with an address, one statement per batch of reviews."""
    from brandpulse.api.pseudonyms import client_pseudonym

    select = (
        "SELECT id, ip_address FROM review WHERE client_pseudonym IS NULL AND ip_address IS NOT NULL "
        f"AND id > {db.param} ORDER BY id LIMIT {BACKFILL_BATCH}"
    )
    last = filled = 0
    while rows := db.execute_sql(select, (last,)).fetchall():
        pseudonyms: dict[str, str | None] = {}  # one HMAC per address of the batch
        pairs = []
        for review_id, address in rows:
            if address not in pseudonyms:
                pseudonyms[address] = client_pseudonym(address)
            if pseudonyms[address] is not None:  # an empty address has no client
                pairs.append((review_id, pseudonyms[address]))
        if pairs:
            cases = " ".join([f"WHEN {db.param} THEN {db.param}"] * len(pairs))
            db.execute_sql(
                f"UPDATE review SET client_pseudonym = CASE id {cases} END "
                f"WHERE id IN ({', '.join([db.param] * len(pairs))})",
                (*(value for pair in pairs for value in pair), *(review_id for review_id, _ in pairs)),
            )
        last, filled = rows[-1][0], filled + len(pairs)
    logger.info("client pseudonyms filled in for %d reviews", filled)


# What `promoted_by` said before migration 7 recorded how a version was promoted: the install and
# retrain's gate named themselves, `flask model promote` and `rollback` defaulted to "cli".
PROMOTED_VIA_BEFORE_7 = {
    "install": "install (db upgrade)",
    "retrain": "retrain (the gate)",
    "cli": "command (flask model)",
}
PROMOTED_VIA_UNKNOWN = "not recorded (promoted before schema version 7)"


def _v7_model_provenance(db: Database) -> None:
    """Where each model came from and how it was promoted (version 7): `corpus_fingerprint`, the
    corpus rows its data descends from, and `promoted_via`, what promoted it (the admin endpoint
    with the caller's address, a command, retrain's gate, the install).

    Filled in for the rows already there: a version registered from a file (no `counts`) learnt
    from its corpus alone, so its data fingerprint is the corpus's; a version `retrain` trained
    descends from its parent's corpus. `promoted_via` is read from what `promoted_by` said then.
    """
    db.execute_sql("ALTER TABLE model_version ADD COLUMN corpus_fingerprint VARCHAR(64)")
    db.execute_sql("ALTER TABLE model_version ADD COLUMN promoted_via VARCHAR(200)")
    rows = db.execute_sql(
        "SELECT version, parent, data_fingerprint, counts, promoted_at, promoted_by FROM model_version"
    ).fetchall()
    by_version = {row[0]: row for row in rows}

    def corpus_of(version: str | None, seen: frozenset[str] = frozenset()) -> str | None:
        row = by_version.get(version) if version is not None else None
        if row is None or version in seen:
            return None
        _, parent, data_fingerprint, counts, _, _ = row
        return data_fingerprint if counts is None else corpus_of(parent, seen | {version})

    for version, _, _, _, promoted_at, promoted_by in rows:
        via = None
        if promoted_at is not None:
            via = PROMOTED_VIA_BEFORE_7.get(promoted_by or "", PROMOTED_VIA_UNKNOWN)
        db.execute_sql(
            f"UPDATE model_version SET corpus_fingerprint = {db.param}, promoted_via = {db.param} "
            f"WHERE version = {db.param}",
            (corpus_of(version), via, version),
        )


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "brands and reviews", _v1_initial),
    Migration(2, "model registry", _v2_model_registry),
    Migration(3, "review feedback: suggestion shown and changed, flagged", _v3_review_feedback),
    Migration(4, "idempotency keys of review posts", _v4_idempotency_keys),
    Migration(5, "review list indexes: (sort key, id) and (brand, created_at, id)", _v5_review_list_indexes),
    Migration(6, "personal data: client pseudonyms, idempotency keys by review", _v6_personal_data),
    Migration(7, "model registry: corpus fingerprint, how each version was promoted", _v7_model_provenance),
)
LATEST_VERSION = MIGRATIONS[-1].version
REGISTRY_VERSION = 2  # the first version with the model registry


@contextmanager
def _exclusive(db: Database) -> Iterator[None]:
    """One transaction that no other upgrade can run beside."""
    if isinstance(db, SqliteDatabase):
        with db.atomic("IMMEDIATE"):
            yield
    else:
        with db.atomic():
            if isinstance(db, PostgresqlDatabase):
                db.execute_sql("SELECT pg_advisory_xact_lock(%s)", (ADVISORY_LOCK_KEY,))
            yield


def current_version() -> int:
    """The highest applied migration, 0 for an empty database."""
    if not database.table_exists(SchemaVersion._meta.table_name):
        return 0
    latest = SchemaVersion.select(SchemaVersion.version).order_by(SchemaVersion.version.desc()).first()
    return latest.version if latest else 0


def upgrade(target: int | None = None) -> list[int]:
    """Apply the pending migrations up to `target` (default: all); return the versions applied."""
    target = LATEST_VERSION if target is None else target
    db = database.obj
    applied = []
    with _exclusive(db):
        db.create_tables([SchemaVersion], safe=True)
        done = {row.version for row in SchemaVersion.select(SchemaVersion.version)}
        for migration in MIGRATIONS:
            if migration.version in done or migration.version > target:
                continue
            logger.info("applying migration %d: %s", migration.version, migration.name)
            migration.apply(db)
            SchemaVersion.create(version=migration.version, name=migration.name)
            applied.append(migration.version)
    return applied
