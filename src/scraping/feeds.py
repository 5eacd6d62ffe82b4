"""The crawl's output files (Scrapy feed exports) and their columns, which the rest of BrandPulse reads.

- `reviews.csv`: `text,label,...` with `label` the star rating 1-5, for
  `train --labels stars3` (or `stars2`).
- `brands.csv`: `name,website,logo_url,...`, for the API's brand seeding command.
- `categories.csv`: `name,url,parent`, the site's category tree.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from brandpulse.scraping.items import BrandItem, CategoryItem, ReviewItem

# Item field -> CSV column, in column order.
REVIEW_COLUMNS = {
    "text": "text",
    "rating": "label",
    "review_id": "review_id",
    "date": "date",
    "company": "company",
    "company_url": "company_url",
    "category": "category",
}
BRAND_COLUMNS = {
    "name": "name",
    "website": "website",
    "logo_url": "logo_url",
    "category": "category",
    "site_url": "site_url",
}
CATEGORY_COLUMNS = {"name": "name", "url": "url", "parent": "parent"}

OUTPUTS: dict[type, tuple[str, dict[str, str]]] = {
    ReviewItem: ("reviews.csv", REVIEW_COLUMNS),
    BrandItem: ("brands.csv", BRAND_COLUMNS),
    CategoryItem: ("categories.csv", CATEGORY_COLUMNS),
}


def is_resumed_job(jobdir: str | Path | None) -> bool:
    """Whether JOBDIR holds an earlier run of the job (Scrapy's seen-requests file is there)."""
    return bool(jobdir) and (Path(jobdir) / "requests.seen").is_file()


def feeds(out_dir: str | Path, item_classes: Iterable[type], *, append: bool = False) -> dict[str, Any]:
    """The FEEDS setting writing each item class to its CSV file in `out_dir`.

    With `append` (a resumed JOBDIR crawl) the files are extended rather than replaced, and a file
    that already has its header does not get a second one.
    """
    result: dict[str, Any] = {}
    for item_class in item_classes:
        filename, columns = OUTPUTS[item_class]
        path = Path(out_dir) / filename
        has_header = append and path.is_file() and path.stat().st_size > 0
        result[str(path)] = {
            "format": "csv",
            "encoding": "utf-8",
            "fields": columns,
            "item_classes": [item_class],
            "overwrite": not append,
            "item_export_kwargs": {"include_headers_line": not has_header},
        }
    return result
