"""The model behind the API: the model package's `Predictor`, loaded once per process.

The checkpoint is loaded on first use (or ahead of time by gunicorn's hooks, see
`gunicorn_conf.py`), never at import. Loaded predictors are shared by every app of the process
that names the same unchanged file.

Which checkpoint: the registry's champion (`registry.py`), else `MODEL_PATH`. The first load
reads the registry once; from then on a watcher thread of each process polls it every
`MODEL_POLL_SECONDS` and, when the champion changes, loads the new model on that thread, off
the request path, then swaps it in with one reference assignment. A request keeps the
predictor it started with, so nothing fails or stalls during a swap, and every prediction
names the version that made it. A champion that cannot be loaded is logged and retried; the
model in memory keeps serving.

A champion is loaded only if its file's SHA-256 is the one registered (at start-up as on a
swap): a checkpoint replaced in MODEL_DIR after an admin promoted it is refused with an error
naming the file and both hashes, and, as for any champion that cannot be loaded, `MODEL_PATH`
is served meanwhile (at start-up) or the model in memory keeps serving (on a swap).

Threads. Every forward pass of a process runs on one dedicated inference thread, with the
process's share of the cores as torch threads, and the model is loaded with a single torch
thread. PyTorch's OpenMP runtime keeps a team of worker threads for each thread that starts a
parallel region, and once there are more such threads than cores its workers stop spin-waiting
and sleep in the kernel between the many short parallel regions of a forward pass, which makes
every pass slower (docs/performance.md, "One inference thread"). A team formed before gunicorn
forks can also hang the workers. One
inference thread also means one pass at a time: a pass already uses every torch thread, so two
at once only make both slower. The requests waiting meanwhile share the next pass
(`batching.py`: up to PREDICT_BATCH_MAX texts, a bounded queue, 503 past it).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from flask import Flask, current_app

from brandpulse.api.serving.batching import MicroBatcher
from brandpulse.api.serving.shadow import ShadowScorer
from brandpulse.api.settings import Settings
from brandpulse.api.storage.registry import Champion, ChangedCheckpoint, read_candidate, read_champion
from brandpulse.model.checkpoint import CheckpointError
from brandpulse.model.predictor import Predictor
from brandpulse.model.runtime import use_threads
from brandpulse.model.scoring import suggested_rating

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


def _cache_key(path: Path, bf16: bool) -> tuple[str, int, int, bool]:
    try:
        stat = path.stat()
    except OSError as error:
        raise CheckpointError(f"{path}: {error.strerror}") from None
    return (str(path.resolve()), stat.st_mtime_ns, stat.st_size, bf16)


def _load_shared(path: Path, bf16: bool) -> Predictor:
    """A predictor for `path`, loaded once per process while the file is unchanged."""
    key = _cache_key(path, bf16)
    with _cache_lock:
        if key not in _cache:
            with _one_torch_thread():
                _cache[key] = Predictor.from_checkpoint(path, bf16=bf16)
        return _cache[key]


def _forget(predictor: Predictor) -> None:
    """Drop a swapped-out predictor from the cache, so replaced models do not pile up."""
    with _cache_lock:
        for key in [key for key, cached in _cache.items() if cached is predictor]:
            del _cache[key]


class ModelService:
    """Loads the model lazily and runs predictions one batch at a time on its inference thread."""

    def __init__(
        self,
        path: Path,
        threads: int = 1,
        observe: Callable[[float, int], None] | None = None,
        bf16: bool = False,
        champion: Callable[[], Champion | None] | None = None,
        poll_seconds: float = 10.0,
        shadow: ShadowScorer | None = None,
        batch_max: int = 32,
        batch_wait_seconds: float = 0.002,
        queue_max: int = 64,
        queue_max_wait_seconds: float = 0.25,
        observe_batch: Callable[[int, int], None] | None = None,
        min_length: int = 0,
    ) -> None:
        self.path = Path(path)  # served when there is no champion
        self.min_length = min_length  # shorter texts are no usable suggestion (`reliable` false)
        self.threads = threads  # torch threads of the inference thread
        self.bf16 = bf16  # bfloat16 autocast for the CNN
        self.observe = observe  # called with (seconds, batch size) after each prediction
        self.champion = champion  # reads the registry's champion; None: always `path`
        self.poll_seconds = poll_seconds
        self.shadow = shadow  # scores a share of predictions with the newest candidate too
        self._predictor: Predictor | None = None
        self._served_path: Path | None = None
        self._failed_path: Path | None = None  # the champion that last failed to load
        self._swap_lock = threading.Lock()
        self._error: str | None = None
        self._failed_at = float("-inf")
        self._load_lock = threading.Lock()
        self.batcher = MicroBatcher(
            self._run_pass,
            batch_max=batch_max,
            wait_seconds=batch_wait_seconds,
            queue_max=queue_max,
            max_wait_seconds=queue_max_wait_seconds,
            start_thread=lambda: use_threads(self.threads),
            observe_batch=observe_batch,
        )
        self._watcher: threading.Thread | None = None
        self._watcher_pid = 0
        self._stop = threading.Event()

    @property
    def loaded(self) -> bool:
        """Whether the model is in memory."""
        return self._predictor is not None

    @property
    def version(self) -> str | None:
        """The loaded model's version, or None before it is loaded."""
        return self._predictor.version if self._predictor else None

    @property
    def served_path(self) -> Path | None:
        """The checkpoint file the loaded model came from, or None before it is loaded."""
        return self._served_path

    def get(self, watch: bool = True) -> Predictor:
        """The predictor, loading it on first use; `ModelUnavailable` if it cannot be loaded.

        `watch`: start this process's registry watcher too (not in a process about to fork).
        """
        if self._predictor is not None:
            if watch:
                self._start_watcher()
            return self._predictor
        with self._load_lock:
            if self._predictor is None:
                if time.monotonic() - self._failed_at < RETRY_SECONDS:
                    raise ModelUnavailable(self._error or "the model is unavailable")
                target = self._target()
                wanted, expected = target.path, target.version or None
                try:
                    predictor, path = self._first_load(target)
                except (CheckpointError, OSError) as error:
                    self._failed_at = time.monotonic()
                    self._error = f"cannot load the model: {error}"
                    logger.error("%s", self._error)
                    raise ModelUnavailable(self._error) from None
                if expected is not None and path == wanted and predictor.version != expected:
                    logger.warning("%s holds %s, not the registered %s", path, predictor.version, expected)
                precision = "bfloat16 autocast" if self.bf16 else "float32"
                logger.info("model %s loaded from %s (%s)", predictor.version, path, precision)
                self._predictor, self._served_path = predictor, path
        if watch:
            self._start_watcher()
        return self._predictor

    def _first_load(self, target: Champion) -> tuple[Predictor, Path]:
        """Load the target; if that is the champion and it fails, `MODEL_PATH` rather than nothing.

        A champion whose file is not the registered one is refused even where it is `MODEL_PATH`
        itself: it is then served as the configured model, under its own version, not as the
        champion. Returns the predictor and the path it came from (the watcher retries the
        champion).
        """
        path = target.path
        try:
            target.verify()
            return _load_shared(path, self.bf16), path
        except ChangedCheckpoint as error:
            logger.error(
                "refusing the champion %s: %s; serving MODEL_PATH %s", target.version, error, self.path
            )
        except (CheckpointError, OSError) as error:
            if path == self.path:
                raise
            logger.error("cannot load the champion (%s); serving %s until it can be", error, self.path)
        self._failed_at, self._failed_path = time.monotonic(), path
        return _load_shared(self.path, self.bf16), self.path

    def _target(self) -> Champion:
        """The checkpoint to serve, with its registered version and hash: the champion, else
        `path` (with neither: nothing to check it against)."""
        unregistered = Champion("", self.path)
        if self.champion is None:
            return unregistered
        try:
            champion = self.champion()
        except Exception as error:  # a database that is down or not upgraded must not stop serving
            logger.warning("cannot read the model registry (%s); serving %s", error, self.path)
            return unregistered
        return champion or unregistered

    def _start_watcher(self) -> None:
        """This process's registry watcher, started after the first load (and after any fork)."""
        if self.champion is None or (self._watcher is not None and self._watcher_pid == os.getpid()):
            return
        with self._load_lock:
            if self._watcher is None or self._watcher_pid != os.getpid():
                self._stop = threading.Event()
                self._watcher = threading.Thread(target=self._watch, name="model-watcher", daemon=True)
                self._watcher_pid = os.getpid()
                self._watcher.start()

    def _watch(self) -> None:
        """Poll the registry; load a new champion off the request path, then swap it in."""
        if self.shadow is not None:
            self.shadow.refresh()
        while not self._stop.wait(self.poll_seconds):
            try:
                self.refresh()
                if self.shadow is not None:
                    self.shadow.refresh()
            except Exception:  # the watcher must outlive any one failure
                logger.exception("model registry check failed")

    def refresh(self) -> bool:
        """Serve the registry's current champion (or `path`); True if the served model changed."""
        with self._swap_lock:
            return self._refresh()

    def _refresh(self) -> bool:
        target = self._target()
        path, expected = target.path, target.version or None
        current = self._predictor
        if current is not None and path == self._served_path and expected in (None, current.version):
            return False
        if path == self._failed_path and time.monotonic() - self._failed_at < RETRY_SECONDS:
            return False
        try:
            target.verify()
            predictor = _load_shared(path, self.bf16)
        except (CheckpointError, OSError) as error:
            self._failed_at, self._failed_path = time.monotonic(), path
            logger.error("cannot load the champion: %s; still serving %s", error, self.version)
            return False
        if expected is not None and predictor.version != expected:
            self._failed_at, self._failed_path = time.monotonic(), path
            logger.error(
                "%s holds %s, not the champion %s; still serving %s",
                path,
                predictor.version,
                expected,
                self.version,
            )
            if predictor is not current:
                _forget(predictor)
            return False
        self._predictor, self._served_path = predictor, path  # the swap: one assignment
        logger.info(
            "model swapped: %s -> %s (%s)", current.version if current else None, predictor.version, path
        )
        if current is not None and current is not predictor:
            _forget(current)
        return True

    def close(self) -> None:
        """Stop the registry watcher (tests, shutdown)."""
        self._stop.set()

    def _run_pass(self, texts: list[str]) -> tuple[list[dict[str, Any]], str]:
        """One forward pass on the inference thread, with the model served at that moment."""
        predictor = self.get()
        start = time.perf_counter()
        results = predictor.predict(texts, self.min_length)
        if self.observe is not None:
            self.observe(time.perf_counter() - start, len(results))
        return results, predictor.version

    def suggested_rating(self, score: float) -> int:
        """The rating the served model's rule suggests for `score` (a score sent by a client)."""
        return suggested_rating(score, self.get().rating_cuts)

    def predict(self, texts: Sequence[str]) -> list[dict[str, Any]]:
        """Label, probabilities, score, suggested rating, whether it is reliable (and if not, why)
        and model version for each text.

        Raises `ModelUnavailable` (no model) or `batching.Overloaded` (the queue is full).
        """
        self.get()  # load (or fail) here, on the request's thread, not inside a shared pass
        results, version = self.batcher.predict(texts)
        for result in results:
            result["model_version"] = version
        if self.shadow is not None and results:
            self.shadow.submit(texts, results)
        return results


