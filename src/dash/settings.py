"""Every setting of the web front end, read from the environment in this one place.

Each setting has a default that suits development next to the API (`make run`). The environment
variable of a field is its name in upper case (`api_url` -> `API_URL`). `create_app(overrides)`
layers an explicit mapping on top of the environment.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from flask import current_app

EXTENSION = "brandpulse.web_settings"
PACKAGE_DIR = Path(__file__).resolve().parent
BUNDLED_LOGOS = PACKAGE_DIR / "logos"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class SettingsError(ValueError):
    """A setting with a value that cannot be used; the message names the variable."""


@dataclass(frozen=True)
class WebSettings:
    """The web front end's configuration (see docs/web.md for the table of variables)."""

    api_url: str = "http://127.0.0.1:5000"  # the REST API, reached over HTTP only
    api_timeout: float = 5.0  # seconds per API request (connect and read)
    logo_dir: Path = BUNDLED_LOGOS  # <slug>.svg|png|webp|jpg files, served at /logos/
    log_level: str = "INFO"
    # Share of visitor sessions shown no suggested rating (the control group that measures anchoring).
    suggestion_control_share: float = 0.1
    # gunicorn (src/dash/gunicorn_conf.py) and the development server.
    web_host: str = "127.0.0.1"
    web_port: int = 8050
    web_workers: int = 1
    web_threads: int = 8
    web_timeout: int = 30

    def __post_init__(self) -> None:
        parsed = urlparse(self.api_url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise SettingsError(f"API_URL: {self.api_url!r} is not an http(s) URL")
        object.__setattr__(self, "api_url", self.api_url.rstrip("/"))
        if self.api_timeout <= 0:
            raise SettingsError(f"API_TIMEOUT: must be positive, got {self.api_timeout}")
        if self.log_level.upper() not in LOG_LEVELS:
            raise SettingsError(f"LOG_LEVEL: {self.log_level!r} is not one of {LOG_LEVELS}")
        object.__setattr__(self, "log_level", self.log_level.upper())
        share = self.suggestion_control_share
        if not isinstance(share, int | float) or isinstance(share, bool) or not 0.0 <= share <= 1.0:
            raise SettingsError(f"SUGGESTION_CONTROL_SHARE: must be a number from 0 to 1, got {share!r}")
        object.__setattr__(self, "suggestion_control_share", float(share))
        for name in ("web_port", "web_workers", "web_threads", "web_timeout"):
            if getattr(self, name) < 1:
                raise SettingsError(f"{name.upper()}: must be at least 1, got {getattr(self, name)}")

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, overrides: Mapping[str, Any] | None = None
    ) -> WebSettings:
        """Settings from environment variables, then `overrides` (keys: variable or field names)."""
        environ = os.environ if environ is None else environ
        overrides = overrides or {}
        values: dict[str, Any] = {}
        for item in fields(cls):
            env_name = item.name.upper()
            if env_name in overrides or item.name in overrides:
                raw = overrides[env_name] if env_name in overrides else overrides[item.name]
            elif environ.get(env_name, "").strip():  # `LOGO_DIR=` in a .env file means the default
                raw = environ[env_name]
            else:
                continue
            values[item.name] = _convert(item, raw)
        return cls(**values)

    def replace(self, **changes: Any) -> WebSettings:
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)


def _convert(item: dataclasses.Field, raw: Any) -> Any:
    """Turn an environment string (or an already typed override) into the field's type."""
    name = item.name.upper()
    if not isinstance(raw, str):
        return Path(raw) if item.type == "Path" and isinstance(raw, os.PathLike) else raw
    text = raw.strip()
    try:
        if item.type == "int":
            return int(text)
        if item.type == "float":
            return float(text)
    except ValueError:
        raise SettingsError(f"{name}: expected a number, got {raw!r}") from None
    if item.type == "Path":
        return Path(text).expanduser()
    return text


def current_settings() -> WebSettings:
    """The settings of the current app (inside a Dash callback or Flask request)."""
    return current_app.extensions[EXTENSION]
