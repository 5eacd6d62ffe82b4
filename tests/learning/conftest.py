"""Fixtures for the learning loop: the API's apps on SQLite and PostgreSQL (its reviews are its data)."""

from tests.api.conftest import app, client, database_url, make_app, postgres_database, postgres_server

__all__ = ["app", "client", "database_url", "make_app", "postgres_database", "postgres_server"]
