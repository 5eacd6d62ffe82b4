"""Validation, duplicates and limits in-process; the feed settings; the retry backoff."""

from __future__ import annotations

import dataclasses

import pytest
from scrapy.exceptions import DropItem

from brandpulse.scraping.feeds import feeds, is_resumed_job
from brandpulse.scraping.items import BrandItem, CategoryItem, ReviewItem
from brandpulse.scraping.middlewares import backoff_delay
from brandpulse.scraping.pipelines import (
    DuplicatesPipeline,
    ItemLimitPipeline,
    ValidationPipeline,
    is_web_url,
    problem,
)
from brandpulse.scraping.spiders.site import SiteSpider
from tests.scraping.conftest import make_crawler

REVIEW = ReviewItem(
    text="Great coffee.",
    rating=5,
    review_id="r-1",
    date="2024-01-01",
    company="Fika",
    company_url="https://reviews.test/review/fika.example",
    category="Coffee",
)
BRAND = BrandItem(
    name="Fika",
    website="https://fika.example",
    logo_url="https://cdn.example/fika.png",
    category="Coffee",
    site_url="https://reviews.test/review/fika.example",
)


def crawler_with_spider(tmp_path, **settings):
    """A crawler with its spider, as the pipelines see them during a crawl."""
    return make_crawler(SiteSpider, tmp_path, **settings)


@pytest.mark.parametrize(
    "item, reason",
    [
        (REVIEW, None),
        (dataclasses.replace(REVIEW, text="  \n "), "empty_text"),
        (dataclasses.replace(REVIEW, rating=0), "bad_rating"),
        (dataclasses.replace(REVIEW, rating=6), "bad_rating"),
        (dataclasses.replace(REVIEW, rating=None), "bad_rating"),
        (dataclasses.replace(REVIEW, company_url="/review/fika.example"), "bad_url"),
        (BRAND, None),
        (dataclasses.replace(BRAND, website="", logo_url=""), None),  # unknown is fine, malformed is not
        (dataclasses.replace(BRAND, name=""), "empty_name"),
        (dataclasses.replace(BRAND, website="fika dot example"), "bad_url"),
        (dataclasses.replace(BRAND, logo_url="javascript:alert(1)"), "bad_url"),
        (CategoryItem(name="Coffee", url="https://reviews.test/categories/coffee", parent=""), None),
        (CategoryItem(name="Coffee", url="ftp://reviews.test/coffee", parent=""), "bad_url"),
    ],
)
def test_problem(item, reason):
    assert problem(item) == reason


@pytest.mark.parametrize(
    "url, ok",
    [
        ("https://a.example/x?y=1", True),
        ("http://127.0.0.1:8000/", True),
        ("https://", False),
        ("a.example", False),
        ("https://a.example/with space", False),
        ("", False),
    ],
)
def test_is_web_url(url, ok):
    assert is_web_url(url) is ok


def test_validation_drops_and_counts_by_reason(tmp_path):
    crawler = crawler_with_spider(tmp_path)
    pipeline = ValidationPipeline.from_crawler(crawler)
    assert pipeline.process_item(REVIEW) is REVIEW
    for bad in (dataclasses.replace(REVIEW, rating=9), dataclasses.replace(REVIEW, rating=0)):
        with pytest.raises(DropItem, match="bad_rating"):
            pipeline.process_item(bad)
    assert crawler.stats.get_value("brandpulse/dropped/bad_rating") == 2


def test_duplicates_are_dropped_by_id_or_content(tmp_path):
    crawler = crawler_with_spider(tmp_path)
    pipeline = DuplicatesPipeline.from_crawler(crawler)
    pipeline.process_item(REVIEW)
    pipeline.process_item(dataclasses.replace(REVIEW, review_id="r-2"))  # same text, another review
    with pytest.raises(DropItem):
        pipeline.process_item(dataclasses.replace(REVIEW, text="edited since"))  # same id
    anonymous = dataclasses.replace(REVIEW, review_id="", text="No id on this site.")
    pipeline.process_item(anonymous)
    with pytest.raises(DropItem):
        pipeline.process_item(dataclasses.replace(anonymous))
    pipeline.process_item(BRAND)
    with pytest.raises(DropItem):
        pipeline.process_item(dataclasses.replace(BRAND, category="Cafés"))
    assert crawler.stats.get_value("brandpulse/dropped/duplicate") == 3
    # Kept in the spider's state, which JOBDIR saves and restores on resume.
    assert len(crawler.spider.state["seen_items"]) == 4


def test_item_limit(tmp_path):
    crawler = crawler_with_spider(tmp_path, MAX_ITEMS=2)
    pipeline = ItemLimitPipeline.from_crawler(crawler)
    pipeline.process_item(REVIEW)
    pipeline.process_item(BRAND)
    with pytest.raises(DropItem, match="max_items"):
        pipeline.process_item(REVIEW)
    assert crawler.settings.getint("CLOSESPIDER_ITEMCOUNT") == 2  # the crawl stops there too


def test_spiders_write_their_feeds_to_output_dir(tmp_path):
    crawler = crawler_with_spider(tmp_path)
    configured = crawler.settings.getdict("FEEDS")
    assert set(configured) == {str(tmp_path / "brands.csv"), str(tmp_path / "reviews.csv")}
    reviews = configured[str(tmp_path / "reviews.csv")]
    assert list(reviews["fields"].values())[:2] == ["text", "label"]
    assert reviews["item_classes"] == [ReviewItem]
    assert crawler.settings.get("SUMMARY_FILE") == str(tmp_path / "site-summary.json")


def test_resumed_feeds_append_without_a_second_header(tmp_path):
    (tmp_path / "reviews.csv").write_text("text,label\nok,5\n", encoding="utf-8")
    fresh = feeds(tmp_path, [ReviewItem, BrandItem])
    resumed = feeds(tmp_path, [ReviewItem, BrandItem], append=True)
    reviews, brands = str(tmp_path / "reviews.csv"), str(tmp_path / "brands.csv")
    assert fresh[reviews]["overwrite"] is True
    assert fresh[reviews]["item_export_kwargs"] == {"include_headers_line": True}
    assert resumed[reviews]["overwrite"] is False
    assert resumed[reviews]["item_export_kwargs"] == {"include_headers_line": False}
    assert resumed[brands]["item_export_kwargs"] == {"include_headers_line": True}  # no file yet


def test_is_resumed_job(tmp_path):
    assert not is_resumed_job(None)
    assert not is_resumed_job(tmp_path)
    (tmp_path / "requests.seen").write_text("", encoding="utf-8")
    assert is_resumed_job(tmp_path)


@pytest.mark.parametrize(
    "retry_times, retry_after, expected",
    [
        (1, None, 2.0),
        (2, None, 4.0),
        (3, None, 8.0),
        (10, None, 60.0),  # capped
        (1, b"30", 30.0),  # the server's Retry-After wins
        (1, b"600", 60.0),  # but is capped too
        (2, b"Wed, 21 Oct 2015 07:28:00 GMT", 4.0),  # an HTTP date: exponential instead
    ],
)
def test_backoff_delay(retry_times, retry_after, expected):
    assert backoff_delay(retry_times, base=2.0, maximum=60.0, retry_after=retry_after) == expected
