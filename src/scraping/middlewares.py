"""Retries with backoff: Scrapy's RetryMiddleware, plus a pause for the whole site before each retry.

Scrapy retries a failed request (a 429 or 5xx response, a timeout, a dropped connection) at
once. Here the site's download slot first waits `Retry-After` seconds when the server sent one,
else RETRY_BACKOFF_BASE * 2^(n-1) before the n-th retry, capped at RETRY_BACKOFF_MAX; the wait
applies to every request to that site, not only the retried one. AutoThrottle then brings the
delay back down as healthy responses come back.
"""

from __future__ import annotations

import logging

from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.http import Request, Response

logger = logging.getLogger(__name__)


def backoff_delay(
    retry_times: int, base: float, maximum: float, retry_after: bytes | str | None = None
) -> float:
    """Seconds to wait before the `retry_times`-th retry (1 for the first)."""
    if retry_after:
        text = retry_after.decode("latin-1") if isinstance(retry_after, bytes) else retry_after
        try:
            return min(max(float(text.strip()), 0.0), maximum)
        except ValueError:
            pass  # an HTTP date: fall back to the exponential delay
    return min(base * 2 ** max(retry_times - 1, 0), maximum)


class BackoffRetryMiddleware(RetryMiddleware):
    """RetryMiddleware that also slows the site down before retrying (settings RETRY_BACKOFF_*)."""

    def process_response(self, request: Request, response: Response) -> Request | Response:  # type: ignore[override]
        """Retry a 429/5xx as Scrapy does, slowing the site down first."""
        result = super().process_response(request, response)
        if isinstance(result, Request):
            self._slow_down(result, response.headers.get("Retry-After"))
        return result

    def process_exception(self, request: Request, exception: Exception) -> Request | Response | None:  # type: ignore[override]
        """Retry a timeout or dropped connection as Scrapy does, slowing the site down first."""
        result = super().process_exception(request, exception)
        if isinstance(result, Request):
            self._slow_down(result, None)
        return result

    def _slow_down(self, retry: Request, retry_after: bytes | None) -> None:
        assert self.crawler.engine is not None and self.crawler.stats is not None
        settings = self.crawler.settings
        delay = backoff_delay(
            retry.meta.get("retry_times", 1),
            settings.getfloat("RETRY_BACKOFF_BASE"),
            settings.getfloat("RETRY_BACKOFF_MAX"),
            retry_after,
        )
        slot = self.crawler.engine.downloader.slots.get(retry.meta.get("download_slot"))
        if slot is not None and delay > slot.delay:
            logger.info("retrying %s: %.3g s between requests to the site from now", retry.url, delay)
            slot.delay = delay
        self.crawler.stats.max_value("brandpulse/backoff_max_delay", delay)
