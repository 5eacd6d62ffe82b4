"""Scrapy settings of the BrandPulse crawler: polite by default, every limit in one place.

Change any of them for one run with `-s NAME=VALUE` (`scrapy crawl`) or `--set NAME=VALUE`
(`crawl-reviews`). docs/scraping.md explains them.
"""

BOT_NAME = "brandpulse"
SPIDER_MODULES = ["brandpulse.scraping.spiders"]
NEWSPIDER_MODULE = "brandpulse.scraping.spiders"

# The review site. The base URL has no default: a crawl must name the site it visits.
SITE_BASE_URL = ""
SITE_CATEGORIES_PATH = "/categories"  # the category index
SITE_CATEGORY_PREFIX = "/categories/"  # a category's listing is <prefix><slug>
SITE_COMPANY_PREFIX = "/review/"  # a company's page is <prefix><slug>

# Outputs: reviews.csv, brands.csv (or categories.csv) and <spider>-summary.json in OUTPUT_DIR,
# unless -o/-O name other feeds. SUMMARY_FILE overrides where the summary goes.
OUTPUT_DIR = "data/crawl"
SUMMARY_FILE = ""

# Limits, so that a crawl can be bounded (0: no limit).
MAX_COMPANIES = 0  # company pages requested in the whole crawl
MAX_REVIEW_PAGES = 0  # review pages per company
MAX_ITEMS = 0  # items kept (reviews + brands); also stops the crawl through CLOSESPIDER_ITEMCOUNT

# Politeness: an identifying user agent, robots.txt, AutoThrottle, few parallel requests per site.
# Whoever runs a crawl should say how to reach them: `crawl-reviews --contact URL-or-e-mail` puts
# it in the user agent ("BrandPulseBot/0.1 (+https://…; …)").
USER_AGENT = "BrandPulseBot/0.1 (BrandPulse open-source review crawler)"
ROBOTSTXT_OBEY = True
CONCURRENT_REQUESTS = 8
CONCURRENT_REQUESTS_PER_DOMAIN = 2
DOWNLOAD_DELAY = 1.0  # also AutoThrottle's lower bound
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 5.0
AUTOTHROTTLE_MAX_DELAY = 60.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 1.0
DOWNLOAD_TIMEOUT = 30

# Retries with backoff on throttling and server errors (middlewares.py).
RETRY_ENABLED = True
RETRY_TIMES = 3
RETRY_HTTP_CODES = [429, 500, 502, 503, 504, 522, 524, 408]
RETRY_BACKOFF_BASE = 2.0  # seconds before the first retry, doubled for each further one
RETRY_BACKOFF_MAX = 120.0
DOWNLOADER_MIDDLEWARES = {
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    "brandpulse.scraping.middlewares.BackoffRetryMiddleware": 550,
}

ITEM_PIPELINES = {
    "brandpulse.scraping.pipelines.ValidationPipeline": 100,
    "brandpulse.scraping.pipelines.DuplicatesPipeline": 200,
    "brandpulse.scraping.pipelines.ItemLimitPipeline": 300,
}
EXTENSIONS = {"brandpulse.scraping.summary.CrawlSummary": 500}
DEFAULT_DROPITEM_LOG_LEVEL = "INFO"  # drops are counted in the summary; no warning per item

# Not needed here, and each is a liability: cookies (tracking, and tldextract may fetch the public
# suffix list), the telnet console and Scrapy's remote-control HTTP server (runs posted code).
COOKIES_ENABLED = False
TELNETCONSOLE_ENABLED = False
REMOTE_CONTROL_ENABLED = False

FEED_EXPORT_ENCODING = "utf-8"
LOG_LEVEL = "INFO"
