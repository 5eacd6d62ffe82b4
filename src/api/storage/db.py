"""peewee wiring: a proxy bound at app creation, a connection per request, a pool for PostgreSQL.

The models bind to `database`, a `DatabaseProxy` that `init_app` points at the database named by
`DATABASE_URL` (`playhouse.db_url`). Blueprints that use the database register `open_connection`
as a `before_request` hook; `teardown_request` closes (or returns to the pool) whatever is open,
on success and on error alike. Nothing here connects at import time.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from urllib.parse import urlparse, urlunparse

from flask import Flask, current_app
from peewee import Database, DatabaseProxy, InterfaceError, Model, OperationalError, SqliteDatabase
from playhouse import db_url
from playhouse.pool import PooledPostgresqlDatabase

from brandpulse.api.settings import Settings

logger = logging.getLogger(__name__)

EXTENSION = "brandpulse.db"
database = DatabaseProxy()

# WAL lets readers and one writer work at once; the busy timeout makes concurrent writers wait
# for the lock instead of failing at once.
SQLITE_PRAGMAS = {"journal_mode": "wal", "foreign_keys": 1, "busy_timeout": 5000, "synchronous": "normal"}


class _SqliteFile(SqliteDatabase):
    """SQLite in a file whose directory is created on the first connection (not at app creation)."""

    def _connect(self):
        Path(self.database).parent.mkdir(parents=True, exist_ok=True)
        return super()._connect()


class _PostgresPool(PooledPostgresqlDatabase):
    """peewee's PostgreSQL pool, without the liveness round trip for a connection just returned.

    peewee checks every idle connection with a `SELECT 1` before handing it out, so the first
    request after a server restart works. Under load that is one more round trip per request on
    a connection that was fine a millisecond ago; like HikariCP's `aliveBypassWindowMs`, a
    connection returned to the pool less than `LIVENESS_WINDOW` seconds ago is handed out
    unchecked (a connection the driver saw break is still discarded, and one found dead by the
    request itself is discarded when the request ends: that request answers 503).
    """

    LIVENESS_WINDOW = 1.0

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._returned_at: dict[int, float] = {}  # connection key -> time.monotonic() at check-in

    def _is_closed(self, conn) -> bool:
        if conn.closed:
            return True
        returned = self._returned_at.get(self.conn_key(conn))
        if returned is not None and time.monotonic() - returned < self.LIVENESS_WINDOW:
            return False
        return super()._is_closed(conn)

    def _close(self, conn, close_conn: bool = False) -> None:
        if not close_conn:  # set before the pool can hand it out again; `_close_raw` forgets it
            self._returned_at[self.conn_key(conn)] = time.monotonic()
        super()._close(conn, close_conn)

    def _close_raw(self, conn) -> None:
        self._returned_at.pop(self.conn_key(conn), None)
        super()._close_raw(conn)


class BaseModel(Model):
    """Base of every table: bound to the proxy, so the app chooses the database at run time."""

    class Meta:
        database = database


def is_memory_sqlite(url: str) -> bool:
    """Whether a URL names an in-memory SQLite database (which lives as long as its connection)."""
    parsed = urlparse(url)
    return parsed.scheme == "sqlite" and parsed.path in ("", "/", "/:memory:")


def make_database(settings: Settings) -> Database:
    """The peewee database for `settings.database_url`: SQLite, or pooled PostgreSQL."""
    url = settings.database_url
    parsed = urlparse(url)
    if parsed.scheme == "sqlite":
        if is_memory_sqlite(url):
            # One connection shared by every thread and never closed: closing would lose the data.
            return SqliteDatabase(
                ":memory:", pragmas=SQLITE_PRAGMAS, thread_safe=False, check_same_thread=False
            )
        params = db_url.parse(url)
        return _SqliteFile(params.pop("database"), pragmas=SQLITE_PRAGMAS, **params)
    params = db_url.parse(
        urlunparse(parsed._replace(scheme=parsed.scheme.removesuffix("+pool"))),
        unquote_user=True,
        unquote_password=True,
    )
    return _PostgresPool(
        params.pop("database"),
        **params,
        max_connections=settings.db_max_connections,
        stale_timeout=settings.db_stale_timeout or None,
        timeout=settings.db_pool_timeout,
        connect_timeout=settings.db_connect_timeout,
    )


def init_app(app: Flask, settings: Settings) -> None:
    """Create the app's database, bind the proxy to it and close connections after each request."""
    db = make_database(settings)
    app.extensions[EXTENSION] = db
    database.initialize(db)
    app.teardown_request(close_connection)


def get_database(app: Flask | None = None) -> Database:
    """The database of `app` (default: the current app), with the proxy bound to it."""
    db = (app or current_app).extensions[EXTENSION]
    if database.obj is not db:  # several apps in one process (tests): follow the current one
        database.initialize(db)
    return db


def open_connection() -> None:
    """`before_request` hook: open this request's connection (a live one, from the pool)."""
    # The PostgreSQL pool checks a connection idle for a second or more with a round trip before
    # handing it out and drops it if the server went away, so the first request after a restart
    # works (`_PostgresPool`).
    get_database().connect(reuse_if_open=True)


def close_connection(_error: BaseException | None = None) -> None:
    """`teardown_request` hook: close the connection (return it to the pool) if one is open."""
    db = current_app.extensions[EXTENSION]
    if db.is_closed() or (isinstance(db, SqliteDatabase) and db.database == ":memory:"):
        return
    try:
        db.close()
    except (OperationalError, InterfaceError):
        logger.warning("closing the database connection failed; discarding it", exc_info=True)
        if isinstance(db, PooledPostgresqlDatabase):
            db.manual_close()


def dispose(app: Flask) -> None:
    """Close every connection of the app's database (pool included): for tests and shutdown."""
    db = app.extensions[EXTENSION]
    if isinstance(db, PooledPostgresqlDatabase):
        db.close_all()
    elif not db.is_closed():
        db.close()
