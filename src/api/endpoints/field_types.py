"""The field types and validators the API's schemas are made of (schemas.py, review_schemas.py).

The schemas validate every request (through flask-smorest) and are the OpenAPI document, so the two
cannot drift apart: every limit the code enforces is a validator the document states (apispec
turns `Length`, `Range`, `OneOf` and a validator's `regex` into maxLength, maximum, enum and
pattern). Limits that are settings (review length, batch size, page size) are read from the
running app's settings, both when validating and when the document is built (in the app's
context, `docs.Api.register_blueprint`), so the document states the configured values.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import marshmallow as ma
import numpy as np
from marshmallow import fields, validate

from brandpulse.api.settings import current_settings

_SURROGATE = re.compile(r"[\ud800-\udfff]")
_DIGITS = re.compile(r"[+-]?[0-9]{1,18}")
CURSOR_MAX = 512  # a review list cursor (base64 of the sort, the last row's value and id) is far shorter
# Exactly the characters `str.isspace()` (and so `str.strip()`) calls blank, as a regex class that
# reads the same in Python, ECMA-262 (JSON Schema) and Rust: a `\s` would differ between them.
BLANKS = r"\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
FLOAT32_TINY = float(np.finfo(np.float32).tiny)  # smallest normal float32; below it: stored as 0
FLOAT32_MAX = float(np.finfo(np.float32).max)


def text_pattern(non_blank: int) -> str:
    """The pattern of a text without NUL that keeps `non_blank` characters or more once stripped.

    Stripped text runs from the first to the last non-blank character, so "at least n once
    stripped" is "two non-blank characters n - 1 apart" (one, for n = 1): no lookahead needed.
    """
    mark = rf"[^\x00{BLANKS}]"
    if non_blank <= 0:
        return r"^[^\x00]*$"
    if non_blank == 1:
        return rf"^[^\x00]*{mark}[^\x00]*$"
    return rf"^[^\x00]*{mark}[^\x00]{{{non_blank - 2},}}{mark}[^\x00]*$"


def as_float32(number: float) -> float:
    """`number` (at most FLOAT32_MAX in magnitude) as a REAL column stores it: the nearest float32,
    as its shortest decimal (0.9 stays 0.9), and 0 below the smallest normal float32, since
    PostgreSQL refuses a REAL that underflows."""
    if abs(number) < FLOAT32_TINY:
        return 0.0
    return float(str(np.float32(number)))


class _SettingBounds:
    """Mixin for `validate.Length`/`validate.Range`: a bound given as a setting's name is read from
    the running app's settings each time it is used (validation, or building the document)."""

    def __init__(
        self, *args: Any, min_setting: str | None = None, max_setting: str | None = None, **kwargs: Any
    ) -> None:
        self._bound_settings = {"min": min_setting, "max": max_setting}
        super().__init__(*args, **kwargs)

    def _bound(self, which: str) -> Any:
        name = self._bound_settings[which]
        return getattr(current_settings(), name) if name else getattr(self, f"_{which}")

    @property
    def min(self) -> Any:
        return self._bound("min")

    @min.setter
    def min(self, value: Any) -> None:
        self._min = value

    @property
    def max(self) -> Any:
        return self._bound("max")

    @max.setter
    def max(self, value: Any) -> None:
        self._max = value


class SettingLength(_SettingBounds, validate.Length):
    """`validate.Length` with bounds that may be settings (`max_setting="page_size_max"`)."""


class SettingRange(_SettingBounds, validate.Range):
    """`validate.Range` with bounds that may be settings."""


class NonBlank(validate.Validator):
    """At least `min` characters once surrounding blanks are removed (`min`: a number or a setting's
    name); documented as the equivalent `pattern`, which also states that NUL is refused."""

    error = "Must be at least {min} characters once surrounding blanks are removed."

    def __init__(self, min: int | str = 1) -> None:
        self._min = min

    @property
    def min(self) -> int:
        return getattr(current_settings(), self._min) if isinstance(self._min, str) else self._min

    @property
    def regex(self) -> re.Pattern[str]:
        """What apispec documents as the field's `pattern`."""
        return re.compile(text_pattern(self.min))

    def __call__(self, value: str) -> str:
        minimum = self.min
        if len(value.strip()) < minimum:
            raise ma.ValidationError("Must not be blank." if minimum == 1 else self.error.format(min=minimum))
        return value


