"""`flask --app brandpulse.api db …` (schema, brands), `… model …` (the model registry) and
`… privacy …` (personal data: expiry and erasure, docs/privacy.md)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from peewee import InterfaceError, OperationalError

from brandpulse.api.scheduling import run_on_schedule
from brandpulse.api.settings import current_settings
from brandpulse.api.storage import erasure, idempotency, migrations, registry, seeding
from brandpulse.api.storage.db import get_database

db_cli = AppGroup("db", help="Database schema and seed data.")


@db_cli.command("upgrade")
@click.option("--to", "target", type=int, help="stop at this schema version (default: the latest)")
def upgrade_command(target: int | None) -> None:
    """Create or upgrade the schema (safe to run again)."""
    with _connection():
        before = migrations.current_version()
        applied = migrations.upgrade(target)
        after = migrations.current_version()
        first = _first_champion() if after >= migrations.REGISTRY_VERSION else None
    if applied:
        click.echo(f"schema upgraded from version {before} to {after} (applied {applied})")
    else:
        click.echo(f"schema already at version {after}")
    if first is not None:
        click.echo(f"model registry: {first.version} ({first.file}) is the first champion")


def _first_champion() -> registry.ModelVersion | None:
    """On an install without a champion, record MODEL_PATH as the champion (if it is readable)."""
    settings = current_settings()
    try:
        return registry.register_first_champion(settings.model_path, settings.model_dir)
    except registry.RegistryError as error:
        click.echo(f"model registry: no champion recorded ({error})", err=True)
        return None


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


@db_cli.command("prune-idempotency-keys")
def prune_idempotency_keys_command() -> None:
    """Delete the Idempotency-Keys older than IDEMPOTENCY_TTL_HOURS (the workers also do, now and then)."""
    with _connection():
        deleted = idempotency.prune_expired(current_settings().idempotency_ttl_hours)
    click.echo(f"{deleted} expired idempotency keys deleted")


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


model_cli = AppGroup("model", help="The model registry: list, check, register, promote, roll back.")


def _registry_ready() -> None:
    if migrations.current_version() < migrations.LATEST_VERSION:
        raise click.ClickException("the schema is not up to date: run `db upgrade` first")


@model_cli.command("list")
def list_command() -> None:
    """List the registered model versions, newest first, with their status."""
    with _connection():
        _registry_ready()
        rows = registry.list_versions()
    for row in rows:
        promoted = (
            f" promoted {row.promoted_at:%Y-%m-%d %H:%M} by {row.promoted_by} via {row.promoted_via}"
            if row.promoted_at
            else ""
        )
        click.echo(
            f"{row.status:9}  {row.version}  {row.file}{promoted}"
            + (f"  ({row.reason})" if row.reason else "")
        )


@model_cli.command("check")
def check_command() -> None:
    """Load the model the API would serve at start (the champion, else MODEL_PATH); fail if none loads.

    The compose `migrate` service and the Kubernetes migration Job end with it, so a deployment
    whose model cannot load stops there, naming the file, before any API process starts.
    """
    from brandpulse.api.serving.inference import ModelUnavailable, get_model

    settings = current_settings()
    with _connection():
        has_registry = migrations.current_version() >= migrations.REGISTRY_VERSION
        champion = registry.read_champion(get_database(), settings.model_dir) if has_registry else None
        try:
            model = get_model()
            model.get(watch=False)
        except ModelUnavailable as error:
            raise click.ClickException(str(error)) from None
    if champion is not None and model.served_path != champion.path:
        click.echo(
            f"model check: the champion {champion.version} ({champion.path}) does not load;"
            f" the API falls back to MODEL_PATH",
            err=True,
        )
    click.echo(f"model check: {model.version} loads from {model.served_path}")


@model_cli.command("register")
@click.argument("checkpoint", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--parent", help="the version it was trained from")
def register_command(checkpoint: Path, parent: str | None) -> None:
    """Record CHECKPOINT as a candidate (checkpoints in MODEL_DIR are stored by relative path)."""
    with _connection():
        _registry_ready()
        try:
            row = registry.register(checkpoint, model_dir=current_settings().model_dir, parent=parent)
        except registry.RegistryError as error:
            raise click.ClickException(str(error)) from None
    click.echo(f"registered {row.version} as a candidate")


@model_cli.command("promote")
@click.argument("version")
@click.option("--by", default="cli", show_default=True, help="who promotes (recorded)")
def promote_command(version: str, by: str) -> None:
    """Make VERSION the champion: every API worker serves it within MODEL_POLL_SECONDS."""
    with _connection():
        _registry_ready()
        try:
            row = registry.promote(
                version, by=by, via=registry.VIA_PROMOTE_COMMAND, model_dir=current_settings().model_dir
            )
        except registry.RegistryError as error:
            raise click.ClickException(str(error)) from None
    click.echo(f"{row.version} is the champion")


@model_cli.command("rollback")
@click.option("--by", default="cli", show_default=True, help="who rolls back (recorded)")
def rollback_command(by: str) -> None:
    """Make the previous champion the champion again."""
    with _connection():
        _registry_ready()
        try:
            row = registry.rollback(
                by=by, via=registry.VIA_ROLLBACK_COMMAND, model_dir=current_settings().model_dir
            )
        except registry.RegistryError as error:
            raise click.ClickException(str(error)) from None
    click.echo(f"rolled back: {row.version} is the champion")


privacy_cli = AppGroup("privacy", help="Personal data: expire addresses, erase a client (docs/privacy.md).")


def _expire(app: Flask) -> int:
    """One expiry run in `app`, with a connection of its own (a scheduled run is on another thread)."""
    with app.app_context(), _connection():
        _registry_ready()
        return erasure.expire_personal_data(current_settings().personal_data_retention_days)


@privacy_cli.command("expire")
@click.option(
    "--schedule",
    is_flag=False,
    flag_value="",
    default=None,
    metavar="[CRON]",
    help="run on this cron schedule (UTC) instead of once; no value: PERSONAL_DATA_SCHEDULE",
)
def expire_command(schedule: str | None) -> None:
    """Clear the IP address and user agent of reviews older than PERSONAL_DATA_RETENTION_DAYS.

    Their client pseudonyms stay (the retrain's per-client filters and an erasure by address
    need them). Safe to run again: a run clears only what an earlier one left.
    """
    app = current_app._get_current_object()
    if schedule is None:
        cleared = _expire(app)
        days = current_settings().personal_data_retention_days
        click.echo(f"{cleared} reviews older than {days} days: IP address and user agent cleared")
        return
    cron = schedule or current_settings().personal_data_schedule
    code = run_on_schedule("privacy expire", cron, lambda: _expire(app), setting="PERSONAL_DATA_SCHEDULE")
    if code:
        raise click.exceptions.Exit(code)


@privacy_cli.command("erase-address")
@click.argument("address")
@click.option(
    "--delete-reviews", is_flag=True, help="delete the reviews (default: clear their personal fields)"
)
def erase_address_command(address: str, delete_reviews: bool) -> None:
    """Erase everything stored of the client at ADDRESS (an IPv6 address: its /64).

    Its reviews, also those whose address has expired, lose their IP address, user agent and
    client pseudonym (or are deleted, with --delete-reviews); their idempotency keys are deleted.
    """
    with _connection():
        _registry_ready()
        try:
            done = erasure.erase_client(address, delete_reviews=delete_reviews, actor=erasure.COMMAND)
        except erasure.NotAnAddress as error:
            raise click.BadParameter(str(error), param_hint="ADDRESS") from None
    click.echo(
        f"{done.reviews_deleted} reviews deleted, {done.reviews_cleared} reviews cleared, "
        f"{done.idempotency_keys_deleted} idempotency keys deleted"
    )


def init_app(app: Flask) -> None:
    """Register the `db`, `model` and `privacy` command groups."""
    app.cli.add_command(db_cli)
    app.cli.add_command(model_cli)
    app.cli.add_command(privacy_cli)
