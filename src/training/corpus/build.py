"""`build-corpus`: the star-rated review corpus, from the committed source files to one normalised CSV.

Reads every source of `corpus/sources.toml` (checking each file's SHA-256), cleans the texts and
drops, counting each reason: unreadable stars, empty texts, markup only, shorter than the
manifest's `min_chars`, not English, exact duplicates and near duplicates (across all sources
and against `--against` files such as the movie reviews), and rows over a source's cap on one
company and star count (a seeded sample is kept). Writes

- the corpus CSV: `id,text,stars,source,domain,company` (id = source:file:line), and
- a JSON report beside it: per source, its origin, licence, files and hashes, rows read, kept and
  dropped by reason, companies, star distribution and text lengths (docs/data_card.md quotes it).

The same manifest and files always give the same bytes.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import sys
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from brandpulse.model.language import EnglishTest
from brandpulse.model.paths import file_sha256
from brandpulse.model.runtime import configure_logging
from brandpulse.training.corpus.cleaning import (
    NearDuplicates,
    clean_text,
    dedupe_key,
    is_markup_only,
    length_summary,
)
from brandpulse.training.corpus.manifest import Manifest, ManifestError, Source, load_manifest
from brandpulse.training.corpus.readers import RawReview, read_source
from brandpulse.training.data import DataError

logger = logging.getLogger(__name__)

COLUMNS = ("id", "text", "stars", "source", "domain", "company")
DEFAULT_MANIFEST = Path("corpus/sources.toml")
# Why a row is left out, in the order the checks run.
REASONS = (
    "unreadable_stars",
    "empty",
    "markup_only",
    "too_short",
    "not_english",
    "duplicate",
    "in_reference_data",
    "near_duplicate",
    "capped",
)


@dataclass
class Row:
    """A kept review, normalised."""

    id: str
    text: str
    stars: int
    source: str
    domain: str
    company: str


class Deduplicator:
    """Exact and near-duplicate detection over the reference texts and every text kept so far."""

    def __init__(self, threshold: float) -> None:
        self.exact: dict[str, str] = {}  # dedupe key -> "reference" or the kept row's id
        self.near = NearDuplicates(threshold=threshold)

    def add_reference(self, texts: Sequence[str]) -> None:
        """Texts no corpus row may repeat (e.g. the movie reviews)."""
        for number, text in enumerate(texts):
            key = dedupe_key(text)
            if key and key not in self.exact:
                self.exact[key] = "reference"
                self.near.add(f"reference:{number}", text)

    def reason(self, row_id: str, text: str) -> str | None:
        """None for a new text (then kept in the index), else why it is left out."""
        key = dedupe_key(text)
        if key in self.exact:
            return "in_reference_data" if self.exact[key] == "reference" else "duplicate"
        match = self.near.match_or_add(row_id, text)
        if match is not None:
            return "in_reference_data" if match.startswith("reference:") else "near_duplicate"
        self.exact[key] = row_id
        return None


def read_reference(paths: Sequence[Path], text_column: str = "text") -> list[str]:
    """The texts of reference CSV files."""
    texts = []
    for path in paths:
        with path.open(encoding="utf-8", newline="") as handle:
            texts.extend(row[text_column] for row in csv.DictReader(handle))
    return texts


class SourceStats:
    """What happened to one source's rows."""

    def __init__(self, source: Source) -> None:
        self.source = source
        self.read = 0
        self.dropped: Counter[str] = Counter()
        self.problems: list[str] = []

    def drop(self, reason: str, problem: str | None = None) -> None:
        self.dropped[reason] += 1
        if problem is not None and len(self.problems) < 20:
            self.problems.append(problem)

    def report(self, kept: list[Row]) -> dict[str, Any]:
        source = self.source
        return {
            "domain": source.domain,
            "description": source.description,
            "origin": source.origin,
            "commit": source.commit,
            "licence": source.licence,
            "files": [
                {
                    "path": f.origin_path,
                    "sha256": f.sha256,
                    **({"origin": f.origin, "commit": f.commit} if f.origin else {}),
                }
                for f in source.files
            ],
            "rows_read": self.read,
            "dropped": {reason: self.dropped[reason] for reason in REASONS},
            "kept": len(kept),
            "companies": len({row.company for row in kept}),
            "star_distribution": _star_distribution(kept),
            "text_length": length_summary([len(row.text) for row in kept]),
            "problems": self.problems,
        }


def _star_distribution(rows: Sequence[Row]) -> dict[str, int]:
    counts = Counter(row.stars for row in rows)
    return {str(stars): counts[stars] for stars in range(1, 6)}


