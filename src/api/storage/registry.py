"""The model registry: which checkpoints exist, which one is the champion, and who chose it.

A table (`model_version`) is enough here: the registry has one writer at a time (an admin, or
a `retrain` run under its lock), a handful of rows, and it must live in the same database as
the reviews whose model version it explains; MLflow's registry would add a server and a second
store for what four columns say. Checkpoint files stay on disk (`MODEL_DIR`); a row names its
file, absolute or relative to that folder.

The champion is the model every API worker serves (`inference.ModelService` polls for it). A
fresh install has no rows: `register_first_champion` records the configured `MODEL_PATH` (the
bundled model by default) as the first champion when the schema is upgraded. Promoting a
version retires the champion; rolling back promotes the champion before it again. Each promotion
records who (`promoted_by`, the name given) and how (`promoted_via`: the admin endpoint with the
caller's address, a command, retrain's gate, the install).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from peewee import Database, IntegrityError
from playhouse.pool import PooledDatabase

from brandpulse.api.storage import agreement
from brandpulse.api.storage.tables import ModelVersion, Review, utcnow
from brandpulse.model.checkpoint import CheckpointError, read_metadata, version_name
from brandpulse.model.paths import file_sha256

logger = logging.getLogger(__name__)

CHAMPION_QUERY = "SELECT version, file, sha256 FROM model_version WHERE status = 'champion'"
CANDIDATE_QUERY = (
    "SELECT version, file, sha256 FROM model_version WHERE status = 'candidate' "
    "ORDER BY created_at DESC, id DESC"
)


# How a version was promoted (`promoted_via`), besides the admin endpoint's "admin token from <address>".
VIA_INSTALL = "install (db upgrade)"
VIA_RETRAIN = "retrain (the gate)"
VIA_PROMOTE_COMMAND = "command (flask model promote)"
VIA_ROLLBACK_COMMAND = "command (flask model rollback)"


class RegistryError(ValueError):
    """A registry operation that cannot be done (unknown version, no previous champion, …)."""


class UnknownVersion(RegistryError):
    """No registered model has this version."""


class ChangedCheckpoint(CheckpointError):
    """A registered checkpoint file whose bytes are no longer those registered."""


@dataclass(frozen=True)
class Champion:
    """The served model: its version, checkpoint file and the file's registered SHA-256."""

    version: str
    path: Path
    sha256: str | None = None

    def verify(self) -> None:
        """`ChangedCheckpoint` unless the file's bytes are the registered ones.

        MODEL_DIR is writable by whoever trains; a file replaced there must not be served as the
        champion an admin promoted (the weights, rating cuts and alphabet all come from it).
        """
        if self.sha256 is None:
            return
        actual = file_sha256(self.path)
        if actual != self.sha256:
            raise ChangedCheckpoint(
                f"{self.path}: sha256 {actual}, not the registered {self.sha256} of {self.version} "
                "(the file changed after it was registered)"
            )


def resolve_file(file: str, model_dir: Path) -> Path:
    """A row's checkpoint path: absolute as stored, or relative to `model_dir`."""
    path = Path(file)
    return path if path.is_absolute() else model_dir / path


def current_champion(db: Database, model_dir: Path, query: str = CHAMPION_QUERY) -> Champion | None:
    """The champion, read with one query on `db` (safe from any thread); None if there is none.

    With `CANDIDATE_QUERY`: the newest candidate instead (shadow scoring).
    """
    cursor = db.execute_sql(query)
    row = cursor.fetchone()
    return Champion(row[0], resolve_file(row[1], model_dir), row[2]) if row else None


def read_candidate(db: Database, model_dir: Path) -> Champion | None:
    """The newest candidate, as `read_champion` reads the champion."""
    return read_champion(db, model_dir, CANDIDATE_QUERY)


def read_champion(db: Database, model_dir: Path, query: str = CHAMPION_QUERY) -> Champion | None:
    """`current_champion` on a connection of its own when none is open on this thread.

    That connection is closed for good afterwards (not returned to a pool): the first read can
    run in gunicorn's master before the workers fork, and a pooled connection must not be
    inherited by them.
    """
    opened = db.connect(reuse_if_open=True)
    try:
        return current_champion(db, model_dir, query)
    finally:
        if opened:
            if isinstance(db, PooledDatabase):
                db.manual_close()
            else:
                db.close()


