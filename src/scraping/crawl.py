"""`crawl-reviews`: the whole crawl in one command, writing reviews.csv and brands.csv.

Example::

    crawl-reviews --base-url https://reviews.example --out-dir data/crawl \
        --max-companies 200 --max-review-pages 10 --jobdir data/crawl/job

It runs the `site` spider with the project settings (settings.py); every Scrapy setting can be
changed with `--set NAME=VALUE`. Run the same command again with the same `--jobdir` to resume an
interrupted crawl: the outputs are then extended, not replaced.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from pathlib import Path

from scrapy.crawler import AsyncCrawlerProcess
from scrapy.settings import Settings

from brandpulse.scraping import settings as project_settings
from brandpulse.scraping.spiders.site import SiteSpider

logger = logging.getLogger(__name__)

# Finish reasons of a crawl that ran to its end or to one of its limits.
COMPLETE = {"finished", "closespider_itemcount", "closespider_pagecount", "closespider_timeout"}


def _setting(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return name.strip(), value


def build_parser() -> argparse.ArgumentParser:
    """The `crawl-reviews` command line."""
    p = argparse.ArgumentParser(prog="crawl-reviews", description=__doc__.splitlines()[0])
    p.add_argument("--base-url", required=True, help="the review site, e.g. https://reviews.example")
    p.add_argument("--out-dir", type=Path, default=Path("data/crawl"), help="where the CSV files go")
    p.add_argument("--jobdir", type=Path, help="keep the crawl's state here, to pause and resume it")
    p.add_argument("--category", default="", help="crawl only these categories (comma-separated slugs)")
    p.add_argument("--company", default="", help="crawl only these companies (comma-separated slugs)")
    p.add_argument("--max-companies", type=int, default=0, help="company pages to visit at most (0: all)")
    p.add_argument("--max-review-pages", type=int, default=0, help="review pages per company (0: all)")
    p.add_argument("--max-items", type=int, default=0, help="stop after this many reviews+brands (0: all)")
    p.add_argument(
        "--contact",
        help="a URL or e-mail address where site owners can reach you; added to the user agent",
    )
    p.add_argument(
        "--set",
        dest="overrides",
        type=_setting,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="any Scrapy setting, e.g. --set DOWNLOAD_DELAY=2 (repeatable)",
    )
    p.add_argument("--log-level", default="INFO", help="logging level")
    return p


def user_agent_with_contact(user_agent: str, contact: str) -> str:
    """`Name/version (+contact; comment)`, the form crawlers use to say who runs them."""
    name, _, comment = user_agent.partition(" (")
    return f"{name} (+{contact.strip()}; {comment}" if comment else f"{name} (+{contact.strip()})"


def crawl_settings(args: argparse.Namespace) -> Settings:
    """The project settings with this run's options on top."""
    settings = Settings()
    settings.setmodule(project_settings, priority="project")
    options = {
        "SITE_BASE_URL": args.base_url,
        "OUTPUT_DIR": str(args.out_dir),
        "MAX_COMPANIES": args.max_companies,
        "MAX_REVIEW_PAGES": args.max_review_pages,
        "MAX_ITEMS": args.max_items,
        "LOG_LEVEL": args.log_level.upper(),
    }
    if args.jobdir:
        options["JOBDIR"] = str(args.jobdir)
    if args.contact:
        options["USER_AGENT"] = user_agent_with_contact(settings.get("USER_AGENT"), args.contact)
    options.update(dict(args.overrides))
    settings.setdict(options, priority="cmdline")
    return settings


def main(argv: Sequence[str] | None = None) -> int:
    """Run the `crawl-reviews` command line; returns the process exit code."""
    args = build_parser().parse_args(argv)
    process = AsyncCrawlerProcess(crawl_settings(args))
    crawler = process.create_crawler(SiteSpider)
    process.crawl(crawler, category=args.category, company=args.company)
    process.start()
    assert crawler.stats is not None
    reason = crawler.stats.get_value("finish_reason")
    if reason not in COMPLETE:
        logger.error("the crawl stopped early (%s); with --jobdir, the same command resumes it", reason)
        return 1
    if not crawler.stats.get_value("item_scraped_count"):
        logger.error("the crawl kept no items: check --base-url and the summary in %s", args.out_dir)
        return 1
    logger.info("outputs in %s", args.out_dir)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
