"""Item pipelines: validate, drop duplicates, cap the item count; every drop is counted by reason.

Drop counts go to the crawl stats as `brandpulse/dropped/<reason>` and into the end-of-crawl
summary (`summary.py`).
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any, Self
from urllib.parse import urlsplit

from scrapy import Spider
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem

from brandpulse.scraping.items import BrandItem, CategoryItem, ReviewItem

logger = logging.getLogger(__name__)

DROPPED = "brandpulse/dropped"


def job_state(spider: Spider) -> dict[str, Any]:
    """The spider's `state`, which JOBDIR saves and a resume restores (a per-run dict without JOBDIR)."""
    if not hasattr(spider, "state"):  # only Scrapy's SpiderState extension (on with JOBDIR) sets it
        spider.state = {}
    return spider.state


def is_web_url(value: str) -> bool:
    """An absolute http(s) URL with a host and no whitespace."""
    if not value or any(char.isspace() for char in value):
        return False
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def problem(item: Any) -> str | None:
    """Why `item` cannot be used, as a short reason (the stats key), or None when it is fine."""
    if isinstance(item, ReviewItem):
        if not item.text.strip():
            return "empty_text"
        if not isinstance(item.rating, int) or not 1 <= item.rating <= 5:
            return "bad_rating"
        if not is_web_url(item.company_url):
            return "bad_url"
    elif isinstance(item, BrandItem):
        if not item.name.strip():
            return "empty_name"
        if not is_web_url(item.site_url) or any(
            value and not is_web_url(value) for value in (item.website, item.logo_url)
        ):
            return "bad_url"
    elif isinstance(item, CategoryItem):
        if not item.name.strip():
            return "empty_name"
        if not is_web_url(item.url):
            return "bad_url"
    return None


class _CountingPipeline:
    """Shared wiring: the crawler, and a `drop` that counts before it raises."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        """Build the pipeline for a crawler (Scrapy's hook)."""
        return cls(crawler)

    def drop(self, reason: str) -> DropItem:
        """Count a drop and return the exception to raise."""
        assert self.crawler.stats is not None
        self.crawler.stats.inc_value(f"{DROPPED}/{reason}")
        return DropItem(reason, log_level="INFO")  # Scrapy logs the item beside the reason

    def job_state(self) -> dict[str, Any]:
        """The crawl's state that a JOBDIR resume keeps."""
        assert self.crawler.spider is not None
        return job_state(self.crawler.spider)


class ValidationPipeline(_CountingPipeline):
    """Drops items with empty text or name, a rating outside 1-5 or a malformed URL."""

    def process_item(self, item: Any) -> Any:
        """Pass a usable item on; drop any other."""
        reason = problem(item)
        if reason:
            raise self.drop(reason)
        return item


def item_key(item: Any) -> str:
    """What makes an item unique: the review id (or its content), the brand's or category's page URL."""
    if isinstance(item, ReviewItem):
        if item.review_id:
            return f"review:{item.company_url}:{item.review_id}"
        content = "\x1f".join((item.company_url, item.text, item.date, str(item.rating)))
        return "review-content:" + hashlib.sha1(content.encode()).hexdigest()
    if isinstance(item, BrandItem):
        return f"brand:{item.site_url}"
    if isinstance(item, CategoryItem):
        return f"category:{item.url}"
    return f"other:{item!r}"


class DuplicatesPipeline(_CountingPipeline):
    """Drops an item seen before in this job (a review shown on two pages, a brand listed twice)."""

    def process_item(self, item: Any) -> Any:
        """Pass the first of each item on; drop repeats."""
        seen: set[str] = self.job_state().setdefault("seen_items", set())
        key = item_key(item)
        if key in seen:
            raise self.drop("duplicate")
        seen.add(key)
        return item


class ItemLimitPipeline(_CountingPipeline):
    """Keeps at most MAX_ITEMS items (0: no limit); CLOSESPIDER_ITEMCOUNT stops the crawl itself."""

    def process_item(self, item: Any) -> Any:
        """Pass items on until the limit, then drop them."""
        limit = self.crawler.settings.getint("MAX_ITEMS")
        state = self.job_state()
        if limit and state.get("items_kept", 0) >= limit:
            raise self.drop("max_items")
        state["items_kept"] = state.get("items_kept", 0) + 1
        return item
