"""What the spiders yield: reviews, brands and categories, as dataclasses Scrapy exports field by field."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class ReviewItem:
    """One review of a company: the text and its star rating are the training example."""

    text: str
    rating: int | None  # stars 1-5 as the page gave them; anything else is dropped by the pipeline
    review_id: str
    date: str  # ISO date (YYYY-MM-DD), "" when the page gave none
    company: str
    company_url: str  # the company's page on the review site
    category: str


@dataclass
class BrandItem:
    """One company of the catalogue, as the API's brands table wants it."""

    name: str
    website: str
    logo_url: str
    category: str
    site_url: str  # the company's page on the review site


@dataclass
class CategoryItem:
    """One node of the site's category tree."""

    name: str
    url: str
    parent: str  # the parent category's name, "" at the top
