"""Reading the review site's pages: embedded structured data first, HTML selectors as the fallback.

Every page type has one function here returning plain dataclasses, and each says which source
worked (`"jsonld"`, `"html"`, or `None` when neither found anything), so the spiders can count
fallbacks and failures. Structured data (schema.org JSON-LD: `ItemList` on listings, an
`Organization`/`LocalBusiness` and `Review` nodes on company pages) survives a redesign; the HTML
fallback prefers what a cosmetic change leaves alone, such as link URLs, `rel="next"`, `<time>`
and `data-*` attributes, and uses class names only as the last resort. To adapt the crawler to
another site, change the selectors below (see docs/scraping.md).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from parsel import Selector
from scrapy.http import TextResponse

logger = logging.getLogger(__name__)

ORGANIZATION_TYPES = {
    "Organization",
    "LocalBusiness",
    "Corporation",
    "OnlineBusiness",
    "OnlineStore",
    "Store",
}

# HTML fallback selectors (XPath, relative to the page or to one review card).
HTML_NEXT_PAGE = '//link[@rel="next"]/@href | //a[@rel="next"]/@href'
HTML_LISTING_TITLE = "normalize-space(//h1)"
HTML_COMPANY_NAME = '//h1//*[contains(@class, "name")]'
HTML_COMPANY_NAME_FALLBACK = "//h1"
HTML_COMPANY_WEBSITE = '//a[contains(@class, "website")]/@href'
HTML_COMPANY_LOGO = '//img[contains(@class, "logo")]/@src'
HTML_REVIEW_CARD = '//article[@data-review-id] | //article[contains(@class, "review")]'
HTML_REVIEW_ID = "./@data-review-id"
HTML_REVIEW_TEXT = './/*[contains(@class, "review-text") or @data-review-text]'
HTML_REVIEW_RATING = ".//*[@data-rating]/@data-rating"
HTML_REVIEW_RATING_ALT = './/img[starts-with(@alt, "Rated ")]/@alt'
HTML_REVIEW_DATE = ".//time/@datetime"


@dataclass
class Link:
    """A named link to another page of the site (a category or a company)."""

    name: str
    url: str
    parent: str = ""  # categories only: the parent category's name
    leaf: bool = True  # categories only: no sub-categories below it


@dataclass
class Listing:
    """One page of a category's company listing."""

    title: str
    companies: list[Link]
    next_url: str | None
    source: str | None


@dataclass
class ParsedReview:
    """One review as found on a company page, not yet validated."""

    review_id: str
    text: str
    rating: int | None
    date: str


@dataclass
class CompanyPage:
    """One page of a company's reviews, with the company's details from the same page."""

    name: str
    website: str
    logo_url: str
    reviews: list[ParsedReview] = field(default_factory=list)
    next_url: str | None = None
    brand_source: str | None = None
    review_source: str | None = None

    @property
    def found_nothing(self) -> bool:
        """Neither the structured data nor the HTML gave a company name or a review."""
        return not self.name and not self.reviews


def json_ld_nodes(response: TextResponse) -> list[dict[str, Any]]:
    """Every JSON-LD object on the page: top-level objects, list members and `@graph` members."""
    nodes: list[dict[str, Any]] = []
    for raw in response.xpath('//script[@type="application/ld+json"]/text()').getall():
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as error:
            logger.info("%s: unreadable JSON-LD block (%s)", response.url, error.msg)
            continue
        pending = data if isinstance(data, list) else [data]
        while pending:
            node = pending.pop(0)
            if isinstance(node, dict):
                nodes.append(node)
                graph = node.get("@graph")
                pending.extend(graph if isinstance(graph, list) else [])
    return nodes


def _types(node: dict[str, Any]) -> set[str]:
    value = node.get("@type", ())
    return {value} if isinstance(value, str) else {str(v) for v in value}


def _text(value: Any) -> str:
    """A JSON-LD or HTML value as clean text: spaces collapsed, line breaks kept, ends stripped."""
    if value is None:
        return ""
    lines = (" ".join(line.split()) for line in str(value).splitlines())
    return "\n".join(line for line in lines if line).strip()


def _url(response: TextResponse, value: Any) -> str:
    """An absolute URL (relative ones resolved against the page), or "" for anything unusable."""
    if isinstance(value, dict):  # schema.org ImageObject
        value = value.get("url") or value.get("contentUrl")
    if not isinstance(value, str) or not value.strip():
        return ""
    return response.urljoin(value.strip())


def parse_rating(value: Any) -> int | None:
    """A star rating as an integer, or None when it is not a whole number (e.g. "4.5", "five")."""
    if isinstance(value, dict):  # schema.org Rating
        value = value.get("ratingValue")
    if isinstance(value, str):
        match = re.search(r"-?\d+(?:\.\d+)?", value)
        value = match.group() if match else None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return int(number) if number.is_integer() else None


def parse_date(value: Any) -> str:
    """An ISO 8601 date or date-time as "YYYY-MM-DD", or "" when unreadable."""
    if not isinstance(value, str) or not value.strip():
        return ""
    try:
        return datetime.fromisoformat(value.strip()).date().isoformat()
    except ValueError:
        return ""


def _id_from(node: dict[str, Any]) -> str:
    identifier = node.get("identifier")
    if isinstance(identifier, dict):
        identifier = identifier.get("value")
    if identifier:
        return str(identifier)
    node_id = str(node.get("@id") or "")
    return node_id.rstrip("/").rsplit("/", 1)[-1] if node_id else ""


