"""The pages of the web app, `review` and `admin`, with their sections (`review_*`, `admin_*`).

`create_app` registers the pages; a page module imports its sections, which registers their callbacks.
"""
