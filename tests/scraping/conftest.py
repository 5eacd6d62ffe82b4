"""The fixture review site on a free loopback port, and crawls of it in a subprocess.

The site is the static files under `site/` (`{{BASE}}` in them becomes the server's URL):

- `/robots.txt` disallows `/review/echo-phones.example`, which must never be fetched;
- `/categories` is the category index; `/categories/<slug>?page=N` serves
  `site/categories/<slug>/page-N.html`, and `/review/<slug>?page=N` serves
  `site/review/<slug>/page-N.html` (N defaults to 1);
- the URLs in `FAIL_ONCE` answer 503 the first time, then 200 (the retry must get them).
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from scrapy.crawler import Crawler
from scrapy.http import HtmlResponse
from scrapy.utils.test import get_crawler

from brandpulse.scraping import settings as project_settings

SITE_DIR = Path(__file__).parent / "site"
SCRAPY_PROJECT_DIR = Path(__file__).resolve().parents[2] / "src" / "scraping"
FAIL_ONCE = ("/review/acme-laptops.example?page=2",)

# Test crawls run at full speed against the loopback server; settings.py keeps the polite defaults.
FAST_SETTINGS = {
    "AUTOTHROTTLE_ENABLED": "False",
    "DOWNLOAD_DELAY": "0",
    "RETRY_BACKOFF_BASE": "0.05",
    "HTTPPROXY_ENABLED": "False",
    "LOG_LEVEL": "INFO",
}
CRAWL_TIMEOUT = 120  # seconds; a crawl of the fixture site takes a few


def fixture_file(target: str, root: Path = SITE_DIR) -> Path | None:
    """The fixture file a request target (path and query) maps to, or None (404)."""
    parts = urlsplit(target)
    path = parts.path.rstrip("/")
    if path == "/robots.txt":
        return root / "robots.txt"
    if path == "/categories":
        return root / "categories.html"
    page = parse_qs(parts.query).get("page", ["1"])[0]
    candidate = (root / path.lstrip("/") / f"page-{page}.html").resolve()
    if root.resolve() not in candidate.parents or not candidate.is_file():
        return None
    return candidate


def fixture_text(path: Path, base_url: str) -> str:
    """A fixture file's text with `{{BASE}}` replaced by the site's URL."""
    return path.read_text(encoding="utf-8").replace("{{BASE}}", base_url)


def site_response(target: str, base_url: str = "http://reviews.test") -> HtmlResponse:
    """A fixture page as Scrapy would hand it to a callback, for in-process parsing tests."""
    path = fixture_file(target)
    assert path is not None, target
    return HtmlResponse(base_url + target, body=fixture_text(path, base_url).encode(), encoding="utf-8")


def make_crawler(
    spider_class: type, out_dir: Path, arguments: dict | None = None, **settings: object
) -> Crawler:
    """An in-process crawler with the project settings and its spider, for callback and pipeline tests."""
    defaults = {name: getattr(project_settings, name) for name in dir(project_settings) if name.isupper()}
    settings = {**defaults, "SITE_BASE_URL": "http://reviews.test", "OUTPUT_DIR": str(out_dir), **settings}
    crawler = get_crawler(spider_class, settings)
    crawler.spider = spider_class.from_crawler(crawler, **(arguments or {}))
    return crawler


class FixtureSite:
    """A real HTTP server for the fixture files that counts requests per path and query."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.counts: Counter[str] = Counter()
        self.user_agents: set[str] = set()
        self.failed: set[str] = set()
        self.lock = threading.Lock()
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                site.user_agents.add(self.headers.get("User-Agent", ""))
                status, body, content_type = site.answer(self.path)
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass  # keep the test output quiet

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def answer(self, target: str) -> tuple[int, bytes, str]:
        """(status, body, content type) for one request, counted."""
        with self.lock:
            self.counts[target] += 1
            if target in FAIL_ONCE and target not in self.failed:
                self.failed.add(target)
                return 503, b"busy, try again", "text/plain"
        path = fixture_file(target, self.root)
        if path is None:
            return 404, b"not found", "text/plain"
        body = fixture_text(path, self.base_url).encode()
        content_type = "text/plain" if path.suffix == ".txt" else "text/html; charset=utf-8"
        return 200, body, content_type

    def reset(self) -> None:
        """Forget the counts and re-arm the one-time failures."""
        with self.lock:
            self.counts.clear()
            self.failed.clear()
            self.user_agents.clear()


