"""The retrain lock: two rounds never overlap, on one host (a lock file) or several (PostgreSQL)."""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from peewee import Database, PostgresqlDatabase

from brandpulse.learning.errors import RetrainBusy

ADVISORY_LOCK_KEY = 0x7265747261  # "retra"
LOCK_FILE = ".retrain.lock"


@contextmanager
def exclusive_run(db: Database, lock_dir: Path) -> Iterator[None]:
    """Hold the retrain lock for the block; RetrainBusy if another round holds it.

    The lock file lives in `lock_dir` (MODEL_DIR); on PostgreSQL an advisory lock is also taken,
    for rounds on several hosts (a Kubernetes CronJob).
    """
    lock_dir.mkdir(parents=True, exist_ok=True)
    with (lock_dir / LOCK_FILE).open("a") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RetrainBusy(f"another retrain round holds {lock_dir / LOCK_FILE}") from None
        advisory = isinstance(db, PostgresqlDatabase)
        if (
            advisory
            and not db.execute_sql("SELECT pg_try_advisory_lock(%s)", (ADVISORY_LOCK_KEY,)).fetchone()[0]
        ):
            raise RetrainBusy("another retrain round holds the database's retrain lock")
        try:
            yield
        finally:
            if advisory:
                db.execute_sql("SELECT pg_advisory_unlock(%s)", (ADVISORY_LOCK_KEY,))
