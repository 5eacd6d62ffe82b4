"""The spiders' callbacks in-process: fixture pages in, items and follow-up requests out."""

from __future__ import annotations

import pytest
from scrapy.http import Request

from brandpulse.scraping.items import BrandItem, CategoryItem, ReviewItem
from brandpulse.scraping.spiders.categories import CategoriesSpider
from brandpulse.scraping.spiders.reviews import ReviewsSpider
from brandpulse.scraping.spiders.site import SiteSpider
from tests.scraping.conftest import make_crawler, site_response

BASE = "http://reviews.test"


def make_spider(spider_class, tmp_path, *, arguments=None, **settings):
    """A spider bound to an in-process crawler."""
    return make_crawler(spider_class, tmp_path, arguments, **settings).spider


def split(outputs):
    """(items, requests) from a callback's output."""
    outputs = list(outputs)
    return [o for o in outputs if not isinstance(o, Request)], [o for o in outputs if isinstance(o, Request)]


def test_the_base_url_is_required(tmp_path):
    with pytest.raises(ValueError, match="SITE_BASE_URL"):
        make_crawler(SiteSpider, tmp_path, SITE_BASE_URL="")


def test_spider_stays_on_the_site(tmp_path):
    assert make_spider(SiteSpider, tmp_path).allowed_domains == ["reviews.test"]


def test_category_index_yields_the_tree(tmp_path):
    spider = make_spider(CategoriesSpider, tmp_path)
    items, requests = split(spider.parse_category_index(site_response("/categories", BASE)))
    assert requests == []
    assert items[1] == CategoryItem(
        name="Laptops", url=f"{BASE}/categories/laptops", parent="Electronics & Technology"
    )
    assert [item.name for item in items] == [
        "Electronics & Technology",
        "Laptops",
        "Phones",
        "Food & Drink",
        "Coffee",
    ]


def test_category_index_follows_leaf_listings_only(tmp_path):
    spider = make_spider(SiteSpider, tmp_path)
    items, requests = split(spider.parse_category_index(site_response("/categories", BASE)))
    assert items == []
    assert [(r.url, r.cb_kwargs["category"]) for r in requests] == [
        (f"{BASE}/categories/laptops", "Laptops"),
        (f"{BASE}/categories/phones", "Phones"),
        (f"{BASE}/categories/coffee", "Coffee"),
    ]


def test_listing_follows_companies_and_the_next_page(tmp_path):
    spider = make_spider(SiteSpider, tmp_path)
    _, requests = split(spider.parse_listing(site_response("/categories/laptops", BASE), category="Laptops"))
    assert [r.url for r in requests] == [
        f"{BASE}/review/acme-laptops.example",
        f"{BASE}/review/bolt-computing.example",
        f"{BASE}/categories/laptops?page=2",
    ]
    assert requests[0].cb_kwargs == {
        "category": "Laptops",
        "company": "Acme Laptops",
        "company_url": f"{BASE}/review/acme-laptops.example",
        "page": 1,
    }


def test_max_companies_stops_the_listing(tmp_path):
    spider = make_spider(SiteSpider, tmp_path, MAX_COMPANIES=1)
    _, requests = split(spider.parse_listing(site_response("/categories/laptops", BASE), category="Laptops"))
    assert [r.url for r in requests] == [f"{BASE}/review/acme-laptops.example"]
    _, requests = split(spider.parse_listing(site_response("/categories/phones", BASE), category="Phones"))
    assert requests == []


def test_companies_robots_txt_disallows_are_skipped_and_not_counted(tmp_path):
    from scrapy.robotstxt import ProtegoRobotParser

    spider = make_spider(SiteSpider, tmp_path, MAX_COMPANIES=1)
    # The phones listing names dial-mobile first; with it disallowed, echo-phones gets the one slot.
    spider.robots = ProtegoRobotParser(b"User-agent: *\nDisallow: /review/dial-mobile.example\n", spider)
    _, requests = split(spider.parse_listing(site_response("/categories/phones", BASE), category="Phones"))
    assert [r.url for r in requests] == [f"{BASE}/review/echo-phones.example"]
    assert spider.crawler.stats.get_value("brandpulse/robots_skipped") == 1


def company_page(spider, target, page=1):
    kwargs = {"category": "Laptops", "company": "", "company_url": f"{BASE}/review/acme-laptops.example"}
    return split(spider.parse_company(site_response(target, BASE), page=page, **kwargs))


def test_company_page_yields_brand_reviews_and_next_page(tmp_path):
    items, requests = company_page(make_spider(SiteSpider, tmp_path), "/review/acme-laptops.example")
    assert items[0] == BrandItem(
        name="Acme Laptops",
        website="https://acme-laptops.example",
        logo_url="https://cdn.example/logos/acme.png",
        category="Laptops",
        site_url=f"{BASE}/review/acme-laptops.example",
    )
    assert items[1] == ReviewItem(
        text="Fast delivery and the laptop works perfectly.",
        rating=5,
        review_id="a-1",
        date="2024-03-01",
        company="Acme Laptops",
        company_url=f"{BASE}/review/acme-laptops.example",
        category="Laptops",
    )
    assert len(items) == 4
    assert [(r.url, r.cb_kwargs["page"]) for r in requests] == [
        (f"{BASE}/review/acme-laptops.example?page=2", 2)
    ]


def test_later_pages_yield_no_brand(tmp_path):
    items, requests = company_page(
        make_spider(SiteSpider, tmp_path), "/review/acme-laptops.example?page=2", 2
    )
    assert [type(item) for item in items] == [ReviewItem, ReviewItem]
    assert requests == []


def test_reviews_spider_yields_no_brand(tmp_path):
    items, _ = company_page(make_spider(ReviewsSpider, tmp_path), "/review/acme-laptops.example")
    assert {type(item) for item in items} == {ReviewItem}


def test_max_review_pages(tmp_path):
    spider = make_spider(SiteSpider, tmp_path, MAX_REVIEW_PAGES=1)
    items, requests = company_page(spider, "/review/acme-laptops.example")
    assert len(items) == 4
    assert requests == []


def test_unreadable_page_is_counted(tmp_path):
    spider = make_spider(SiteSpider, tmp_path)
    items, requests = company_page(spider, "/review/ghost-kitchen.example")
    assert (items, requests) == ([], [])
    assert spider.crawler.stats.get_value("brandpulse/parse_failed/company") == 1


def test_start_from_arguments(tmp_path):
    spider = make_spider(
        SiteSpider, tmp_path, arguments={"company": "acme-laptops.example, https://x.test/review/y"}
    )
    assert [r.url for r in spider.first_requests()] == [
        f"{BASE}/review/acme-laptops.example",
        "https://x.test/review/y",
    ]
    spider = make_spider(SiteSpider, tmp_path, arguments={"category": "coffee"})
    assert [r.url for r in spider.first_requests()] == [f"{BASE}/categories/coffee"]
    spider = make_spider(SiteSpider, tmp_path)
    assert [r.url for r in spider.first_requests()] == [f"{BASE}/categories"]
