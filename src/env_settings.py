"""The rules both services' settings share, on pydantic-settings.

The API (`api/settings.py`) and the web front end (`dash/settings.py`) each declare their fields
on `EnvSettings`; this module holds what must not differ between them:

- The environment variable of a field is its name in upper case (`api_url` -> `API_URL`).
- **An empty or blank value means the default**, in the environment and in overrides alike
  (where None means it too): `LOG_LEVEL=` in a `.env` file, or a compose variable passed on
  empty, is the same as no `LOG_LEVEL` at all. Surrounding blanks are removed from every value.
  A setting that can be switched off is switched off with a word (a rate limit's `off`), never
  with emptiness.
- Values are converted and checked by pydantic; any refusal is a `SettingsError`, a `ValueError`
  whose message names the variable (`API_PORT: Input should be a valid integer, got 'http'`)
  and never repeats a secret (a value is quoted only for number and true/false fields).
- Building an instance (`Settings(...)`, `.replace(...)`) takes exactly the values given plus the
  defaults; only `from_env` reads an environment, the mapping it is handed.

Importing this module loads pydantic only: neither app's heavy modules, nor torch.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Self

from pydantic import AfterValidator, Field, ValidationError
from pydantic_settings import BaseSettings, EnvSettingsSource, SettingsConfigDict

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# pydantic error types whose input is a number or a true/false word: quoted in the message.
_QUOTED_INPUT_ERRORS = ("int_", "float_", "bool_", "finite_number", "greater_than", "less_than")


class SettingsError(ValueError):
    """A setting with a value that cannot be used; the message names the variable."""


def _log_level(value: str) -> str:
    level = value.upper()
    if level not in LOG_LEVELS:
        raise ValueError(f"{value!r} is not one of {LOG_LEVELS}")
    return level


# A logging level name, any case, kept in upper case.
LogLevel = Annotated[str, AfterValidator(_log_level)]
# A probability or a share: a finite number from 0 to 1.
Share = Annotated[float, Field(ge=0, le=1)]


def is_empty(value: Any) -> bool:
    """Whether a raw value counts as not given: None, or a string that is blank."""
    return value is None or (isinstance(value, str) and not value.strip())


class _MappingSource(EnvSettingsSource):
    """pydantic-settings' environment source, reading a given mapping instead of `os.environ`."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        self._environ = environ
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        # Case-insensitive names, as pydantic-settings reads os.environ; empty values left out.
        return {name.lower(): value.strip() for name, value in self._environ.items() if not is_empty(value)}


class EnvSettings(BaseSettings):
    """Frozen settings whose fields come from environment variables (see the module docstring)."""

    model_config = SettingsConfigDict(
        frozen=True,
        extra="forbid",  # a misspelt field in code is an error, not a silently ignored value
        str_strip_whitespace=True,
        allow_inf_nan=False,
        env_ignore_empty=True,
        enable_decoding=False,  # lists are comma-separated words, not JSON: fields parse them
        protected_namespaces=(),  # fields such as `model_path` are ours, not pydantic's
    )

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as error:
            raise settings_error(error) from None

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, **_sources: Any) -> tuple[Any, ...]:
        """Only the values given to the constructor: `from_env` reads the environment it is handed."""
        return (init_settings,)

    @classmethod
    def _from_mapping(cls, environ: Mapping[str, str], overrides: Mapping[str, Any] | None) -> Self:
        """Settings from `environ`, then `overrides` (keys: variable or field names; others ignored)."""
        values = _MappingSource(cls, environ)()
        for key, value in (overrides or {}).items():
            name = key.lower()
            if name in cls.model_fields and not is_empty(value):
                values[name] = value.strip() if isinstance(value, str) else value
        return cls(**values)

    def replace(self, **changes: Any) -> Self:
        """A copy with some fields changed (checked like any other value)."""
        return type(self)(**{**self.model_dump(), **changes})


def settings_error(error: ValidationError) -> SettingsError:
    """One `SettingsError` naming every refused variable."""
    messages = []
    for item in error.errors(include_url=False):
        message = item["msg"].removeprefix("Value error, ")
        if item["type"].startswith(_QUOTED_INPUT_ERRORS):
            message += f", got {item['input']!r}"
        name = str(item["loc"][0]).upper() if item["loc"] else ""
        messages.append(f"{name}: {message}" if name else message)
    return SettingsError("; ".join(messages))
