"""Reading the fixture pages in-process: structured data first, the HTML fallback agreeing with it."""

from __future__ import annotations

import re

import pytest

from brandpulse.scraping.parsing import (
    ParsedReview,
    json_ld_nodes,
    parse_categories,
    parse_company,
    parse_date,
    parse_listing,
    parse_rating,
)
from tests.scraping.conftest import site_response

BASE = "http://reviews.test"
JSON_LD = re.compile(rb'<script type="application/ld\+json">.*?</script>', re.S)


def without_json_ld(target: str):
    """The fixture page with its structured data removed, as after a redesign that dropped it."""
    response = site_response(target, BASE)
    return response.replace(body=JSON_LD.sub(b"", response.body))


def test_category_tree_comes_from_links_and_nesting():
    categories = parse_categories(site_response("/categories", BASE), "/categories/")
    assert [(c.name, c.url, c.parent, c.leaf) for c in categories] == [
        ("Electronics & Technology", f"{BASE}/categories/electronics", "", False),
        ("Laptops", f"{BASE}/categories/laptops", "Electronics & Technology", True),
        ("Phones", f"{BASE}/categories/phones", "Electronics & Technology", True),
        ("Food & Drink", f"{BASE}/categories/food", "", False),
        ("Coffee", f"{BASE}/categories/coffee", "Food & Drink", True),
    ]


def test_listing_reads_json_ld_and_next_page():
    listing = parse_listing(site_response("/categories/laptops", BASE), "/review/")
    assert listing.source == "jsonld"
    assert listing.title == "Laptops"
    assert [(c.name, c.url) for c in listing.companies] == [
        ("Acme Laptops", f"{BASE}/review/acme-laptops.example"),
        ("Bolt Computing", f"{BASE}/review/bolt-computing.example"),
    ]
    assert listing.next_url == f"{BASE}/categories/laptops?page=2"
    assert parse_listing(site_response("/categories/laptops?page=2", BASE), "/review/").next_url is None


@pytest.mark.parametrize(
    "target", ["/categories/laptops", "/categories/laptops?page=2", "/categories/phones"]
)
def test_listing_html_fallback_finds_the_same_companies(target):
    structured = parse_listing(site_response(target, BASE), "/review/")
    fallback = parse_listing(without_json_ld(target), "/review/")
    assert fallback.source == "html"
    assert (fallback.title, fallback.companies, fallback.next_url) == (
        structured.title,
        structured.companies,
        structured.next_url,
    )


def test_listing_without_structured_data():
    listing = parse_listing(site_response("/categories/coffee", BASE), "/review/")
    assert listing.source == "html"
    assert [c.name for c in listing.companies] == ["Fika Coffee", "Ghost Kitchen"]


def test_company_page_from_json_ld():
    page = parse_company(site_response("/review/acme-laptops.example", BASE))
    assert (page.brand_source, page.review_source) == ("jsonld", "jsonld")
    assert (page.name, page.website, page.logo_url) == (
        "Acme Laptops",
        "https://acme-laptops.example",
        "https://cdn.example/logos/acme.png",
    )
    assert page.reviews == [
        ParsedReview("a-1", "Fast delivery and the laptop works perfectly.", 5, "2024-03-01"),
        ParsedReview("a-2", "Good machine, battery could be better.", 4, "2024-02-20"),
        ParsedReview("a-3", "Arrived broken and support never replied.", 1, "2024-02-11"),
    ]
    assert page.next_url == f"{BASE}/review/acme-laptops.example?page=2"


@pytest.mark.parametrize(
    "target",
    [
        "/review/acme-laptops.example",
        "/review/acme-laptops.example?page=2",
        "/review/bolt-computing.example",
        "/review/circuit-city.example?page=2",
        "/review/dial-mobile.example",
    ],
)
def test_company_html_fallback_agrees_with_json_ld(target):
    structured = parse_company(site_response(target, BASE))
    fallback = parse_company(without_json_ld(target))
    assert (fallback.brand_source, fallback.review_source) == ("html", "html")
    for name in ("name", "website", "logo_url", "reviews", "next_url"):
        assert getattr(fallback, name) == getattr(structured, name), name


def test_unreadable_json_ld_falls_back_to_html():
    response = site_response("/review/circuit-city.example?page=3", BASE)
    assert json_ld_nodes(response) == []
    page = parse_company(response)
    assert (page.brand_source, page.review_source) == ("html", "html")
    assert page.name == "Circuit City"
    assert page.reviews == [ParsedReview("c-4", "Fine, but the website is confusing.", 3, "2024-04-28")]


def test_malformed_reviews_are_parsed_as_they_are():
    # Validation is the pipeline's job: the parser reports what the page says.
    reviews = parse_company(site_response("/review/bolt-computing.example", BASE)).reviews
    assert [(r.review_id, r.text, r.rating) for r in reviews] == [
        ("b-1", "It was okay. Shipping took a while.", 3),
        ("b-2", "Best shop ever!!!", 7),
        ("b-3", "", 5),
    ]


def test_page_with_neither_structured_data_nor_known_html():
    page = parse_company(site_response("/review/ghost-kitchen.example", BASE))
    assert page.found_nothing
    assert (page.brand_source, page.review_source) == (None, None)


@pytest.mark.parametrize(
    "value, expected",
    [
        (5, 5),
        ("4", 4),
        ("3.0", 3),
        ({"@type": "Rating", "ratingValue": "2"}, 2),
        ("Rated 1 out of 5 stars", 1),
        ("4.5", None),
        ("five", None),
        (None, None),
        ("", None),
    ],
)
def test_parse_rating(value, expected):
    assert parse_rating(value) == expected


@pytest.mark.parametrize(
    "value, expected",
    [
        ("2024-03-01T09:15:00Z", "2024-03-01"),
        ("2024-03-01T23:59:59+02:00", "2024-03-01"),
        ("2024-03-01", "2024-03-01"),
        ("March 1st", ""),
        (None, ""),
    ],
)
def test_parse_date(value, expected):
    assert parse_date(value) == expected
