"""Real crawls of the fixture site in a subprocess: exact outputs, polite behaviour, limits, resume."""

from __future__ import annotations

from collections import Counter

from brandpulse.scraping import settings as project_settings
from tests.scraping.conftest import crawl_reviews, scrapy_crawl

REVIEW_COLUMNS = ["text", "label", "review_id", "date", "company", "company_url", "category"]
BRAND_COLUMNS = ["name", "website", "logo_url", "category", "site_url"]

# review id -> (label, date, company, category, text): the valid, unique reviews of the site.
EXPECTED_REVIEWS = {
    "a-1": ("5", "2024-03-01", "Acme Laptops", "Laptops", "Fast delivery and the laptop works perfectly."),
    "a-2": ("4", "2024-02-20", "Acme Laptops", "Laptops", "Good machine, battery could be better."),
    "a-3": ("1", "2024-02-11", "Acme Laptops", "Laptops", "Arrived broken and support never replied."),
    "a-4": (
        "3",
        "2024-01-30",
        "Acme Laptops",
        "Laptops",
        "Average experience, nothing special.",
    ),  # after a 503
    "a-5": ("2", "2024-01-02", "Acme Laptops", "Laptops", "Keyboard stopped working after a month."),
    "b-1": ("3", "2024-04-05", "Bolt Computing", "Laptops", "It was okay. Shipping took a while."),
    "c-1": (
        "1",
        "2024-05-10",
        "Circuit City",
        "Laptops",
        "Terrible, they cancelled my order without telling me.",
    ),
    "c-2": ("4", "2024-05-09", "Circuit City", "Laptops", "Decent prices and friendly staff."),
    "c-3": ("2", "2024-05-01", "Circuit City", "Laptops", "Refund took six weeks."),
    "c-4": (
        "3",
        "2024-04-28",
        "Circuit City",
        "Laptops",
        "Fine, but the website is confusing.",
    ),  # broken JSON-LD
    "d-1": ("5", "2024-06-01", "Dial Mobile", "Phones", "Great phone deals, would buy again."),
    "d-2": ("1", "2024-05-30", "Dial Mobile", "Phones", "Hidden fees everywhere."),
    "f-1": ("5", "2024-07-01", "Fika Coffee", "Coffee", "Lovely coffee and a cosy place."),  # HTML only
    "f-2": ("3", "2024-06-21", "Fika Coffee", "Coffee", "Coffee was fine, the cake was dry."),
    "f-3": ("2", "2024-06-11", "Fika Coffee", "Coffee", "Cold coffee and a long wait."),
}
# slug -> (name, website, logo URL, category)
EXPECTED_BRANDS = {
    "acme-laptops.example": (
        "Acme Laptops",
        "https://acme-laptops.example",
        "https://cdn.example/logos/acme.png",
        "Laptops",
    ),
    "bolt-computing.example": (
        "Bolt Computing",
        "https://www.bolt-computing.example/",
        "https://cdn.example/logos/bolt.png",
        "Laptops",
    ),
    "circuit-city.example": (
        "Circuit City",
        "https://circuit-city.example",
        "https://cdn.example/logos/circuit.svg",
        "Laptops",
    ),
    "dial-mobile.example": (
        "Dial Mobile",
        "https://dial-mobile.example",
        "https://cdn.example/logos/dial.png",
        "Phones",
    ),
    "fika-coffee.example": (
        "Fika Coffee",
        "https://fika-coffee.example",
        "https://cdn.example/logos/fika.png",
        "Coffee",
    ),
}
# Every request the full crawl makes, and how often.
EXPECTED_REQUESTS = {
    "/robots.txt": 1,
    "/categories": 1,
    "/categories/laptops": 1,
    "/categories/laptops?page=2": 1,
    "/categories/phones": 1,
    "/categories/coffee": 1,
    "/review/acme-laptops.example": 1,
    "/review/acme-laptops.example?page=2": 2,  # 503, then 200 on the retry
    "/review/bolt-computing.example": 1,
    "/review/circuit-city.example": 1,
    "/review/circuit-city.example?page=2": 1,
    "/review/circuit-city.example?page=3": 1,
    "/review/dial-mobile.example": 1,
    "/review/fika-coffee.example": 1,
    "/review/fika-coffee.example?page=2": 1,
    "/review/ghost-kitchen.example": 1,
}


def reviews_by_id(crawl, base_url):
    rows = crawl.rows("reviews.csv")
    by_id = {row["review_id"]: row for row in rows}
    assert len(by_id) == len(rows), "a review id appears twice"
    for row in rows:
        slug = row["company_url"].removeprefix(f"{base_url}/review/")
        assert row["company_url"] == f"{base_url}/review/{slug}" and slug in EXPECTED_BRANDS
    return {rid: (r["label"], r["date"], r["company"], r["category"], r["text"]) for rid, r in by_id.items()}


def brands_by_slug(crawl, base_url):
    rows = crawl.rows("brands.csv")
    found = {r["site_url"].removeprefix(f"{base_url}/review/"): r for r in rows}
    assert len(found) == len(rows)
    return {slug: (r["name"], r["website"], r["logo_url"], r["category"]) for slug, r in found.items()}


def test_reviews_csv_has_the_training_columns(full_crawl):
    assert full_crawl.header("reviews.csv") == REVIEW_COLUMNS


def test_reviews_are_exactly_the_valid_unique_ones(full_crawl, fixture_site):
    assert reviews_by_id(full_crawl, fixture_site.base_url) == EXPECTED_REVIEWS


def test_brands_csv(full_crawl, fixture_site):
    assert full_crawl.header("brands.csv") == BRAND_COLUMNS
    assert brands_by_slug(full_crawl, fixture_site.base_url) == EXPECTED_BRANDS


