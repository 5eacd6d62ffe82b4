"""Reading a source's files into raw review rows: text, stars and company, with the line they came from.

Every source is a CSV file (the manifest names its columns). The stored copy is xz-compressed;
its bytes are checked against the SHA-256 recorded for the file as taken, so a build reads
exactly what the manifest describes. Stars are the first number of the stars column, so
"5", "4.0", "Rated 5 out of 5 stars", "1.0 of 5 bubbles" and "{2: 'Poor'}" all read; a row
whose stars are not a whole number from 1 to 5 is reported with its file and line, and skipped.
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import lzma
import re
from collections.abc import Iterator
from dataclasses import dataclass

from brandpulse.training.corpus.manifest import Source, SourceFile
from brandpulse.training.data import DataError

logger = logging.getLogger(__name__)

_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_ELLIPSIS = ("…", "...")
FIELD_SIZE_LIMIT = 1 << 24  # bytes; csv's default 128 KiB is less than some reviews


@dataclass(frozen=True)
class RawReview:
    """One row of a source file, before cleaning."""

    source: str
    file: str  # the file's path in its origin
    line: int  # where the row ends in that file
    text: str
    stars: int
    company: str


def parse_stars(raw: str) -> int | None:
    """The first number in `raw` if it is a whole number of stars from 1 to 5, else None."""
    match = _NUMBER.search(raw or "")
    if match is None:
        return None
    value = float(match.group())
    return int(value) if value == int(value) and 1 <= value <= 5 else None


def join_title_and_body(title: str, body: str) -> str:
    """ "title\\n\\nbody", or the body alone when the title only repeats its start (or either is empty)."""
    title, body = title.strip(), body.strip()
    stem = title
    for ellipsis in _ELLIPSIS:
        stem = stem.removesuffix(ellipsis)
    if not title or body.lower().startswith(stem.strip().lower()):
        return body
    if not body:
        return title
    return f"{title}\n\n{body}"


def read_stored(file: SourceFile) -> str:
    """The text of a stored (xz-compressed) file, checked against the recorded SHA-256."""
    try:
        data = lzma.decompress(file.stored.read_bytes())
    except (OSError, lzma.LZMAError) as error:
        raise DataError(f"{file.stored}: cannot read the stored copy ({error})") from None
    digest = hashlib.sha256(data).hexdigest()
    if digest != file.sha256:
        raise DataError(f"{file.stored}: SHA-256 {digest} differs from the manifest's {file.sha256}")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise DataError(
            f"{file.origin_path}: not UTF-8 text ({error.reason} at byte {error.start})"
        ) from None


def read_rows(source: Source, file: SourceFile, text: str) -> Iterator[RawReview | str]:
    """The rows of one file: a RawReview per usable row, or a message naming file and line for a bad one."""
    if csv.field_size_limit() < FIELD_SIZE_LIMIT:
        csv.field_size_limit(FIELD_SIZE_LIMIT)
    reader = csv.DictReader(io.StringIO(text, newline=""))
    columns = [*source.text_columns, source.stars_column]
    if source.company_column:
        columns.append(source.company_column)
    missing = [column for column in columns if column not in (reader.fieldnames or [])]
    if missing:
        raise DataError(
            f"{file.origin_path}: line 1: no column {missing[0]!r} (columns: {reader.fieldnames})"
        )
    try:
        for row in reader:
            line = reader.line_num
            stars = parse_stars(row[source.stars_column])
            if stars is None:
                yield f"{file.origin_path}: line {line}: cannot read stars {row[source.stars_column]!r:.40}"
                continue
            parts = [row[column] or "" for column in source.text_columns]
            review = join_title_and_body(*parts) if len(parts) == 2 else "\n\n".join(p.strip() for p in parts)
            company = (row[source.company_column] or "").strip() if source.company_column else ""
            yield RawReview(source.name, file.origin_path, line, review, stars, company or file.company)
    except csv.Error as error:
        raise DataError(f"{file.origin_path}: line {reader.line_num}: malformed CSV ({error})") from None


def read_source(source: Source) -> Iterator[RawReview | str]:
    """Every row of every file of a source, in manifest order."""
    for file in source.files:
        yield from read_rows(source, file, read_stored(file))