def cap_rows(rows: list[Row], cap: int | None, seed: int, stats: SourceStats) -> list[Row]:
    """At most `cap` rows of each (company, stars), a seeded sample, in their original order."""
    if cap is None:
        return rows
    cells: dict[tuple[str, int], list[int]] = defaultdict(list)
    for index, row in enumerate(rows):
        cells[(row.company, row.stars)].append(index)
    rng = np.random.default_rng(seed)
    keep = np.ones(len(rows), dtype=bool)
    for cell in sorted(cells):
        members = cells[cell]
        if len(members) > cap:
            dropped = rng.choice(members, size=len(members) - cap, replace=False)
            keep[dropped] = False
            stats.dropped["capped"] += len(dropped)
    return [row for row, kept in zip(rows, keep, strict=True) if kept]


def clean_source(
    source: Source, manifest: Manifest, english: EnglishTest, dedupe: Deduplicator
) -> tuple[list[Row], SourceStats]:
    """The kept rows of one source, and what happened to the rest."""
    stats = SourceStats(source)
    rows: list[Row] = []
    for item in read_source(source):
        stats.read += 1
        if isinstance(item, str):
            stats.drop("unreadable_stars", item)
            continue
        row = _clean_row(item, source, manifest, english, dedupe)
        if isinstance(row, str):
            stats.drop(row)
        else:
            rows.append(row)
    return cap_rows(rows, source.max_per_company_stars, manifest.seed, stats), stats


def _clean_row(
    item: RawReview, source: Source, manifest: Manifest, english: EnglishTest, dedupe: Deduplicator
) -> Row | str:
    """The normalised row, or the reason it is left out."""
    text = clean_text(item.text)
    if not text:
        return "markup_only" if is_markup_only(item.text, text) else "empty"
    if len(text) < manifest.min_chars:
        return "too_short"
    if not english(text):
        return "not_english"
    row_id = f"{source.name}:{item.file}:{item.line}"
    reason = dedupe.reason(row_id, text)
    if reason is not None:
        return reason
    return Row(row_id, text, item.stars, source.name, source.domain, item.company)


def build_corpus(manifest: Manifest, reference_texts: Sequence[str] = ()) -> tuple[list[Row], dict[str, Any]]:
    """Every kept row of every source, in manifest order, and the report."""
    english = EnglishTest()
    dedupe = Deduplicator(manifest.near_duplicate_threshold)
    dedupe.add_reference(reference_texts)
    rows: list[Row] = []
    sources: dict[str, Any] = {}
    for source in manifest.sources:
        kept, stats = clean_source(source, manifest, english, dedupe)
        sources[source.name] = stats.report(kept)
        logger.info(
            "%s: %d read, %d kept (%s)",
            source.name,
            stats.read,
            len(kept),
            ", ".join(f"{reason} {n}" for reason, n in stats.dropped.items() if n),
        )
        rows.extend(kept)
    report = {
        "settings": {
            "min_chars": manifest.min_chars,
            "near_duplicate_threshold": manifest.near_duplicate_threshold,
            "seed": manifest.seed,
            "reference_texts": len(reference_texts),
        },
        "overall": {
            "rows": len(rows),
            "sources": len(sources),
            "companies": len({(row.source, row.company) for row in rows}),
            "star_distribution": _star_distribution(rows),
            "text_length": length_summary([len(row.text) for row in rows]),
            "by_domain": dict(sorted(Counter(row.domain for row in rows).items())),
        },
        "sources": sources,
    }
    return rows, report


def write_corpus(rows: Sequence[Row], path: Path) -> None:
    """The corpus CSV (written to a temporary file first, so a failed build leaves no half file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(path.suffix + ".tmp")
    with temporary.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(COLUMNS)
        for row in rows:
            writer.writerow([row.id, row.text, row.stars, row.source, row.domain, row.company])
    temporary.replace(path)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the `build-corpus` command line; returns the process exit code."""
    p = argparse.ArgumentParser(prog="build-corpus", description=__doc__.splitlines()[0])
    p.add_argument("--manifest", type=Path, default=DEFAULT_MANIFEST, help="the sources manifest (TOML)")
    p.add_argument(
        "--against",
        type=Path,
        action="append",
        default=[],
        help="a CSV (text column) whose texts no corpus row may repeat, e.g. the movie reviews; repeatable",
    )
    p.add_argument("--out", type=Path, required=True, help="corpus CSV to write")
    p.add_argument("--report", type=Path, help="JSON report (default: beside the corpus)")
    p.add_argument("--log-level", default="INFO", help="logging level")
    args = p.parse_args(argv)
    configure_logging(args.log_level)
    try:
        manifest = load_manifest(args.manifest)
        rows, report = build_corpus(manifest, read_reference(args.against))
    except (ManifestError, DataError, OSError, KeyError) as error:
        logger.error("%s", error)
        return 2
    write_corpus(rows, args.out)
    report["corpus"] = {"file": args.out.name, "sha256": file_sha256(args.out)}
    report["against"] = [{"file": path.name, "sha256": file_sha256(path)} for path in args.against]
    report_path = args.report or args.out.with_suffix(".report.json")
    report_path.write_text(json.dumps(report, indent=2) + "\n")
    logger.info("wrote %d reviews to %s and the report to %s", len(rows), args.out, report_path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
