"""`scrapy crawl companies [-a category=slug,...]`: the brand catalogue, to brands.csv."""

from brandpulse.scraping.items import BrandItem
from brandpulse.scraping.spiders.base import ReviewSiteSpider


class CompaniesSpider(ReviewSiteSpider):
    """Every company of every (or the given) category's listing, every listing page, as brands."""

    name = "companies"
    item_types = (BrandItem,)