def checkpoint_identity(path: Path) -> dict[str, Any]:
    """Version, SHA-256 and data fingerprints (its rows', its corpus's) of a checkpoint file,
    without loading its weights."""
    meta = read_metadata(path)
    sha256 = file_sha256(path)
    return {
        "version": version_name(meta["info"], sha256),
        "sha256": sha256,
        "data_fingerprint": meta["info"].data_fingerprint,
        "corpus_fingerprint": meta["info"].corpus_fingerprint,
        "rating_prior": meta.get("rating_prior"),  # the rating mix its suggestion assumes
    }


def register(
    path: Path,
    *,
    model_dir: Path,
    status: str = "candidate",
    parent: str | None = None,
    counts: dict[str, Any] | None = None,
    metrics: dict[str, Any] | None = None,
    reason: str | None = None,
    identity: dict[str, Any] | None = None,
) -> ModelVersion:
    """Record a checkpoint (stored relative to `model_dir` when it lies inside it).

    `identity`: its `checkpoint_identity`, when the caller has it already (it hashes the file).
    Raises RegistryError for an unreadable file or a version already registered.
    """
    path = Path(path).resolve()
    try:
        identity = identity or checkpoint_identity(path)
    except CheckpointError as error:
        raise RegistryError(str(error)) from None
    if ModelVersion.get_or_none(ModelVersion.version == identity["version"]) is not None:
        raise RegistryError(f"version {identity['version']} is already registered")
    prior = identity.get("rating_prior")
    if prior and "rating_mix" not in (metrics or {}):  # what its suggestion assumes, for the admin page
        metrics = {
            **(metrics or {}),
            "rating_mix": {"assumed": prior["assumed"], "corpus": prior["calibrated"]},
        }
    try:
        file = str(path.relative_to(Path(model_dir).resolve()))
    except ValueError:
        file = str(path)
    return ModelVersion.create(
        version=identity["version"],
        parent=parent,
        file=file,
        sha256=identity["sha256"],
        data_fingerprint=identity["data_fingerprint"],
        corpus_fingerprint=identity.get("corpus_fingerprint"),
        counts=json.dumps(counts) if counts is not None else None,
        metrics=json.dumps(metrics) if metrics is not None else None,
        status=status,
        reason=reason,
    )


def register_first_champion(path: Path, model_dir: Path) -> ModelVersion | None:
    """Record the configured model (`MODEL_PATH`) after a schema upgrade.

    On an install with no champion it becomes the champion (returned). Where there is one
    and this file is not registered (a new release with a new bundled model, say), it is
    recorded as a candidate to promote, never swapped in unasked; then, and when it is already
    registered, None is returned.
    """
    db = ModelVersion._meta.database
    with db.atomic():
        try:
            identity = checkpoint_identity(path)
        except CheckpointError as error:
            raise RegistryError(str(error)) from None
        existing = ModelVersion.get_or_none(ModelVersion.version == identity["version"])
        if ModelVersion.select().where(ModelVersion.status == "champion").exists():
            if existing is None:
                row = register(
                    path,
                    model_dir=model_dir,
                    identity=identity,
                    reason="MODEL_PATH of this install: promote it to serve it",
                )
                logger.info("model %s (MODEL_PATH) registered as a candidate", row.version)
            return None
        row = existing or register(path, model_dir=model_dir, identity=identity, reason="first champion")
        return _make_champion(
            row, by="install", via=VIA_INSTALL, reason="the configured model of a new install"
        )


def _make_champion(row: ModelVersion, by: str, via: str, reason: str) -> ModelVersion:
    """Retire the champion (if any) and make `row` the champion, in the caller's transaction."""
    ModelVersion.update(status="retired").where(
        (ModelVersion.status == "champion") & (ModelVersion.id != row.id)
    ).execute()
    row.status = "champion"
    row.promoted_at = utcnow()
    row.promoted_by = by
    row.promoted_via = via
    row.reason = reason
    try:
        row.save()
    except IntegrityError:  # another promotion won the race for the one champion
        raise RegistryError("another promotion happened at the same time; try again") from None
    logger.info("model %s is the champion (%s, by %s, %s)", row.version, reason, by, via)
    return row


