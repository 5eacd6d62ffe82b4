"""The shared spider: where a crawl starts, one callback per page type, the limits and failure counts.

The site is walked as category index -> category listings (every page) -> company pages (every
review page, or up to MAX_REVIEW_PAGES). The spiders only extract; pipelines.py validates and
deduplicates, and feed exports write the CSV files (feeds.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, ClassVar, Self
from urllib.parse import urlsplit

import scrapy
from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.http import Request, TextResponse
from scrapy.robotstxt import RobotParser
from scrapy.settings import BaseSettings

from brandpulse.scraping.feeds import feeds, is_resumed_job
from brandpulse.scraping.items import BrandItem, CategoryItem, ReviewItem
from brandpulse.scraping.parsing import parse_categories, parse_company, parse_listing
from brandpulse.scraping.pipelines import is_web_url, job_state
from brandpulse.scraping.summary import PARSE_FAILED, PARSED, ROBOTS_SKIPPED


def split_argument(value: str) -> list[str]:
    """A comma-separated spider argument (`-a company=a.example,b.example`) as a list."""
    return [part.strip() for part in value.split(",") if part.strip()]


class ReviewSiteSpider(scrapy.Spider):
    """Base of the spiders; a subclass sets `name`, the item types it yields and how far it follows."""

    item_types: ClassVar[tuple[type, ...]] = ()
    follow_listings: ClassVar[bool] = True  # from the category index on to the company listings
    base_url: str
    robots: RobotParser | None  # the site's robots.txt rules, once Scrapy has read them

    def __init__(self, *args: Any, category: str = "", company: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.category_arguments = split_argument(category)
        self.company_arguments = split_argument(company)

    @classmethod
    def update_settings(cls, settings: BaseSettings) -> None:
        """Default feeds and summary file in OUTPUT_DIR (-o/-O take precedence); MAX_ITEMS stops the crawl."""
        super().update_settings(settings)
        out_dir = Path(settings.get("OUTPUT_DIR") or ".")
        append = is_resumed_job(settings.get("JOBDIR"))
        settings.set("FEEDS", feeds(out_dir, cls.item_types, append=append), priority="spider")
        if not settings.get("SUMMARY_FILE"):
            settings.set("SUMMARY_FILE", str(out_dir / f"{cls.name}-summary.json"), priority="spider")
        if settings.getint("MAX_ITEMS") and not settings.getint("CLOSESPIDER_ITEMCOUNT"):
            settings.set("CLOSESPIDER_ITEMCOUNT", settings.getint("MAX_ITEMS"), priority="spider")

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> Self:
        """Create the spider, bound to the site SITE_BASE_URL names (and to no other host)."""
        spider = super().from_crawler(crawler, *args, **kwargs)
        base_url = crawler.settings.get("SITE_BASE_URL", "").rstrip("/")
        if not is_web_url(base_url):
            raise ValueError(
                f"SITE_BASE_URL must be the review site's http(s) URL, got {base_url!r}: "
                "pass -s SITE_BASE_URL=https://... (crawl-reviews --base-url)"
            )
        spider.base_url = base_url
        spider.allowed_domains = [urlsplit(base_url).hostname or ""]
        spider.robots = None
        crawler.signals.connect(spider.robots_parsed, signal=signals.robots_parsed)
        return spider

    def robots_parsed(self, robotparser: RobotParser, request: Request) -> None:
        """Keep the site's robots.txt rules (read by Scrapy's middleware before the first page)."""
        if urlsplit(request.url).netloc == urlsplit(self.base_url).netloc:
            self.robots = robotparser

    def robots_allow(self, url: str) -> bool:
        """Whether the site's robots.txt, once read, lets this crawler fetch `url`.

        The middleware refuses disallowed requests anyway; asking first keeps companies the site
        disallows from using up MAX_COMPANIES.
        """
        if self.robots is None or not self.settings.getbool("ROBOTSTXT_OBEY"):
            return True
        agent = self.settings.get("ROBOTSTXT_USER_AGENT") or self.settings.get("USER_AGENT")
        return self.robots.allowed(url, agent)

    def site_url(self, prefix_setting: str, slug_or_url: str) -> str:
        """A page of the site from a slug (`acme.example`) or a full URL given as an argument."""
        if "://" in slug_or_url:
            return slug_or_url
        return self.base_url + self.settings.get(prefix_setting) + slug_or_url

    async def start(self) -> AsyncIterator[Request]:
        """The companies or categories given with -a, else the category index."""
        for request in self.first_requests():
            yield request

    def first_requests(self) -> Iterator[Request]:
        """The crawl's first requests."""
        if self.company_arguments:
            for company in self.company_arguments:
                if self.take_company(self.site_url("SITE_COMPANY_PREFIX", company)):
                    yield self.company_request(self.site_url("SITE_COMPANY_PREFIX", company), "", "")
        elif self.category_arguments:
            for category in self.category_arguments:
                url = self.site_url("SITE_CATEGORY_PREFIX", category)
                yield Request(url, self.parse_listing, cb_kwargs={"category": ""})
        else:
            url = self.base_url + self.settings.get("SITE_CATEGORIES_PATH")
            yield Request(url, self.parse_category_index)

    # Bookkeeping: counts in the stats, and state that a JOBDIR resume keeps.

    def job_state(self) -> dict[str, Any]:
        """The crawl's state that a JOBDIR resume keeps (companies requested, items seen)."""
        return job_state(self)

    def parsed(self, page_type: str, source: str) -> None:
        """Count a page read from structured data ("jsonld") or by the HTML fallback ("html")."""
        self.crawler.stats.inc_value(f"{PARSED}/{page_type}/{source}")

    def parse_failed(self, page_type: str, response: TextResponse) -> None:
        """Log and count a page where neither the structured data nor the HTML selectors found anything."""
        self.logger.warning(
            "%s page %s: found nothing in its structured data or HTML (layout changed?)",
            page_type,
            response.url,
        )
        self.crawler.stats.inc_value(f"{PARSE_FAILED}/{page_type}")

    def companies_full(self) -> bool:
        """Whether MAX_COMPANIES company pages have been requested (never, with 0: no limit)."""
        limit = self.settings.getint("MAX_COMPANIES")
        return bool(limit) and len(self.job_state().get("companies_requested", ())) >= limit

    def take_company(self, url: str) -> bool:
        """Whether this company's page may be requested under MAX_COMPANIES; counts it if so."""
        requested: set[str] = self.job_state().setdefault("companies_requested", set())
        if url in requested:
            return True
        if self.companies_full():
            return False
        requested.add(url)
        return True

    def company_request(self, url: str, category: str, company: str) -> Request:
        """The request for page 1 of a company's reviews."""
        kwargs = {"category": category, "company": company, "company_url": url, "page": 1}
        return Request(url, self.parse_company, cb_kwargs=kwargs)

    # Callbacks, one per page type.

    def parse_category_index(self, response: TextResponse) -> Iterator[Any]:
        """The category index: yields categories and/or follows the leaf categories' listings."""
        categories = parse_categories(response, self.settings.get("SITE_CATEGORY_PREFIX"))
        if not categories:
            self.parse_failed("categories", response)
            return
        self.parsed("categories", "html")
        for category in categories:
            if CategoryItem in self.item_types:
                yield CategoryItem(name=category.name, url=category.url, parent=category.parent)
            # A parent's listing repeats its children's companies: only leaves are followed.
            if self.follow_listings and category.leaf:
                yield response.follow(category.url, self.parse_listing, cb_kwargs={"category": category.name})

    def parse_listing(self, response: TextResponse, category: str) -> Iterator[Request]:
        """One page of a category's companies: follows each company and the next page."""
        listing = parse_listing(response, self.settings.get("SITE_COMPANY_PREFIX"))
        if listing.source is None:
            self.parse_failed("listing", response)
            return
        self.parsed("listing", listing.source)
        category = category or listing.title
        for company in listing.companies:
            if not self.robots_allow(company.url):
                self.logger.info("robots.txt disallows %s: skipped", company.url)
                self.crawler.stats.inc_value(ROBOTS_SKIPPED)
                continue
            if not self.take_company(company.url):
                self.logger.info("MAX_COMPANIES reached: %s and later companies are left out", company.url)
                return
            yield self.company_request(company.url, category, company.name)
        if listing.next_url and not self.companies_full():
            yield response.follow(listing.next_url, self.parse_listing, cb_kwargs={"category": category})

    def parse_company(
        self, response: TextResponse, category: str, company: str, company_url: str, page: int
    ) -> Iterator[Any]:
        """One page of a company's reviews: the brand (from page 1), its reviews, the next page."""
        parsed = parse_company(response)
        if parsed.found_nothing:
            self.parse_failed("company", response)
            return
        if parsed.brand_source:
            self.parsed("company", parsed.brand_source)
        if parsed.review_source:
            self.parsed("reviews", parsed.review_source)
        name = parsed.name or company
        if page == 1 and BrandItem in self.item_types:
            yield BrandItem(
                name=name,
                website=parsed.website,
                logo_url=parsed.logo_url,
                category=category,
                site_url=company_url,
            )
        if ReviewItem not in self.item_types:
            return
        for review in parsed.reviews:
            yield ReviewItem(
                text=review.text,
                rating=review.rating,
                review_id=review.review_id,
                date=review.date,
                company=name,
                company_url=company_url,
                category=category,
            )
        max_pages = self.settings.getint("MAX_REVIEW_PAGES")
        if parsed.next_url and (not max_pages or page < max_pages):
            kwargs = {"category": category, "company": name, "company_url": company_url, "page": page + 1}
            yield response.follow(parsed.next_url, self.parse_company, cb_kwargs=kwargs)
