"""Every setting of the API, read from the environment in this one place.

Each setting has a safe default, so the app runs with no configuration at all: SQLite in
`instance/` under the working directory, the bundled model, admin endpoints disabled. The
environment variable of a field is its name in upper case (`database_url` -> `DATABASE_URL`); an
empty value means the default (the rules both services share: `brandpulse/env_settings.py`).
`create_app(overrides)` layers an explicit mapping on top of the environment.

Importing this module loads no torch (gunicorn's configuration imports it to size the workers):
the bundled checkpoint's path and the CPU facts come from torch-free modules.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from flask import Flask, current_app
from pydantic import (
    Field,
    NonNegativeFloat,
    NonNegativeInt,
    PositiveInt,
    ValidationInfo,
    field_validator,
    model_validator,
)

from brandpulse.env_settings import EnvSettings, LogLevel, Share
from brandpulse.env_settings import SettingsError as SettingsError  # raised by from_env, for callers
from brandpulse.model.hardware import available_cpus, cpu_has_native_bf16
from brandpulse.model.paths import BUNDLED_CHECKPOINT
from brandpulse.trusted_hops import parse_hops

DATABASE_SCHEMES = ("sqlite", "postgres", "postgresql", "postgres+pool", "postgresql+pool")
MIN_ADMIN_TOKEN_LENGTH = 16
BF16_CHOICES = ("auto", "true", "false")
RATE_LIMIT_OFF = "off"  # the value that switches a rate limit off
# Words of the examples' placeholder secrets (.env.example, deploy/k8s/base/secret.example.yaml):
# a token containing one was copied, not generated, and is refused.
PLACEHOLDER_WORDS = ("change-me", "changeme", "change_me", "replace-me", "placeholder", "example", "your-")
MIN_DISTINCT_SECRET_CHARACTERS = 8  # "aaaaaaaaaaaaaaaa" is 16 characters long and no secret


def is_placeholder(secret: str) -> bool:
    """Whether `secret` reads like an example's placeholder rather than a generated secret."""
    lowered = secret.lower()
    return (
        any(word in lowered for word in PLACEHOLDER_WORDS)
        or len(set(secret)) < MIN_DISTINCT_SECRET_CHARACTERS
    )