@dataclass
class Crawl:
    """A finished crawl: its output directory, exit code, log and the server's request counts."""

    out_dir: Path
    returncode: int
    log: str
    requests: Counter[str]
    user_agents: set[str]

    def rows(self, name: str) -> list[dict[str, str]]:
        """The rows of an output CSV file."""
        with (self.out_dir / name).open(encoding="utf-8", newline="") as handle:
            return list(csv.DictReader(handle))

    def header(self, name: str) -> list[str]:
        """The header row of an output CSV file."""
        with (self.out_dir / name).open(encoding="utf-8", newline="") as handle:
            return next(csv.reader(handle))

    def summary(self, spider: str = "site") -> dict:
        """The crawl summary the spider wrote."""
        return json.loads((self.out_dir / f"{spider}-summary.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def fixture_site() -> Iterator[FixtureSite]:
    """The fixture review site, served for the whole session."""
    site = FixtureSite(SITE_DIR)
    site.thread.start()
    yield site
    site.server.shutdown()
    site.server.server_close()


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env.pop("SCRAPY_SETTINGS_MODULE", None)
    return env


def run_command(site: FixtureSite, command: list[str], out_dir: Path, cwd: Path | None = None) -> Crawl:
    """Run a crawl command in a subprocess against a freshly reset fixture site."""
    site.reset()
    done = subprocess.run(
        command, cwd=cwd, env=_env(), capture_output=True, text=True, timeout=CRAWL_TIMEOUT, check=False
    )
    return Crawl(
        out_dir, done.returncode, done.stdout + done.stderr, Counter(site.counts), set(site.user_agents)
    )


CONTACT = "https://brandpulse.example/bot"


def crawl_reviews(site: FixtureSite, out_dir: Path, *args: str, **settings: str) -> Crawl:
    """Run `crawl-reviews` (as `python -m brandpulse.scraping.crawl`) against the fixture site."""
    overrides = [f"--set={name}={value}" for name, value in {**FAST_SETTINGS, **settings}.items()]
    command = [
        sys.executable,
        "-m",
        "brandpulse.scraping.crawl",
        "--base-url",
        site.base_url,
        "--out-dir",
        str(out_dir),
        *args,
        *overrides,
    ]
    return run_command(site, command, out_dir)


def scrapy_crawl(site: FixtureSite, out_dir: Path, spider: str, *args: str) -> Crawl:
    """Run `scrapy crawl <spider>` from the Scrapy project directory (its scrapy.cfg)."""
    settings = {**FAST_SETTINGS, "SITE_BASE_URL": site.base_url, "OUTPUT_DIR": str(out_dir)}
    command = [sys.executable, "-m", "scrapy", "crawl", spider, *args]
    for name, value in settings.items():
        command += ["-s", f"{name}={value}"]
    return run_command(site, command, out_dir, cwd=SCRAPY_PROJECT_DIR)


@pytest.fixture(scope="session")
def full_crawl(fixture_site: FixtureSite, tmp_path_factory: pytest.TempPathFactory) -> Crawl:
    """One complete crawl of the fixture site, shared by the tests that read its outputs."""
    crawl = crawl_reviews(fixture_site, tmp_path_factory.mktemp("full-crawl"), "--contact", CONTACT)
    assert crawl.returncode == 0, crawl.log
    return crawl