def init_app(app: Flask, settings: Settings) -> None:
    """Attach the (not yet loaded) model to the app."""
    metrics = app.extensions.get("brandpulse.metrics")
    db = app.extensions["brandpulse.db"]
    shadow = None
    if settings.shadow_share > 0:
        shadow = ShadowScorer(
            settings.shadow_share,
            candidate=lambda: read_candidate(db, settings.model_dir),
            load=lambda path: _load_shared(path, settings.inference_bf16),
            observe=metrics.observe_shadow if metrics else None,
        )
    app.extensions[EXTENSION] = ModelService(
        settings.model_path,
        settings.inference_threads,
        observe=metrics.observe_prediction if metrics else None,
        bf16=settings.inference_bf16,
        champion=lambda: read_champion(db, settings.model_dir),
        poll_seconds=settings.model_poll_seconds,
        shadow=shadow,
        batch_max=settings.predict_batch_max,
        batch_wait_seconds=settings.predict_batch_wait_ms / 1000,
        queue_max=settings.predict_queue_max,
        queue_max_wait_seconds=settings.predict_queue_max_wait_ms / 1000,
        observe_batch=metrics.observe_batch if metrics else None,
        min_length=settings.review_min_length,
    )


def get_model(app: Flask | None = None) -> ModelService:
    """The model service of `app` (default: the current app)."""
    return (app or current_app).extensions[EXTENSION]
