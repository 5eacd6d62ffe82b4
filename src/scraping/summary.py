"""The end-of-crawl summary: pages, items, drops, parse failures and errors, logged and saved as JSON."""

from __future__ import annotations

import json
import logging
from collections import Counter
from pathlib import Path
from typing import Any

from scrapy import Spider, signals
from scrapy.crawler import Crawler

from brandpulse.scraping.pipelines import DROPPED

logger = logging.getLogger(__name__)

PARSED = "brandpulse/parsed"  # brandpulse/parsed/<page type>/<jsonld|html>
PARSE_FAILED = "brandpulse/parse_failed"  # brandpulse/parse_failed/<page type>
ROBOTS_SKIPPED = "brandpulse/robots_skipped"  # companies robots.txt disallows, never requested


def _by_suffix(stats: dict[str, Any], prefix: str) -> dict[str, int]:
    return {
        key[len(prefix) + 1 :]: value for key, value in sorted(stats.items()) if key.startswith(prefix + "/")
    }


def summarize(stats: dict[str, Any], items: Counter[str], reason: str) -> dict[str, Any]:
    """The summary of a finished crawl from its stats and the items it kept, by item type."""
    return {
        "finish_reason": reason,
        "pages": stats.get("response_received_count", 0),
        "requests": stats.get("downloader/request_count", 0),
        "items": dict(sorted(items.items())),
        "dropped": _by_suffix(stats, DROPPED),
        "parsed": _by_suffix(stats, PARSED),
        "parse_failed": _by_suffix(stats, PARSE_FAILED),
        "http_status": _by_suffix(stats, "downloader/response_status_count"),
        "retries": stats.get("retry/count", 0),
        "retries_given_up": stats.get("retry/max_reached", 0),
        # Refused by the robots.txt middleware, or skipped by the spider before it asked.
        "robots_forbidden": stats.get("robotstxt/forbidden", 0) + stats.get(ROBOTS_SKIPPED, 0),
        "errors": stats.get("log_count/ERROR", 0),
        "spider_exceptions": stats.get("spider_exceptions/count", 0),
    }


class CrawlSummary:
    """Logs a summary when the spider closes and writes it to SUMMARY_FILE when that is set."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.items: Counter[str] = Counter()
        crawler.signals.connect(self.item_scraped, signal=signals.item_scraped)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CrawlSummary:
        """Build the extension for a crawler (Scrapy's hook)."""
        return cls(crawler)

    def item_scraped(self, item: Any) -> None:
        """Count a kept item by its type (ReviewItem -> "review")."""
        self.items[type(item).__name__.removesuffix("Item").lower()] += 1

    def spider_closed(self, spider: Spider, reason: str) -> None:
        """Log the summary and save it."""
        assert self.crawler.stats is not None
        summary = summarize(self.crawler.stats.get_stats(), self.items, reason)
        logger.info(
            "crawl summary: %s pages, items %s, dropped %s, parse failures %s, %s errors (%s)",
            summary["pages"],
            summary["items"] or "none",
            summary["dropped"] or "none",
            summary["parse_failed"] or "none",
            summary["errors"],
            reason,
        )
        path = self.crawler.settings.get("SUMMARY_FILE")
        if path:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            Path(path).write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
