"""Every setting of the web front end, read from the environment in this one place.

Each setting has a default that suits development next to the API (`make run`). The environment
variable of a field is its name in upper case (`api_url` -> `API_URL`); an empty value means the
default (the rules both services share: `brandpulse/env_settings.py`). `create_app(overrides)`
layers an explicit mapping on top of the environment.

The limits the pages follow (longest review, page sizes, sort orders) are the API's own settings:
the pages read them from the API (`limits.py`), never from here.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from flask import current_app
from pydantic import PositiveFloat, PositiveInt, field_validator

from brandpulse.env_settings import EnvSettings, LogLevel, Share
from brandpulse.env_settings import SettingsError as SettingsError  # raised by from_env, for callers
from brandpulse.trusted_hops import parse_hops

EXTENSION = "brandpulse.web_settings"
PACKAGE_DIR = Path(__file__).resolve().parent
BUNDLED_LOGOS = PACKAGE_DIR / "logos"


class WebSettings(EnvSettings):
    """The web front end's configuration (see docs/web.md for the table of variables)."""

    api_url: str = "http://127.0.0.1:5000"  # the REST API, reached over HTTP only
    api_timeout: PositiveFloat = 5.0  # seconds per API request (connect and read)
    # Hops in front of this server whose X-Forwarded-For is believed (the TLS proxy): addresses,
    # networks or host names (src/trusted_hops.py). Empty: the TCP peer is the visitor.
    web_trusted_proxies: tuple[str, ...] = ()
    # Largest request body (a Dash callback's JSON) accepted; larger ones get 413.
    web_max_content_length: PositiveInt = 256 * 1024
    logo_dir: Path = BUNDLED_LOGOS  # <slug>.svg|png|webp|jpg files, served at /logos/
    log_level: LogLevel = "INFO"
    # Share of visitor sessions shown no suggested rating (the control group that measures anchoring).
    suggestion_control_share: Share = 0.1
    # gunicorn (src/dash/gunicorn_conf.py) and the development server.
    web_host: str = "127.0.0.1"
    web_port: PositiveInt = 8050
    web_workers: PositiveInt = 1
    web_threads: PositiveInt = 8
    web_timeout: PositiveInt = 30

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, overrides: Mapping[str, Any] | None = None
    ) -> WebSettings:
        """Settings from environment variables, then `overrides` (keys: variable or field names)."""
        return cls._from_mapping(os.environ if environ is None else environ, overrides)

    @field_validator("api_url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        parsed = urlparse(url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError(f"{url!r} is not an http(s) URL")
        return url.rstrip("/")

    @field_validator("web_trusted_proxies", mode="before")
    @classmethod
    def _trusted_hops(cls, value: Any) -> Any:
        return parse_hops(value) if isinstance(value, str | list | tuple) else value

    @field_validator("logo_dir")
    @classmethod
    def _expand_user(cls, path: Path) -> Path:
        return path.expanduser()


def current_settings() -> WebSettings:
    """The settings of the current app (inside a Dash callback or Flask request)."""
    return current_app.extensions[EXTENSION]
