"""The Scrapy crawler: labelled reviews and the brand catalogue from a Trustpilot-style review site.

Run the whole crawl with `crawl-reviews` (`crawl.py`); see docs/scraping.md.
"""