def next_page(response: TextResponse) -> str | None:
    """The next page of a paged list (`rel="next"` on a `<link>` or an `<a>`), absolute, if any."""
    href = response.xpath(HTML_NEXT_PAGE).get()
    return response.urljoin(href) if href else None


def _links_under(response: TextResponse, prefix: str) -> Iterator[tuple[Selector, str]]:
    """(anchor, absolute URL) for the page's links to `<prefix><slug>` on the same site, first seen first."""
    host = urlsplit(response.url).netloc
    seen: set[str] = set()
    for anchor in response.xpath("//a[@href]"):
        url = response.urljoin(anchor.attrib["href"])
        parts = urlsplit(url)
        slug = parts.path[len(prefix) :] if parts.path.startswith(prefix) else ""
        if parts.netloc != host or not slug or "/" in slug.strip("/") or url in seen:
            continue
        seen.add(url)
        yield anchor, url.split("#", 1)[0]


def parse_categories(response: TextResponse, category_prefix: str) -> list[Link]:
    """The category tree of the site's category index, in page order.

    Category links are recognised by their URL (`<category_prefix><slug>`), the tree by the
    nesting of the list items holding them, so neither depends on class names.
    """
    categories = []
    for anchor, url in _links_under(response, category_prefix):
        parent = anchor.xpath("./ancestor::li[2]/a[1]")
        has_children = bool(anchor.xpath(f'./ancestor::li[1]//li/a[contains(@href, "{category_prefix}")]'))
        categories.append(
            Link(
                name=_text(anchor.xpath("normalize-space(.)").get()),
                url=url,
                parent=_text(parent.xpath("normalize-space(.)").get()) if parent else "",
                leaf=not has_children,
            )
        )
    return categories


def parse_listing(response: TextResponse, company_prefix: str) -> Listing:
    """One page of a category listing: its companies and the next page."""
    for node in json_ld_nodes(response):
        if "ItemList" not in _types(node):
            continue
        companies = []
        for element in node.get("itemListElement") or []:
            if not isinstance(element, dict):
                continue
            item = element.get("item") if isinstance(element.get("item"), dict) else {}
            url = _url(response, element.get("url") or item.get("url") or item.get("@id"))
            name = _text(element.get("name") or item.get("name"))
            if url:
                companies.append(Link(name=name, url=url))
        if companies:
            title = _text(node.get("name")) or _text(response.xpath(HTML_LISTING_TITLE).get())
            return Listing(title, companies, next_page(response), "jsonld")
    companies = []
    for anchor, url in _links_under(response, company_prefix):
        named = anchor.xpath('normalize-space(.//*[contains(@class, "name")])').get()
        companies.append(Link(name=_text(named or anchor.xpath("normalize-space(.)").get()), url=url))
    title = _text(response.xpath(HTML_LISTING_TITLE).get())
    return Listing(title, companies, next_page(response), "html" if companies else None)


def _reviews_from_json_ld(nodes: list[dict[str, Any]]) -> list[ParsedReview]:
    review_nodes = [node for node in nodes if "Review" in _types(node)]
    if not review_nodes:  # reviews nested in the organisation rather than listed beside it
        for node in nodes:
            nested = node.get("review") if _types(node) & ORGANIZATION_TYPES else None
            nested = nested if isinstance(nested, list) else [nested]
            review_nodes.extend(r for r in nested if isinstance(r, dict))
    return [
        ParsedReview(
            review_id=_id_from(node),
            text=_text(node.get("reviewBody") or node.get("description")),
            rating=parse_rating(node.get("reviewRating")),
            date=parse_date(node.get("datePublished")),
        )
        for node in review_nodes
    ]


def _reviews_from_html(response: TextResponse) -> list[ParsedReview]:
    reviews = []
    for card in response.xpath(HTML_REVIEW_CARD):
        rating = card.xpath(HTML_REVIEW_RATING).get() or card.xpath(HTML_REVIEW_RATING_ALT).get()
        reviews.append(
            ParsedReview(
                review_id=_text(card.xpath(HTML_REVIEW_ID).get()),
                text=_text("\n".join(card.xpath(HTML_REVIEW_TEXT).xpath("string(.)").getall())),
                rating=parse_rating(rating),
                date=parse_date(card.xpath(HTML_REVIEW_DATE).get()),
            )
        )
    return reviews


def parse_company(response: TextResponse) -> CompanyPage:
    """One page of a company's reviews: the company's details, its reviews and the next page."""
    nodes = json_ld_nodes(response)
    page = CompanyPage(name="", website="", logo_url="", next_url=next_page(response))
    organization = next((node for node in nodes if _types(node) & ORGANIZATION_TYPES), None)
    if organization and _text(organization.get("name")):
        page.name = _text(organization.get("name"))
        page.website = _url(response, organization.get("url"))
        page.logo_url = _url(response, organization.get("logo") or organization.get("image"))
        page.brand_source = "jsonld"
    else:
        name = response.xpath(HTML_COMPANY_NAME) or response.xpath(HTML_COMPANY_NAME_FALLBACK)
        page.name = _text(name[0].xpath("normalize-space(.)").get()) if name else ""
        page.website = _url(response, response.xpath(HTML_COMPANY_WEBSITE).get())
        page.logo_url = _url(response, response.xpath(HTML_COMPANY_LOGO).get())
        page.brand_source = "html" if page.name else None
    page.reviews = _reviews_from_json_ld(nodes)
    if page.reviews:
        page.review_source = "jsonld"
    else:
        page.reviews = _reviews_from_html(response)
        page.review_source = "html" if page.reviews else None
    return page