class Pattern(validate.Regexp):
    """A regular expression the whole value must match, documented as the pattern `^(?:...)$`
    (`$` ends the input in JSON Schema's ECMA-262 regexes; Python's also allows a final newline)."""

    def __init__(self, body: str, error: str | None = None) -> None:
        super().__init__(rf"^(?:{body})$", error=error)
        self._whole = re.compile(body)

    def __call__(self, value: str) -> str:
        if self._whole.fullmatch(value) is None:
            raise ma.ValidationError(self._format_error(value))
        return value


class _NoNul(validate.Validator):
    """Documents a text field's refusal of NUL as a `pattern` (`Text` itself checks it)."""

    regex = re.compile(text_pattern(0))

    def __call__(self, value: str) -> str:
        return value


class Text(fields.String):
    """A string without NUL characters or unpaired surrogates (neither can be stored or encoded).

    The document states the NUL rule as a `pattern` (a `NonBlank` validator's, if it has one).
    """

    default_error_messages = {
        "nul": "Must not contain NUL characters.",
        "surrogate": "Must be valid Unicode text (unpaired surrogate).",
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not any(isinstance(validator, NonBlank) for validator in self.validators):
            self.validators.insert(0, _NoNul())

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        if "\x00" in text:
            raise self.make_error("nul")
        if _SURROGATE.search(text):
            raise self.make_error("surrogate")
        return text


class StrictInteger(fields.Integer):
    """A JSON integer; never a float, a boolean or a string (a body says what it means)."""

    def _validated(self, value: Any) -> int:
        if isinstance(value, bool | float | str):
            raise self.make_error("invalid", input=value)
        return super()._validated(value)


class QueryInteger(fields.Integer):
    """An integer in a query string: decimal digits with an optional sign, no decimal point."""

    def _validated(self, value: Any) -> int:
        if isinstance(value, str):
            if not _DIGITS.fullmatch(value.strip()):
                raise self.make_error("invalid", input=value)
            return int(value.strip())
        return super()._validated(value)


class Real(fields.Float):
    """A finite number stored in a REAL (float4) column: validated as sent, then rounded to the
    nearest float32, written as its shortest decimal (0.9 stays 0.9); magnitudes below the smallest
    normal float32 become 0, since PostgreSQL refuses a REAL that underflows."""

    default_error_messages = {"too_large": "Must be at most 3.4e38 in magnitude (a float32)."}

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("allow_nan", False)
        metadata = {"format": "float", **kwargs.pop("metadata", {})}
        super().__init__(metadata=metadata, **kwargs)

    def deserialize(self, value: Any, attr: str | None = None, data: Any = None, **kwargs: Any) -> Any:
        number = super().deserialize(value, attr, data, **kwargs)
        if not isinstance(number, float):
            return number
        if abs(number) > FLOAT32_MAX:
            raise self.make_error("too_large", input=value)
        return as_float32(number)


class JsonBoolean(fields.Boolean):
    """A JSON true or false only: not 1, "yes" or "true" (a request says what it means)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value


class UtcDateTime(fields.DateTime):
    """ISO 8601 date-time; stored as naive UTC, read as UTC when no offset is given.

    A moment whose UTC time falls outside years 1 to 9999 (0001-01-01T00:00:00+01:00) is clamped
    to the nearest representable one: as a filter bound it means the same.
    """

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> datetime:
        moment = super()._deserialize(value, attr, data, **kwargs)
        if moment.tzinfo is not None:
            try:
                moment = moment.astimezone(UTC).replace(tzinfo=None)
            except OverflowError:
                moment = datetime.min if moment.year == datetime.min.year else datetime.max
        return moment

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        if isinstance(value, datetime) and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return super()._serialize(value, attr, obj, **kwargs)


class StrictSchema(ma.Schema):
    """Unknown fields are errors, not silently dropped."""

    class Meta:
        unknown = ma.RAISE
