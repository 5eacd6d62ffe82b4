"""The model behind the API: the training package's `Predictor`, loaded once per process.

The checkpoint is loaded on first use (or ahead of time by gunicorn's hooks, see
`gunicorn_conf.py`), never at import. Loaded predictors are shared by every app of the process
that names the same unchanged file. One forward pass runs at a time per process: the pass
already uses every torch thread, so running two at once only makes both slower.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from flask import Flask, current_app

from brandpulse.api.settings import Settings
from brandpulse.training.checkpoint import CheckpointError
from brandpulse.training.predictor import Predictor
from brandpulse.training.runtime import use_threads

logger = logging.getLogger(__name__)

EXTENSION = "brandpulse.model"
RETRY_SECONDS = 10.0  # after a failed load, wait this long before trying the file again

_cache: dict[tuple[str, int, int], Predictor] = {}  # (path, mtime_ns, size) -> predictor
_cache_lock = threading.Lock()


class ModelUnavailable(RuntimeError):
    """The model cannot be loaded (missing or corrupt checkpoint); the API answers 503."""


def _load_shared(path: Path) -> Predictor:
    """A predictor for `path`, loaded once per process while the file is unchanged."""
    try:
        stat = path.stat()
    except OSError as error:
        raise CheckpointError(f"{path}: {error.strerror}") from None
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    with _cache_lock:
        if key not in _cache:
            _cache[key] = Predictor.from_checkpoint(path)
        return _cache[key]


class ModelService:
    """Loads the model lazily and runs predictions one batch at a time."""

    def __init__(
        self, path: Path, threads: int = 0, observe: Callable[[float, int], None] | None = None
    ) -> None:
        self.path = Path(path)
        self.threads = threads
        self.observe = observe  # called with (seconds, batch size) after each prediction
        self._predictor: Predictor | None = None
        self._error: str | None = None
        self._failed_at = float("-inf")
        self._load_lock = threading.Lock()
        self._run_lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        """Whether the model is in memory."""
        return self._predictor is not None

    @property
    def version(self) -> str | None:
        """The loaded model's version, or None before it is loaded."""
        return self._predictor.version if self._predictor else None

    def get(self) -> Predictor:
        """The predictor, loading it on first use; `ModelUnavailable` if it cannot be loaded."""
        if self._predictor is not None:
            return self._predictor
        with self._load_lock:
            if self._predictor is None:
                if time.monotonic() - self._failed_at < RETRY_SECONDS:
                    raise ModelUnavailable(self._error or "the model is unavailable")
                try:
                    if self.threads:
                        use_threads(self.threads)
                    predictor = _load_shared(self.path)
                except (CheckpointError, OSError) as error:
                    self._failed_at = time.monotonic()
                    self._error = f"cannot load the model: {error}"
                    logger.error("%s", self._error)
                    raise ModelUnavailable(self._error) from None
                logger.info("model %s loaded from %s", predictor.version, self.path)
                self._predictor = predictor
        return self._predictor

    def predict(self, texts: Sequence[str]) -> list[dict[str, Any]]:
        """Label, probabilities, score, suggested rating and model version for each text."""
        predictor = self.get()
        with self._run_lock:
            start = time.perf_counter()
            results = predictor.predict(list(texts))
            elapsed = time.perf_counter() - start
        if self.observe is not None:
            self.observe(elapsed, len(results))
        for result in results:
            result["model_version"] = predictor.version
        return results


def init_app(app: Flask, settings: Settings) -> None:
    """Attach the (not yet loaded) model to the app."""
    metrics = app.extensions.get("brandpulse.metrics")
    app.extensions[EXTENSION] = ModelService(
        settings.model_path, settings.torch_threads, observe=metrics.observe_prediction if metrics else None
    )


def get_model(app: Flask | None = None) -> ModelService:
    """The model service of `app` (default: the current app)."""
    return (app or current_app).extensions[EXTENSION]
