"""Champion/challenger in production: a share of live predictions scored by the candidate too.

With `SHADOW_SHARE` above 0, each API process also keeps the registry's newest *candidate*
(a challenger that passed the gate and awaits promotion, or one an admin registered) in
memory, and scores that share of its predictions with it as well, on a thread of its own
after the answer is computed, so the visitor never waits for it. Both answers are logged
(`shadow prediction`: versions, scores, suggested ratings) and counted in `/metrics`
(`brandpulse_shadow_predictions_total` by candidate and by whether the two suggested ratings
agree), which shows how a candidate would have answered real traffic before anyone promotes it.
When the shadow thread is busy the text is skipped rather than queued: it costs the live
predictions nothing but spare CPU.
"""

from __future__ import annotations

import logging
import os
import random
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from brandpulse.api.storage.registry import Champion
from brandpulse.model.checkpoint import CheckpointError
from brandpulse.model.predictor import Predictor
from brandpulse.model.runtime import use_threads

logger = logging.getLogger(__name__)

MAX_PENDING = 4  # shadow batches waiting at most; more are skipped


class ShadowScorer:
    """Scores a share of the live predictions with the newest candidate, off the request path."""

    def __init__(
        self,
        share: float,
        candidate: Callable[[], Champion | None],
        load: Callable[[Any], Predictor],
        observe: Callable[[str, bool], None] | None = None,
        draw: Callable[[], float] = random.random,
    ) -> None:
        self.share = share
        self.candidate = candidate  # reads the registry's newest candidate
        self.load = load  # path -> predictor (the model service's shared loader)
        self.observe = observe  # called with (candidate version, same suggested rating?)
        self.draw = draw
        self._predictor: Predictor | None = None
        self._pending = 0
        self._lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None
        self._executor_pid = 0

    @property
    def version(self) -> str | None:
        """The candidate in memory, if any."""
        return self._predictor.version if self._predictor else None

    def refresh(self) -> None:
        """Follow the registry: load a new candidate (on the caller's thread), drop a gone one."""
        try:
            wanted = self.candidate()
        except Exception as error:  # the registry being unreadable must not stop anything
            logger.warning("cannot read the candidate for shadow scoring (%s)", error)
            return
        if wanted is None:
            self._predictor = None
            return
        if self._predictor is not None and self._predictor.version == wanted.version:
            return
        try:
            self._predictor = self.load(wanted.path)
        except (CheckpointError, OSError) as error:
            logger.error("cannot load candidate %s for shadow scoring: %s", wanted.version, error)
            self._predictor = None
            return
        logger.info("shadow scoring %.0f %% of predictions with %s", 100 * self.share, wanted.version)

    def _thread(self) -> ThreadPoolExecutor:
        if self._executor is None or self._executor_pid != os.getpid():
            self._executor = ThreadPoolExecutor(
                max_workers=1, thread_name_prefix="shadow", initializer=use_threads, initargs=(1,)
            )
            self._executor_pid = os.getpid()
        return self._executor

    def submit(self, texts: Sequence[str], results: Sequence[dict[str, Any]]) -> bool:
        """Maybe score `texts` with the candidate too; True if they were queued."""
        candidate = self._predictor
        if candidate is None or self.share <= 0 or self.draw() >= self.share:
            return False
        if candidate.version == results[0].get("model_version"):
            return False
        with self._lock:
            if self._pending >= MAX_PENDING:
                return False
            self._pending += 1
        self._thread().submit(self._score, candidate, list(texts), [dict(r) for r in results])
        return True

    def _score(self, candidate: Predictor, texts: list[str], served: list[dict[str, Any]]) -> None:
        try:
            for live, shadow in zip(served, candidate.predict(texts), strict=True):
                same = live["suggested_rating"] == shadow["suggested_rating"]
                logger.info(
                    "shadow prediction",
                    extra={
                        "champion": live.get("model_version"),
                        "candidate": candidate.version,
                        "champion_score": round(live["score"], 4),
                        "candidate_score": round(shadow["score"], 4),
                        "champion_rating": live["suggested_rating"],
                        "candidate_rating": shadow["suggested_rating"],
                    },
                )
                if self.observe is not None:
                    self.observe(candidate.version, same)
        except Exception:  # a shadow failure must never reach a visitor
            logger.exception("shadow scoring failed")
        finally:
            with self._lock:
                self._pending -= 1
