"""`scrapy crawl categories`: the site's category tree, to categories.csv."""

from brandpulse.scraping.items import CategoryItem
from brandpulse.scraping.spiders.base import ReviewSiteSpider


class CategoriesSpider(ReviewSiteSpider):
    """The category tree (name, URL, parent) from the category index."""

    name = "categories"
    item_types = (CategoryItem,)
    follow_listings = False
