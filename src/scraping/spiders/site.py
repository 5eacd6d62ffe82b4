"""`scrapy crawl site`: the whole crawl, brands and reviews in one pass (what `crawl-reviews` runs)."""

from brandpulse.scraping.items import BrandItem, ReviewItem
from brandpulse.scraping.spiders.base import ReviewSiteSpider


class SiteSpider(ReviewSiteSpider):
    """Categories -> listings -> companies: brands.csv and reviews.csv from one visit of each page."""

    name = "site"
    item_types = (BrandItem, ReviewItem)
