"""Brands from a CSV file in the crawler's format (`name,website,logo_url`), idempotently.

A name already stored keeps its row (and so its reviews); its website and logo URL take the
file's values. The whole file is checked before anything is written, and written in one
transaction: a bad row leaves the database as it was.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from peewee import chunked

from brandpulse.api.storage.db import database
from brandpulse.api.storage.tables import NAME_MAX, URL_MAX, Brand

BUNDLED_BRANDS = Path(__file__).resolve().parent / "seed" / "brands.csv"
COLUMNS = ("name", "website", "logo_url")
BATCH = 200


class SeedError(ValueError):
    """A brands file that cannot be used; the message names the file and line."""


@dataclass(frozen=True)
class SeedResult:
    """What a seeding run did."""

    rows: int
    inserted: int
    updated: int


def _url(value: str, column: str, where: str) -> str | None:
    value = value.strip()
    if not value:
        return None
    parsed = urlparse(value)
    if parsed.scheme not in ("http", "https") or not parsed.netloc or len(value) > URL_MAX:
        raise SeedError(f"{where}: {column} must be an http(s) URL of at most {URL_MAX} characters")
    return value


def read_brands(path: str | Path) -> list[dict[str, str | None]]:
    """The brands a CSV file lists (the last row wins for a repeated name)."""
    path = Path(path)
    try:
        handle = path.open(encoding="utf-8-sig", newline="")
    except OSError as error:
        raise SeedError(f"{path}: cannot read ({error.strerror})") from None
    brands: dict[str, dict[str, str | None]] = {}
    with handle:
        reader = csv.DictReader(handle)
        if not reader.fieldnames or "name" not in reader.fieldnames:
            raise SeedError(f"{path}: the header must name the columns {', '.join(COLUMNS)}")
        try:
            for row in reader:
                where = f"{path}: line {reader.line_num}"
                name = (row.get("name") or "").strip()
                if not name or len(name) > NAME_MAX or "\x00" in name:
                    raise SeedError(f"{where}: name must be 1 to {NAME_MAX} characters")
                brands[name] = {
                    "name": name,
                    "website": _url(row.get("website") or "", "website", where),
                    "logo_url": _url(row.get("logo_url") or "", "logo_url", where),
                }
        except (csv.Error, UnicodeDecodeError) as error:
            raise SeedError(f"{path}: line {reader.line_num}: not valid UTF-8 CSV ({error})") from None
    return list(brands.values())


def seed_brands(path: str | Path = BUNDLED_BRANDS) -> SeedResult:
    """Insert or update the brands of a CSV file; running it again changes nothing."""
    brands = read_brands(path)
    names = {brand["name"] for brand in brands}
    existing: set[str] = set()
    with database.atomic():
        for batch in chunked(brands, BATCH):  # SQLite caps the parameters of one statement
            batch_names = [brand["name"] for brand in batch]
            existing.update(row.name for row in Brand.select(Brand.name).where(Brand.name.in_(batch_names)))
            (
                Brand.insert_many(batch)
                .on_conflict(conflict_target=[Brand.name], preserve=[Brand.website, Brand.logo_url])
                .execute()
            )
    inserted = len(names - existing)
    return SeedResult(rows=len(brands), inserted=inserted, updated=len(brands) - inserted)