def test_every_page_is_fetched_once_and_robots_txt_is_obeyed(full_crawl):
    assert dict(full_crawl.requests) == EXPECTED_REQUESTS
    assert "/review/echo-phones.example" not in full_crawl.requests  # disallowed by robots.txt
    # The spider read the rules the middleware fetched and never asked for the page at all.
    assert "robots.txt disallows http://" in full_crawl.log
    assert "echo-phones.example: skipped" in full_crawl.log


def test_requests_identify_the_bot_and_its_operator(full_crawl):
    assert full_crawl.user_agents == {
        "BrandPulseBot/0.1 (+https://brandpulse.example/bot; BrandPulse open-source review crawler)"
    }
    assert project_settings.USER_AGENT.startswith("BrandPulseBot/0.1 (")


def test_summary_counts_pages_items_drops_and_failures(full_crawl):
    summary = full_crawl.summary()
    assert summary == {
        "finish_reason": "finished",
        "pages": 16,  # every 200 response, robots.txt included
        "requests": 17,
        "items": {"brand": 5, "review": 15},
        "dropped": {"bad_rating": 1, "duplicate": 1, "empty_text": 1},
        "parsed": {
            "categories/html": 1,
            "company/html": 3,
            "company/jsonld": 6,
            "listing/html": 1,
            "listing/jsonld": 3,
            "reviews/html": 3,
            "reviews/jsonld": 6,
        },
        "parse_failed": {"company": 1},
        "http_status": {"200": 16, "503": 1},
        "retries": 1,
        "retries_given_up": 0,
        "robots_forbidden": 1,
        "errors": 0,
        "spider_exceptions": 0,
    }
    assert "crawl summary: 16 pages" in full_crawl.log
    assert "ghost-kitchen.example: found nothing" in full_crawl.log


def test_limits_bound_the_crawl(fixture_site, tmp_path):
    crawl = crawl_reviews(
        fixture_site, tmp_path, "--category", "laptops", "--max-companies", "2", "--max-review-pages", "1"
    )
    assert crawl.returncode == 0, crawl.log
    assert set(brands_by_slug(crawl, fixture_site.base_url)) == {
        "acme-laptops.example",
        "bolt-computing.example",
    }
    assert set(reviews_by_id(crawl, fixture_site.base_url)) == {"a-1", "a-2", "a-3", "b-1"}
    assert dict(crawl.requests) == {
        "/robots.txt": 1,
        "/categories/laptops": 1,
        "/review/acme-laptops.example": 1,
        "/review/bolt-computing.example": 1,
    }


def test_max_items_keeps_exactly_that_many(fixture_site, tmp_path):
    crawl = crawl_reviews(fixture_site, tmp_path, "--company", "circuit-city.example", "--max-items", "3")
    assert crawl.returncode == 0, crawl.log
    assert len(crawl.rows("brands.csv")) + len(crawl.rows("reviews.csv")) == 3
    assert crawl.summary()["finish_reason"] == "closespider_itemcount"


def test_an_interrupted_crawl_resumes_with_jobdir(fixture_site, tmp_path):
    out_dir, jobdir = tmp_path / "out", tmp_path / "job"
    first = crawl_reviews(fixture_site, out_dir, "--jobdir", str(jobdir), CLOSESPIDER_PAGECOUNT="6")
    assert first.returncode == 0, first.log
    assert first.summary()["finish_reason"] == "closespider_pagecount"
    assert len(first.rows("reviews.csv")) < len(EXPECTED_REVIEWS)

    second = crawl_reviews(fixture_site, out_dir, "--jobdir", str(jobdir))
    assert second.returncode == 0, second.log
    assert second.summary()["finish_reason"] == "finished"
    # Together the two runs wrote what one crawl writes, with one header, fetching no page twice.
    assert second.header("reviews.csv") == REVIEW_COLUMNS
    assert reviews_by_id(second, fixture_site.base_url) == EXPECTED_REVIEWS
    assert brands_by_slug(second, fixture_site.base_url) == EXPECTED_BRANDS
    both = first.requests + second.requests - Counter({"/robots.txt": 2})
    assert dict(both) == {k: v for k, v in EXPECTED_REQUESTS.items() if k != "/robots.txt"}


def test_scrapy_crawl_categories(fixture_site, tmp_path):
    crawl = scrapy_crawl(fixture_site, tmp_path, "categories")
    assert crawl.returncode == 0, crawl.log
    base = fixture_site.base_url
    assert crawl.rows("categories.csv") == [
        {"name": "Electronics & Technology", "url": f"{base}/categories/electronics", "parent": ""},
        {"name": "Laptops", "url": f"{base}/categories/laptops", "parent": "Electronics & Technology"},
        {"name": "Phones", "url": f"{base}/categories/phones", "parent": "Electronics & Technology"},
        {"name": "Food & Drink", "url": f"{base}/categories/food", "parent": ""},
        {"name": "Coffee", "url": f"{base}/categories/coffee", "parent": "Food & Drink"},
    ]
    assert dict(crawl.requests) == {"/robots.txt": 1, "/categories": 1}
    assert crawl.summary("categories")["items"] == {"category": 5}


def test_scrapy_crawl_reviews_of_one_company(fixture_site, tmp_path):
    crawl = scrapy_crawl(fixture_site, tmp_path, "reviews", "-a", "company=fika-coffee.example")
    assert crawl.returncode == 0, crawl.log
    assert not (tmp_path / "brands.csv").exists()
    reviews = reviews_by_id(crawl, fixture_site.base_url)
    assert reviews == {
        rid: row[:3] + ("", row[4]) for rid, row in EXPECTED_REVIEWS.items() if rid.startswith("f-")
    }