class Settings(EnvSettings):
    """The API's configuration (see docs/api.md for the table of variables)."""

    # Storage and model.
    data_dir: Path = Path("instance")
    database_url: str = Field("", validate_default=True)  # empty: sqlite:///<data_dir>/brandpulse.sqlite3
    model_path: Path = BUNDLED_CHECKPOINT  # served until the registry names a champion
    model_dir: Path | None = Field(
        None, validate_default=True
    )  # registry checkpoints; None: <data_dir>/models
    model_poll_seconds: float = Field(
        10.0, gt=0, le=30
    )  # how often each process checks the registry's champion
    torch_threads: NonNegativeInt = 0  # 0: the cores shared out among the gunicorn workers
    model_bf16: str = "auto"  # bfloat16 autocast for the CNN: auto (where the CPU has it), true, false
    # Security.
    admin_token: str = ""  # empty: admin endpoints disabled
    # Key of the prediction tokens and the client pseudonyms (src/api/signing.py); empty: a random
    # key kept in <data_dir>/secret_key. Set it wherever several machines share one database.
    secret_key: str = ""
    # Hops whose X-Forwarded-For is believed: addresses, networks or host names (the web server, the
    # TLS proxy: src/trusted_hops.py). Empty: the TCP peer is the client.
    trusted_proxies: tuple[str, ...] = ()
    # Request limits.
    max_content_length: PositiveInt = 1024 * 1024
    review_min_length: NonNegativeInt = 15
    review_max_length: PositiveInt = 10_000
    predict_batch_max: PositiveInt = (
        32  # texts per forward pass (a batch request, or waiting requests joined)
    )
    # How long a pass waits for more predictions to join it (only while others are arriving); 0: never.
    predict_batch_wait_ms: float = Field(5.0, ge=0, le=100)
    predict_queue_max: PositiveInt = 64  # texts waiting for the model per worker; past it, 503 + Retry-After
    predict_queue_max_wait_ms: PositiveInt = 250  # ... or once the texts waiting need longer than this
    idempotency_ttl_hours: PositiveInt = 24  # how long an Idempotency-Key of POST /api/review is remembered
    page_size_default: PositiveInt = 20
    page_size_max: PositiveInt = 100
    # Rate limits ("N/second|minute|hour|day", several separated by ";"; "off" disables).
    rate_limit_predict: str = "600/minute"  # live scoring sends up to ~4 a second while typing
    rate_limit_predict_batch: str = "30/minute"
    rate_limit_review: str = "30/minute"
    rate_limit_default: str = "600/minute"
    # Calls a trusted hop makes of its own (the web server's brand list, with no visitor address).
    rate_limit_service: str = "6000/minute"
    rate_limit_storage_uri: str = "memory://"
    # Database connections (PostgreSQL pool, per process).
    db_max_connections: PositiveInt = 8
    db_pool_timeout: NonNegativeFloat = 10.0
    db_stale_timeout: NonNegativeInt = 300
    db_connect_timeout: PositiveInt = 5
    # Logging and metrics.
    log_level: LogLevel = "INFO"
    prometheus_multiproc_dir: str = ""
    # gunicorn.
    api_host: str = "127.0.0.1"
    api_port: PositiveInt = 5000
    web_concurrency: NonNegativeInt = 0  # 0: one worker per available CPU (`workers`)
    gunicorn_threads: NonNegativeInt = 0  # 0: room for a full prediction queue and a pass, plus 8 (`threads`)
    gunicorn_timeout: PositiveInt = 60
    gunicorn_preload: bool = True
    # Personal data (docs/privacy.md): days an IP address and user agent are kept with a review.
    personal_data_retention_days: PositiveInt = 90
    personal_data_schedule: str = "30 2 * * *"  # cron expression of `flask privacy expire --schedule`
    # Learning from the stored reviews (`retrain`, docs/learning_loop.md).
    shadow_share: Share = 0.0  # share of live predictions also scored by the newest candidate
    retrain_base_corpus: Path = Path("data/reviews.csv")
    retrain_schedule: str = "0 3 * * *"  # cron expression of `retrain --schedule`
    retrain_min_reviews: PositiveInt = 200  # usable stored reviews needed before a round trains anything
    retrain_min_chars: NonNegativeInt = 20  # shorter reviews say too little to learn from
    retrain_max_per_client_day: PositiveInt = 20  # reviews one client address may contribute per day
    retrain_recent_share: float = Field(0.2, gt=0, lt=1)  # newest share held out to judge the challenger
    retrain_feedback_share: float = Field(0.3, gt=0, lt=1)  # share of the training weight of stored reviews
    retrain_kept_weight: str = "auto"  # weight of a kept suggestion: auto (control group) or 0-1
    retrain_margin: Share = 0.01  # band accuracy the challenger must gain on the recent reviews
    retrain_tolerance: Share = 0.02  # balanced band accuracy, score correlation it may lose (fixed test)
    retrain_band_tolerance: Share = 0.05  # recall of any one band it may lose on the fixed test
    retrain_fixed_test_rows: PositiveInt = 4000  # rows of the fixed test measured (seeded sample)
    # Stored reviews whose texts a round learns from and is judged on, at most (a seeded sample).
    retrain_max_feedback_rows: PositiveInt = 20_000
    retrain_cnn_epochs: NonNegativeInt = 1
    retrain_threads: NonNegativeInt = 0  # torch threads of a round; 0: every available CPU

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, overrides: Mapping[str, Any] | None = None
    ) -> Settings:
        """Settings from environment variables, then `overrides` (keys: variable or field names).

        Keys of `overrides` that name no setting are ignored here (`create_app` passes them on to
        Flask's config).
        """
        return cls._from_mapping(os.environ if environ is None else environ, overrides)

    @field_validator("data_dir", "model_path", "model_dir", "retrain_base_corpus")
    @classmethod
    def _expand_user(cls, path: Path | None) -> Path | None:
        return None if path is None else path.expanduser()

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, url: str, info: ValidationInfo) -> str:
        if not url:
            data_dir = info.data.get("data_dir", Path("instance"))
            return f"sqlite:///{(data_dir.resolve() / 'brandpulse.sqlite3').as_posix()}"
        scheme = urlparse(url).scheme
        if scheme not in DATABASE_SCHEMES:
            raise ValueError(f"scheme {scheme!r} is not one of {DATABASE_SCHEMES}")
        return url

    @field_validator("model_dir")
    @classmethod
    def _model_dir(cls, model_dir: Path | None, info: ValidationInfo) -> Path:
        return info.data.get("data_dir", Path("instance")) / "models" if model_dir is None else model_dir

    @field_validator("model_bf16")
    @classmethod
    def _model_bf16(cls, value: str) -> str:
        if value.lower() not in BF16_CHOICES:
            raise ValueError(f"{value!r} is not one of {BF16_CHOICES}")
        return value.lower()

    @field_validator("admin_token", "secret_key")
    @classmethod
    def _secret(cls, token: str) -> str:
        if token and len(token) < MIN_ADMIN_TOKEN_LENGTH:
            raise ValueError(f"use at least {MIN_ADMIN_TOKEN_LENGTH} characters")
        if token and is_placeholder(token):
            raise ValueError("this is a placeholder, not a secret: use e.g. `openssl rand -hex 32`")
        return token

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _trusted_hops(cls, value: Any) -> Any:
        return parse_hops(value) if isinstance(value, str | list | tuple) else value

    @field_validator(
        "rate_limit_predict",
        "rate_limit_predict_batch",
        "rate_limit_review",
        "rate_limit_default",
        "rate_limit_service",
    )
    @classmethod
    def _rate_limit(cls, value: str) -> str:
        return RATE_LIMIT_OFF if value.lower() == RATE_LIMIT_OFF else value  # checked by ratelimit.py

    @field_validator("retrain_kept_weight")
    @classmethod
    def _kept_weight(cls, value: str) -> str:
        kept = value.lower()
        if kept != "auto":
            try:
                valid = 0 <= float(kept) <= 1
            except ValueError:
                valid = False
            if not valid:
                raise ValueError(f"'auto' or a number from 0 to 1, got {kept!r}")
        return kept

    @model_validator(mode="after")
    def _ranges(self) -> Settings:
        if self.review_min_length > self.review_max_length:
            raise ValueError("REVIEW_MIN_LENGTH is larger than REVIEW_MAX_LENGTH")
        if self.page_size_default > self.page_size_max:
            raise ValueError("PAGE_SIZE_DEFAULT is larger than PAGE_SIZE_MAX")
        return self

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

    @property
    def threads(self) -> int:
        """gunicorn threads per worker: GUNICORN_THREADS, else PREDICT_QUEUE_MAX + PREDICT_BATCH_MAX + 8.

        A prediction holds its request thread while it waits for a pass, so a worker needs a
        thread for every text its queue and its running pass may hold, or the queue's bound (and
        its 503) is never reached and requests wait unseen in gunicorn instead; the 8 more keep
        health checks and reviews moving when the queue is full.
        """
        return self.gunicorn_threads or self.predict_queue_max + self.predict_batch_max + 8

    def flask_config(self) -> dict[str, Any]:
        """The Flask configuration keys these settings imply."""
        return {
            "MAX_CONTENT_LENGTH": self.max_content_length,
            "MAX_FORM_MEMORY_SIZE": self.max_content_length,
        }


SETTING_NAMES = frozenset(name for field in Settings.model_fields for name in (field, field.upper()))

EXTENSION = "brandpulse.settings"  # where create_app keeps an app's Settings


def current_settings(app: Flask | None = None) -> Settings:
    """The settings of `app` (default: the app of the current request or command)."""
    return (app or current_app).extensions[EXTENSION]
