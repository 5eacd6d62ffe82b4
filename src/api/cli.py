"""`flask --app brandpulse.api db …`: schema upgrade, brand seeding, schema version."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from flask import Flask
from flask.cli import AppGroup
from peewee import InterfaceError, OperationalError

from brandpulse.api import migrations, seeding
from brandpulse.api.db import get_database

db_cli = AppGroup("db", help="Database schema and seed data.")


@db_cli.command("upgrade")
@click.option("--to", "target", type=int, help="stop at this schema version (default: the latest)")
def upgrade_command(target: int | None) -> None:
    """Create or upgrade the schema (safe to run again)."""
    with _connection():
        before = migrations.current_version()
        applied = migrations.upgrade(target)
        after = migrations.current_version()
    if applied:
        click.echo(f"schema upgraded from version {before} to {after} (applied {applied})")
    else:
        click.echo(f"schema already at version {after}")


@db_cli.command("seed-brands")
@click.argument(
    "csv_file",
    required=False,
    type=click.Path(dir_okay=False, path_type=Path),
    default=seeding.BUNDLED_BRANDS,
)
def seed_brands_command(csv_file: Path) -> None:
    """Insert or update brands from CSV_FILE (name,website,logo_url; default: the bundled list)."""
    try:
        with _connection():
            if migrations.current_version() < migrations.LATEST_VERSION:
                raise click.ClickException("the schema is not up to date: run `db upgrade` first")
            result = seeding.seed_brands(csv_file)
    except seeding.SeedError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"{result.rows} brands in {csv_file}: {result.inserted} added, {result.updated} updated")


@db_cli.command("version")
def version_command() -> None:
    """Print the applied and the latest schema version."""
    with _connection():
        current = migrations.current_version()
    click.echo(f"schema version {current} (latest {migrations.LATEST_VERSION})")


@contextmanager
def _connection() -> Iterator[None]:
    """Open the current app's database for one command; database failures become clean errors."""
    db = get_database()
    try:
        opened = db.connect(reuse_if_open=True)
    except (OperationalError, InterfaceError) as error:
        raise click.ClickException(f"cannot connect to the database: {str(error).strip()}") from None
    try:
        yield
    except (OperationalError, InterfaceError) as error:
        raise click.ClickException(f"database error: {str(error).strip()}") from None
    finally:
        if opened and not db.is_closed():
            db.close()


def init_app(app: Flask) -> None:
    """Register the `db` command group."""
    app.cli.add_command(db_cli)
