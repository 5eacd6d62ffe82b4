"""The spiders: `categories`, `companies`, `reviews` and `site` (everything; what `crawl-reviews` runs)."""
