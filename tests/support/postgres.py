"""The machine's PostgreSQL server as tests and benchmarks use it: statements as its superuser and
throw-away databases.

The server is the one at 127.0.0.1:5432 with trust authentication for `postgres` (CI starts it;
`.ci/run`). Nothing here is a pytest fixture and nothing connects at import: tests wrap these in
fixtures (and decide between skipping and failing), benchmarks call them directly.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg2

POSTGRES_HOST = "127.0.0.1"
POSTGRES_PORT = 5432
POSTGRES_ADMIN_DSN = (
    f"host={POSTGRES_HOST} port={POSTGRES_PORT} user=postgres dbname=postgres connect_timeout=3"
)


def admin_execute(dsn: str, statement: str) -> None:
    """Run one statement outside a transaction (CREATE/DROP DATABASE need that) on `dsn`.

    `dsn` is a libpq key=value string or a postgresql:// URL.
    """
    connection = psycopg2.connect(dsn)
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute(statement)
    finally:
        connection.close()


def unreachable(dsn: str = POSTGRES_ADMIN_DSN) -> str | None:
    """Why the server of `dsn` cannot be reached, or None when it answers."""
    try:
        psycopg2.connect(dsn).close()
    except psycopg2.OperationalError as error:
        return f"PostgreSQL is not reachable ({dsn}): {error}".strip()
    return None


def database_url(name: str, host: str = POSTGRES_HOST, port: int = POSTGRES_PORT) -> str:
    """The DATABASE_URL of database `name` on the machine's server, as its superuser."""
    return f"postgresql://postgres@{host}:{port}/{name}"


@contextmanager
def throwaway_database(admin_dsn: str = POSTGRES_ADMIN_DSN, prefix: str = "brandpulse_test") -> Iterator[str]:
    """A new, empty database `<prefix>_<random>` on the server of `admin_dsn`; yields its name.

    Dropped afterwards, even while clients are still connected (`WITH (FORCE)`).
    """
    name = f"{prefix}_{secrets.token_hex(4)}"
    admin_execute(admin_dsn, f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        admin_execute(admin_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
