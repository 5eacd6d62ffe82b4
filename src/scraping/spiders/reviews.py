"""`scrapy crawl reviews [-a company=slug,...] [-a category=slug,...]`: labelled reviews, to reviews.csv."""

from brandpulse.scraping.items import ReviewItem
from brandpulse.scraping.spiders.base import ReviewSiteSpider


class ReviewsSpider(ReviewSiteSpider):
    """Each given (or listed) company's reviews, every page or up to MAX_REVIEW_PAGES."""

    name = "reviews"
    item_types = (ReviewItem,)
