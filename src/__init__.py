"""BrandPulse: brand reviews with live, model-suggested ratings.

Sub-packages: `training` (the character-level CNN, its encoding, data and command lines),
`api` (the Flask REST API), `dash` (the Dash front end) and `scraping` (the Scrapy crawler).
"""