def promote(version: str, *, by: str, via: str, model_dir: Path, reason: str = "promoted") -> ModelVersion:
    """Make `version` the champion, recording who (`by`) and how (`via`); RegistryError if it is
    unknown or its file is gone or changed."""
    db = ModelVersion._meta.database
    with db.atomic():
        row = ModelVersion.get_or_none(ModelVersion.version == version)
        if row is None:
            raise UnknownVersion(f"no model version {version!r}")
        if row.status == "champion":
            raise RegistryError(f"{version} is already the champion")
        check_file(row, model_dir)
        return _make_champion(row, by=by, via=via, reason=reason)


def check_file(row: ModelVersion, model_dir: Path) -> None:
    """RegistryError unless the row's checkpoint file is there with its recorded hash."""
    path = resolve_file(row.file, model_dir)
    if not path.is_file():
        raise RegistryError(f"{row.version}: its checkpoint {path} is missing")
    if file_sha256(path) != row.sha256:
        raise RegistryError(f"{row.version}: {path} has changed since it was registered")


def previous_champion(current: ModelVersion | None = None) -> ModelVersion | None:
    """The version a rollback would make the champion again: the retired one promoted last before
    the champion (`current`, read when not given); None without one."""
    current = current or ModelVersion.get_or_none(ModelVersion.status == "champion")
    if current is None or current.promoted_at is None:
        return None
    return (
        ModelVersion.select()
        .where(
            (ModelVersion.status == "retired")
            & ModelVersion.promoted_at.is_null(False)
            & (ModelVersion.promoted_at < current.promoted_at)
        )
        .order_by(ModelVersion.promoted_at.desc())
        .first()
    )


def rollback(*, by: str, via: str, model_dir: Path) -> ModelVersion:
    """Promote the champion before the current one again (`previous_champion`); the current one is
    retired. Who (`by`) and how (`via`) are recorded on the row promoted again.

    As `kubectl rollout undo`, a second rollback returns to the version the first one left.
    """
    db = ModelVersion._meta.database
    with db.atomic():
        current = ModelVersion.get_or_none(ModelVersion.status == "champion")
        if current is None:
            raise RegistryError("there is no champion to roll back")
        previous = previous_champion(current)
        if previous is None:
            raise RegistryError(f"{current.version} has no previous champion to roll back to")
        check_file(previous, model_dir)
        current_version = current.version
        row = _make_champion(previous, by=by, via=via, reason=f"rollback from {current_version}")
        ModelVersion.update(reason=f"rolled back by {by}").where(
            ModelVersion.version == current_version
        ).execute()
        return row


def as_dict(row: ModelVersion) -> dict[str, Any]:
    """A registry row as the API and the CLI show it."""
    return {
        "version": row.version,
        "parent": row.parent,
        "status": row.status,
        "file": row.file,
        "sha256": row.sha256,
        "data_fingerprint": row.data_fingerprint,
        "corpus_fingerprint": row.corpus_fingerprint,
        "counts": json.loads(row.counts) if row.counts else None,
        "metrics": json.loads(row.metrics) if row.metrics else None,
        "reason": row.reason,
        "created_at": row.created_at.isoformat() + "+00:00",
        "promoted_at": row.promoted_at.isoformat() + "+00:00" if row.promoted_at else None,
        "promoted_by": row.promoted_by,
        "promoted_via": row.promoted_via,
    }


def list_versions() -> list[ModelVersion]:
    """Every registered version, newest first."""
    return list(ModelVersion.select().order_by(ModelVersion.created_at.desc(), ModelVersion.id.desc()))


def live_figures() -> dict[str, dict[str, Any]]:
    """Per model version, from the stored reviews whose visitor saw its suggestion (agreement.py,
    the definition of `GET /api/stats` too): how many, the share who kept the suggestion, and the
    mean |rating - suggestion| in stars."""
    query = (
        Review.select(Review.model_version, *agreement.columns())
        .where(agreement.shown())
        .group_by(Review.model_version)
        .tuples()
    )
    return {version: agreement.figures(count, kept, error) for version, count, kept, error in query}
