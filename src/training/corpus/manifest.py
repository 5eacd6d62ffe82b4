"""The corpus manifest: which files each review source contributes, where they came from, how to read them.

`corpus/sources.toml` lists every source of the star-rated review corpus: its origin (a public
repository and commit), its licence as stated there, its domain, and for each file the path
it had there, the SHA-256 of its bytes as taken and the compressed copy committed here. The
reader settings say which columns hold the text, the stars and the company.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DOMAINS = ("companies", "services", "apps", "products", "travel", "local_businesses")


class ManifestError(ValueError):
    """A manifest that cannot be used, with the source named in the message."""


@dataclass(frozen=True)
class SourceFile:
    """One file of a source: where it was in its origin and where its compressed copy is here."""

    origin_path: str  # path in the origin repository
    stored: Path  # the committed copy (xz-compressed), absolute
    sha256: str  # of the file's bytes as taken (before compression)
    company: str = ""  # the company all its rows review, when the file does not say
    origin: str = ""  # where it came from, when not the source's origin
    commit: str = ""


@dataclass(frozen=True)
class Source:
    """A review source and how to read its files."""

    name: str
    domain: str
    description: str
    origin: str  # e.g. "github:owner/repo"
    commit: str
    licence: str
    files: tuple[SourceFile, ...]
    text_columns: tuple[str, ...]  # joined as title and body; a title that starts the body is dropped
    stars_column: str
    company_column: str = ""  # empty: each file's `company`
    max_per_company_stars: int | None = None  # cap on rows of one company and star count
    notes: str = ""


@dataclass(frozen=True)
class Manifest:
    """Every source, and the settings of the whole corpus."""

    sources: tuple[Source, ...]
    min_chars: int = 15
    near_duplicate_threshold: float = 0.8
    seed: int = 2026
    settings: dict[str, Any] = field(default_factory=dict)


def _require(table: dict[str, Any], key: str, where: str) -> Any:
    if key not in table:
        raise ManifestError(f"{where}: missing {key!r}")
    return table[key]


def load_manifest(path: str | Path) -> Manifest:
    """Read and check `sources.toml`; file paths are resolved against its folder."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise ManifestError(f"{path}: cannot read the manifest ({error})") from None
    settings = raw.get("corpus", {})
    sources = []
    names: set[str] = set()
    for index, table in enumerate(raw.get("source", []), start=1):
        where = f"{path}: source {table.get('name', index)!r}"
        name = _require(table, "name", where)
        if name in names:
            raise ManifestError(f"{where}: the name is used twice")
        names.add(name)
        domain = _require(table, "domain", where)
        if domain not in DOMAINS:
            raise ManifestError(f"{where}: domain {domain!r} is not one of {', '.join(DOMAINS)}")
        files = tuple(
            SourceFile(
                origin_path=_require(entry, "path", where),
                stored=path.parent / _require(entry, "stored", where),
                sha256=_require(entry, "sha256", where),
                company=entry.get("company", ""),
                origin=entry.get("origin", ""),
                commit=entry.get("commit", ""),
            )
            for entry in _require(table, "files", where)
        )
        company_column = table.get("company_column", "")
        if not company_column and any(not f.company for f in files):
            raise ManifestError(f"{where}: give a company_column or a company for every file")
        sources.append(
            Source(
                name=name,
                domain=domain,
                description=_require(table, "description", where),
                origin=_require(table, "origin", where),
                commit=_require(table, "commit", where),
                licence=_require(table, "licence", where),
                files=files,
                text_columns=tuple(_require(table, "text_columns", where)),
                stars_column=_require(table, "stars_column", where),
                company_column=company_column,
                max_per_company_stars=table.get("max_per_company_stars"),
                notes=table.get("notes", ""),
            )
        )
    if not sources:
        raise ManifestError(f"{path}: no [[source]] tables")
    return Manifest(
        sources=tuple(sources),
        min_chars=int(settings.get("min_chars", 15)),
        near_duplicate_threshold=float(settings.get("near_duplicate_threshold", 0.8)),
        seed=int(settings.get("seed", 2026)),
        settings=settings,
    )
