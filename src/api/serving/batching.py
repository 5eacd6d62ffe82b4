"""Dynamic micro-batching: the predictions waiting in a process share one forward pass.

A forward pass over 32 texts costs far less than 32 passes over one (the convolutions run on
wider matrices, the per-call overhead is paid once), so each process runs its passes on one
inference thread that takes every prediction waiting, up to `batch_max` texts, and answers
them all. A lone request runs at once: the thread waits `wait_seconds` for more only when the
queue it just emptied was not empty or its last pass answered several requests, that is, when
requests are arriving faster than one pass at a time, so one visitor typing pays nothing for
the batching.

The queue is bounded: once `queue_max` texts are waiting, or the texts waiting would take more
than `max_wait_seconds` to get through at the pace of the recent passes, `submit` raises
`Overloaded` at once (the API answers 503 with Retry-After) instead of letting the wait, and
every request's latency, grow without limit. The pace matters because a server flooded with
requests computes slower (the requests being refused take CPU too; docs/performance.md,
"Backpressure"). A request larger
than the bound is still taken when nothing else waits, so a full batch request is never refused
on an idle server.

The thread is started on first use in each process (never before gunicorn forks) and runs
with `threads` torch threads: PyTorch's OpenMP team belongs to the thread that forms it, so
every pass of a process runs on this one thread (see inference.py).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

logger = logging.getLogger(__name__)

# Runs one pass: (texts) -> (one result per text, the version of the model that made them).
RunBatch = Callable[[list[str]], tuple[list[dict[str, Any]], str]]


class Overloaded(RuntimeError):
    """More predictions are waiting than the queue holds; the API answers 503 with Retry-After."""

    def __init__(self, waiting: int, limit: int, retry_after: int) -> None:
        super().__init__(f"{waiting} texts are waiting for the model (the limit is {limit})")
        self.retry_after = retry_after


@dataclass
class _Job:
    texts: list[str]
    future: Future = field(default_factory=Future)


class MicroBatcher:
    """A bounded queue of predictions and the inference thread that answers them in batches."""

    def __init__(
        self,
        run: RunBatch,
        batch_max: int = 32,
        wait_seconds: float = 0.002,
        queue_max: int = 64,
        max_wait_seconds: float = 0.25,
        start_thread: Callable[[], None] | None = None,
        observe_batch: Callable[[int, int], None] | None = None,
    ) -> None:
        self.run = run
        self.batch_max = batch_max
        self.wait_seconds = wait_seconds
        self.queue_max = queue_max
        self.max_wait_seconds = max_wait_seconds
        self.start_thread = start_thread  # called once on the inference thread (torch threads)
        self.observe_batch = observe_batch  # called with (texts, requests) of each pass
        self.seconds_per_text = 0.005  # a running estimate, for Retry-After and the queue's wait
        self._reset()

    def _reset(self) -> None:
        self._cond = threading.Condition()
        self._jobs: deque[_Job] = deque()
        self._waiting = 0  # texts queued, not yet taken by a pass
        self._last_requests = 0  # requests the last pass answered
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()

    @property
    def waiting(self) -> int:
        """Texts queued for the next passes."""
        return self._waiting

    def refuse_if_full(self) -> None:
        """Raise `Overloaded` now if the queue is full: a request need not be parsed to be refused."""
        if self._pid == os.getpid() and self._is_full(1):
            raise self._overloaded()

    def _is_full(self, more: int) -> bool:
        """Whether `more` texts would overfill the queue (by count, or by the wait they would see)."""
        if not self._waiting:
            return False
        return (
            self._waiting + more > self.queue_max
            or self._waiting * self.seconds_per_text >= self.max_wait_seconds
        )

    def _overloaded(self) -> Overloaded:
        retry_after = max(1, round(self._waiting * self.seconds_per_text + 0.5))
        return Overloaded(self._waiting, self.queue_max, retry_after)

    def predict(self, texts: Sequence[str]) -> tuple[list[dict[str, Any]], str]:
        """Results for `texts` and the model version, from a shared pass; `Overloaded` if full."""
        return self.submit(texts).result()

    def submit(self, texts: Sequence[str]) -> Future:
        """Queue `texts` for a pass; the future's result is (results, model version)."""
        if self._pid != os.getpid():  # a forked child: the parent's thread and queue are not ours
            self._reset()
        job = _Job(list(texts))
        with self._cond:
            if self._is_full(len(job.texts)):
                raise self._overloaded()
            self._jobs.append(job)
            self._waiting += len(job.texts)
            if self._thread is None:
                self._thread = threading.Thread(target=self._serve, name="inference", daemon=True)
                self._thread.start()
            self._cond.notify()
        return job.future

    def _take(self) -> list[_Job]:
        """Wait for work; take the jobs of the next pass (called with the condition held)."""
        while not self._jobs:
            self._cond.wait()
        batch = [self._jobs.popleft()]
        size = len(batch[0].texts)
        # Others waiting, or the last pass answered several: more are likely on their way (the
        # clients just answered send their next request while this pass would run without them).
        # Wait for as many as the last pass had (or more, if queued), at most `wait_seconds`.
        expected = max(self._last_requests, len(self._jobs) + 1)
        busy = expected > 1
        deadline = time.monotonic() + self.wait_seconds
        while size < self.batch_max:
            if self._jobs:
                if size + len(self._jobs[0].texts) > self.batch_max:
                    break
                job = self._jobs.popleft()
                batch.append(job)
                size += len(job.texts)
                continue
            remaining = deadline - time.monotonic()
            if not busy or remaining <= 0 or len(batch) >= expected:
                break
            self._cond.wait(remaining)
        self._waiting -= size
        self._last_requests = len(batch)
        return batch

    def _serve(self) -> None:
        if self.start_thread is not None:
            self.start_thread()
        while True:
            with self._cond:
                batch = self._take()
            texts = [text for job in batch for text in job.texts]
            start = time.perf_counter()
            try:
                results, version = self.run(texts)
            except Exception as error:  # every waiting request gets the error, the thread lives on
                for job in batch:
                    job.future.set_exception(error)
                continue
            elapsed = time.perf_counter() - start
            if len(texts) * 4 >= self.batch_max:  # small passes cost more per text than a queue drains at
                self.seconds_per_text = 0.8 * self.seconds_per_text + 0.2 * elapsed / len(texts)
            if self.observe_batch is not None:
                self.observe_batch(len(texts), len(batch))
            offset = 0
            for job in batch:
                job.future.set_result((results[offset : offset + len(job.texts)], version))
                offset += len(job.texts)
