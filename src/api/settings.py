"""Every setting of the API, read from the environment in this one place.

Each setting has a safe default, so the app runs with no configuration at all: SQLite in
`instance/` under the working directory, the bundled model, admin endpoints disabled. The
environment variable of a field is its name in upper case (`database_url` -> `DATABASE_URL`).
`create_app(overrides)` layers an explicit mapping on top of the environment.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from brandpulse.training.checkpoint import BUNDLED_CHECKPOINT
from brandpulse.training.runtime import available_cpus, cpu_has_native_bf16

DATABASE_SCHEMES = ("sqlite", "postgres", "postgresql", "postgres+pool", "postgresql+pool")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
MIN_ADMIN_TOKEN_LENGTH = 16
BF16_CHOICES = ("auto", "true", "false")


class SettingsError(ValueError):
    """A setting with a value that cannot be used; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    """The API's configuration (see docs/api.md for the table of variables)."""

    # Storage and model.
    data_dir: Path = field(default_factory=lambda: Path("instance"))
    database_url: str = ""  # empty: sqlite:///<data_dir>/brandpulse.sqlite3
    model_path: Path = BUNDLED_CHECKPOINT  # served until the registry names a champion
    model_dir: Path | None = None  # registry checkpoints; None: <data_dir>/models
    model_poll_seconds: float = 10.0  # how often each process checks the registry's champion
    torch_threads: int = 0  # 0: the cores shared out among the gunicorn workers
    model_bf16: str = "auto"  # bfloat16 autocast for the CNN: auto (where the CPU has it), true, false
    # Security.
    admin_token: str = ""  # empty: admin endpoints disabled
    trusted_proxies: tuple[str, ...] = ()  # addresses or networks whose X-Forwarded-For is believed
    # Request limits.
    max_content_length: int = 1024 * 1024
    review_min_length: int = 15
    review_max_length: int = 10_000
    predict_batch_max: int = 32
    page_size_default: int = 20
    page_size_max: int = 100
    # Rate limits ("N/second|minute|hour|day", several separated by ";"; empty disables).
    rate_limit_predict: str = "600/minute"  # live scoring sends up to ~4 a second while typing
    rate_limit_predict_batch: str = "30/minute"
    rate_limit_review: str = "30/minute"
    rate_limit_default: str = "600/minute"
    rate_limit_storage_uri: str = "memory://"
    # Database connections (PostgreSQL pool, per process).
    db_max_connections: int = 8
    db_pool_timeout: float = 10.0
    db_stale_timeout: int = 300
    db_connect_timeout: int = 5
    # Logging and metrics.
    log_level: str = "INFO"
    prometheus_multiproc_dir: str = ""
    # gunicorn.
    api_host: str = "127.0.0.1"
    api_port: int = 5000
    web_concurrency: int = 0  # 0: one worker per available CPU (`workers`)
    gunicorn_threads: int = 4
    gunicorn_timeout: int = 60
    gunicorn_preload: bool = True
    # Learning from the stored reviews (`retrain`, docs/learning_loop.md).
    shadow_share: float = 0.0  # share of live predictions also scored by the newest candidate
    retrain_base_corpus: Path = field(default_factory=lambda: Path("data/reviews.csv"))
    retrain_schedule: str = "0 3 * * *"  # cron expression of `retrain --schedule`
    retrain_min_reviews: int = 200  # usable stored reviews needed before a round trains anything
    retrain_min_chars: int = 20  # shorter reviews say too little to learn from
    retrain_max_per_client_day: int = 20  # reviews one client address may contribute per day
    retrain_recent_share: float = 0.2  # newest share of reviews held out to judge the challenger
    retrain_feedback_share: float = 0.5  # share of the training weight given to the stored reviews
    retrain_kept_weight: str = "auto"  # weight of a kept suggestion: auto (control group) or 0-1
    retrain_margin: float = 0.01  # band accuracy the challenger must gain on the recent reviews
    retrain_tolerance: float = 0.02  # band accuracy it may lose on the fixed held-out test
    retrain_fixed_test_rows: int = 4000  # rows of the fixed test measured (seeded sample)
    retrain_cnn_epochs: int = 1
    retrain_threads: int = 0  # torch threads of a round; 0: every available CPU

    def __post_init__(self) -> None:
        if not self.database_url:
            default_url = f"sqlite:///{(self.data_dir.resolve() / 'brandpulse.sqlite3').as_posix()}"
            object.__setattr__(self, "database_url", default_url)
        if self.model_dir is None:
            object.__setattr__(self, "model_dir", self.data_dir / "models")
        if not 0 < self.model_poll_seconds <= 30:
            raise SettingsError(
                f"MODEL_POLL_SECONDS: must be above 0 and at most 30, got {self.model_poll_seconds}"
            )
        scheme = urlparse(self.database_url).scheme
        if scheme not in DATABASE_SCHEMES:
            raise SettingsError(f"DATABASE_URL: scheme {scheme!r} is not one of {DATABASE_SCHEMES}")
        if self.admin_token and len(self.admin_token) < MIN_ADMIN_TOKEN_LENGTH:
            raise SettingsError(f"ADMIN_TOKEN: use at least {MIN_ADMIN_TOKEN_LENGTH} characters")
        if self.log_level.upper() not in LOG_LEVELS:
            raise SettingsError(f"LOG_LEVEL: {self.log_level!r} is not one of {LOG_LEVELS}")
        object.__setattr__(self, "log_level", self.log_level.upper())
        for proxy in self.trusted_proxies:
            try:
                ipaddress.ip_network(proxy, strict=False)
            except ValueError:
                raise SettingsError(f"TRUSTED_PROXIES: {proxy!r} is not an address or network") from None
        positive = (
            "max_content_length",
            "review_max_length",
            "predict_batch_max",
            "page_size_default",
            "page_size_max",
            "db_max_connections",
            "db_connect_timeout",
            "api_port",
            "gunicorn_threads",
            "gunicorn_timeout",
        )
        for name in positive:
            if getattr(self, name) < 1:
                raise SettingsError(f"{name.upper()}: must be at least 1, got {getattr(self, name)}")
        for name in (
            "review_min_length",
            "torch_threads",
            "web_concurrency",
            "db_stale_timeout",
            "db_pool_timeout",
        ):
            if getattr(self, name) < 0:
                raise SettingsError(f"{name.upper()}: must not be negative, got {getattr(self, name)}")
        bf16 = self.model_bf16.strip().lower()
        if bf16 not in BF16_CHOICES:
            raise SettingsError(f"MODEL_BF16: {self.model_bf16!r} is not one of {BF16_CHOICES}")
        object.__setattr__(self, "model_bf16", bf16)
        for name in ("shadow_share", "retrain_recent_share", "retrain_margin", "retrain_tolerance"):
            if not 0 <= getattr(self, name) <= 1:
                raise SettingsError(f"{name.upper()}: must be between 0 and 1, got {getattr(self, name)}")
        if not 0 < self.retrain_recent_share < 1 or not 0 < self.retrain_feedback_share < 1:
            raise SettingsError("RETRAIN_RECENT_SHARE and RETRAIN_FEEDBACK_SHARE must be between 0 and 1")
        for name in ("retrain_min_reviews", "retrain_max_per_client_day", "retrain_fixed_test_rows"):
            if getattr(self, name) < 1:
                raise SettingsError(f"{name.upper()}: must be at least 1, got {getattr(self, name)}")
        if self.retrain_cnn_epochs < 0 or self.retrain_min_chars < 0 or self.retrain_threads < 0:
            raise SettingsError(
                "RETRAIN_CNN_EPOCHS, RETRAIN_MIN_CHARS and RETRAIN_THREADS must not be negative"
            )
        kept = self.retrain_kept_weight.strip().lower()
        if kept != "auto":
            try:
                valid = 0 <= float(kept) <= 1
            except ValueError:
                valid = False
            if not valid:
                raise SettingsError(f"RETRAIN_KEPT_WEIGHT: 'auto' or a number from 0 to 1, got {kept!r}")
        object.__setattr__(self, "retrain_kept_weight", kept)
        if self.review_min_length > self.review_max_length:
            raise SettingsError("REVIEW_MIN_LENGTH is larger than REVIEW_MAX_LENGTH")
        if self.page_size_default > self.page_size_max:
            raise SettingsError("PAGE_SIZE_DEFAULT is larger than PAGE_SIZE_MAX")

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, overrides: Mapping[str, Any] | None = None
    ) -> Settings:
        """Settings from environment variables, then `overrides` (keys: variable or field names).

        Keys of `overrides` that name no setting are ignored here (`create_app` passes them on to
        Flask's config).
        """
        environ = os.environ if environ is None else environ
        overrides = overrides or {}
        values: dict[str, Any] = {}
        for item in fields(cls):
            env_name = item.name.upper()
            if env_name in overrides or item.name in overrides:
                raw = overrides[env_name] if env_name in overrides else overrides[item.name]
            elif env_name in environ:
                raw = environ[env_name]
            else:
                continue
            values[item.name] = _convert(item, raw)
        return cls(**values)

    @property
    def inference_bf16(self) -> bool:
        """Whether the CNN runs under bfloat16 autocast: MODEL_BF16, `auto` asking the CPU."""
        if self.model_bf16 == "auto":
            return cpu_has_native_bf16()
        return self.model_bf16 == "true"

    @property
    def workers(self) -> int:
        """gunicorn worker processes: WEB_CONCURRENCY, else one per available CPU."""
        return self.web_concurrency or available_cpus()

    @property
    def inference_threads(self) -> int:
        """Torch threads per process: TORCH_THREADS, else the CPUs shared out among the workers."""
        return self.torch_threads or max(1, available_cpus() // self.workers)

    def replace(self, **changes: Any) -> Settings:
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    def flask_config(self) -> dict[str, Any]:
        """The Flask configuration keys these settings imply."""
        return {
            "MAX_CONTENT_LENGTH": self.max_content_length,
            "MAX_FORM_MEMORY_SIZE": self.max_content_length,
        }


SETTING_NAMES = frozenset(name for item in fields(Settings) for name in (item.name, item.name.upper()))


def _convert(item: dataclasses.Field, raw: Any) -> Any:
    """Turn an environment string (or an already typed override) into the field's type."""
    kind = item.type
    name = item.name.upper()
    if not isinstance(raw, str):
        if kind == "tuple[str, ...]" and isinstance(raw, list | tuple):
            return tuple(str(part) for part in raw)
        if kind in ("Path", "Path | None") and isinstance(raw, os.PathLike):
            return Path(raw)
        return raw
    text = raw.strip()
    try:
        if kind == "int":
            return int(text)
        if kind == "float":
            return float(text)
    except ValueError:
        raise SettingsError(f"{name}: expected a number, got {raw!r}") from None
    if kind == "bool":
        if text.lower() in ("1", "true", "yes", "on"):
            return True
        if text.lower() in ("0", "false", "no", "off", ""):
            return False
        raise SettingsError(f"{name}: expected true or false, got {raw!r}")
    if kind == "Path | None" and not text:
        return None
    if kind in ("Path", "Path | None"):
        return Path(text).expanduser()
    if kind == "tuple[str, ...]":
        return tuple(part.strip() for part in text.split(",") if part.strip())
    return text
