"""Brand logos, always served by this app: a local file when there is one, else generated initials.

A brand's logo is the file `<slug>.svg|png|webp|jpg` in `LOGO_DIR` (default: the package's
`logos/` folder), served at `/logos/<file>`. A brand without one gets an SVG of its initials on a
colour derived from its name, inlined as a `data:` URI. So a logo is never a broken image and
never a request to another server (the crawler's remote `logo_url` is deliberately not used).
"""

from __future__ import annotations

import base64
import re
import unicodedata
import zlib
from pathlib import Path
from xml.sax.saxutils import escape

from flask import Flask, send_from_directory

from brandpulse.dash.settings import WebSettings

ROUTE = "/logos"
EXTENSIONS = (".svg", ".png", ".webp", ".jpg", ".jpeg")
CACHE_SECONDS = 3600
# Bootstrap 5 colours dark enough for white text (contrast >= 4.5:1).
PALETTE = ("#0a58ca", "#146c43", "#b02a37", "#59359a", "#087990", "#997404", "#ab296a", "#495057")


def slugify(name: str) -> str:
    """The file-name form of a brand name: "Dr. Martens" -> "dr-martens"."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")
    return slug or "brand"


def initials(name: str) -> str:
    """One or two letters standing for the brand: "Nike" -> "N", "Coca Cola" -> "CC"."""
    words = re.findall(r"\w+", name)
    if not words:
        return "?"
    letters = words[0][0] + (words[1][0] if len(words) > 1 else "")
    return letters.upper()


def colour(name: str) -> str:
    """A background colour that is always the same for the same name."""
    return PALETTE[zlib.crc32(name.encode("utf-8")) % len(PALETTE)]


def generated_logo(name: str) -> str:
    """An SVG of the brand's initials in white on its colour."""
    text = escape(initials(name))
    font_size = 44 if len(text) == 1 else 36
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 96 96" role="img">'
        f"<title>{escape(name)}</title>"
        f'<rect width="96" height="96" rx="16" fill="{colour(name)}"/>'
        f'<text x="48" y="50" fill="#fff" font-family="system-ui, sans-serif" font-size="{font_size}" '
        f'font-weight="600" text-anchor="middle" dominant-baseline="central">{text}</text>'
        "</svg>"
    )


def data_uri(svg: str) -> str:
    """An SVG document as a `data:` URI (needs no request)."""
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")


def find_logo_file(name: str, logo_dir: Path) -> Path | None:
    """The brand's logo file in `logo_dir`, if there is one."""
    slug = slugify(name)
    for extension in EXTENSIONS:
        path = logo_dir / f"{slug}{extension}"
        if path.is_file():
            return path
    return None


def logo_src(name: str, logo_dir: Path) -> str:
    """The `src` of the brand's logo: `/logos/<file>` or a generated `data:` URI."""
    path = find_logo_file(name, logo_dir)
    return f"{ROUTE}/{path.name}" if path else data_uri(generated_logo(name))


def init_app(server: Flask, settings: WebSettings) -> None:
    """Serve the logo files of `LOGO_DIR` at `/logos/<file>`."""
    logo_dir = settings.logo_dir.resolve()

    def logo(filename: str):
        return send_from_directory(logo_dir, filename, max_age=CACHE_SECONDS)

    server.add_url_rule(f"{ROUTE}/<path:filename>", endpoint="brand_logo", view_func=logo)
