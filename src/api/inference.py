"""The model behind the API: the training package's `Predictor`, loaded once per process.

The checkpoint is loaded on first use (or ahead of time by gunicorn's hooks, see
`gunicorn_conf.py`), never at import. Loaded predictors are shared by every app of the process
that names the same unchanged file.

Threads. Every forward pass of a process runs on one dedicated inference thread, with the
process's share of the cores as torch threads, and the model is loaded with a single torch
thread. PyTorch's OpenMP runtime keeps a team of worker threads for each thread that starts a
parallel region, and once there are more such threads than cores its workers stop spin-waiting
and sleep in the kernel between the many short parallel regions of a forward pass: measured
here, a pass from a request thread after a load with two threads took 2.4x as long as from
the loading thread. A team formed before gunicorn forks can also hang the workers. One
inference thread also means one pass at a time: a pass already uses every torch thread, so two
at once only make both slower.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from flask import Flask, current_app

from brandpulse.api.settings import Settings
from brandpulse.training.checkpoint import CheckpointError
from brandpulse.training.predictor import Predictor
from brandpulse.training.runtime import use_threads

logger = logging.getLogger(__name__)

EXTENSION = "brandpulse.model"
RETRY_SECONDS = 10.0  # after a failed load, wait this long before trying the file again

_cache: dict[tuple[str, int, int, bool], Predictor] = {}  # (path, mtime_ns, size, bf16) -> predictor
_cache_lock = threading.Lock()


class ModelUnavailable(RuntimeError):
    """The model cannot be loaded (missing or corrupt checkpoint); the API answers 503."""


@contextmanager
def _one_torch_thread() -> Iterator[None]:
    """Run the block with one torch thread (no OpenMP team is formed), then restore the count."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _load_shared(path: Path, bf16: bool) -> Predictor:
    """A predictor for `path`, loaded once per process while the file is unchanged."""
    try:
        stat = path.stat()
    except OSError as error:
        raise CheckpointError(f"{path}: {error.strerror}") from None
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size, bf16)
    with _cache_lock:
        if key not in _cache:
            with _one_torch_thread():
                _cache[key] = Predictor.from_checkpoint(path, bf16=bf16)
        return _cache[key]


class ModelService:
    """Loads the model lazily and runs predictions one batch at a time on its inference thread."""

    def __init__(
        self,
        path: Path,
        threads: int = 1,
        observe: Callable[[float, int], None] | None = None,
        bf16: bool = False,
    ) -> None:
        self.path = Path(path)
        self.threads = threads  # torch threads of the inference thread
        self.bf16 = bf16  # bfloat16 autocast for the CNN
        self.observe = observe  # called with (seconds, batch size) after each prediction
        self._predictor: Predictor | None = None
        self._error: str | None = None
        self._failed_at = float("-inf")
        self._load_lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None
        self._executor_pid = 0

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
                    predictor = _load_shared(self.path, self.bf16)
                except (CheckpointError, OSError) as error:
                    self._failed_at = time.monotonic()
                    self._error = f"cannot load the model: {error}"
                    logger.error("%s", self._error)
                    raise ModelUnavailable(self._error) from None
                precision = "bfloat16 autocast" if self.bf16 else "float32"
                logger.info("model %s loaded from %s (%s)", predictor.version, self.path, precision)
                self._predictor = predictor
        return self._predictor

    def _inference_thread(self) -> ThreadPoolExecutor:
        """This process's inference thread, started on first use (after any fork)."""
        with self._load_lock:
            if self._executor is None or self._executor_pid != os.getpid():
                self._executor = ThreadPoolExecutor(
                    max_workers=1,
                    thread_name_prefix="inference",
                    initializer=use_threads,
                    initargs=(self.threads,),
                )
                self._executor_pid = os.getpid()
            return self._executor

    def predict(self, texts: Sequence[str]) -> list[dict[str, Any]]:
        """Label, probabilities, score, suggested rating and model version for each text."""
        predictor = self.get()

        def run() -> tuple[list[dict[str, Any]], float]:
            start = time.perf_counter()
            return predictor.predict(list(texts)), time.perf_counter() - start

        results, elapsed = self._inference_thread().submit(run).result()
        if self.observe is not None:
            self.observe(elapsed, len(results))
        for result in results:
            result["model_version"] = predictor.version
        return results


def init_app(app: Flask, settings: Settings) -> None:
    """Attach the (not yet loaded) model to the app."""
    metrics = app.extensions.get("brandpulse.metrics")
    app.extensions[EXTENSION] = ModelService(
        settings.model_path,
        settings.inference_threads,
        observe=metrics.observe_prediction if metrics else None,
        bf16=settings.inference_bf16,
    )


def get_model(app: Flask | None = None) -> ModelService:
    """The model service of `app` (default: the current app)."""
    return (app or current_app).extensions[EXTENSION]
