"""Logos: local files first, generated initials otherwise, never a remote or broken image."""

from __future__ import annotations

import base64
import xml.etree.ElementTree as ET

import pytest

from brandpulse.dash import logos


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("Nike", "nike"),
        ("Dr. Martens", "dr-martens"),
        ("Häagen-Dazs", "haagen-dazs"),
        ("H&M", "h-m"),
        ("!!", "brand"),
    ],
)
def test_slugify(name, slug):
    assert logos.slugify(name) == slug


@pytest.mark.parametrize(
    ("name", "letters"),
    [("Nike", "N"), ("Coca Cola", "CC"), ("the north face", "TN"), ("H&M", "HM"), ("", "?"), ("***", "?")],
)
def test_initials(name, letters):
    assert logos.initials(name) == letters


def test_generated_logo_is_valid_svg_with_the_name_escaped():
    svg = logos.generated_logo('<script>alert("x")</script> & Co')
    root = ET.fromstring(svg)  # well-formed: the name cannot break out of the markup
    assert root.tag.endswith("svg")
    texts = [element.text for element in root.iter() if element.tag.endswith("text")]
    assert texts == ["SA"]  # "script", "alert": letters only, never markup
    assert logos.colour("Nike") == logos.colour("Nike") and logos.colour("Nike") in logos.PALETTE


def test_a_brand_without_a_file_gets_a_data_uri(tmp_path):
    src = logos.logo_src("Nike", tmp_path)
    assert src.startswith("data:image/svg+xml;base64,")
    assert b"<svg" in base64.b64decode(src.split(",", 1)[1])


def test_a_local_file_is_preferred(tmp_path):
    (tmp_path / "dr-martens.png").write_bytes(b"\x89PNG fake")
    assert logos.logo_src("Dr. Martens", tmp_path) == "/logos/dr-martens.png"


def test_logo_files_are_served_and_nothing_else(web_client, logo_dir):
    assert logos.logo_src("Nike", logo_dir) == "/logos/nike.svg"
    with web_client.get("/logos/nike.svg") as response:
        assert response.status_code == 200 and response.mimetype == "image/svg+xml"
    assert web_client.get("/logos/../settings.py").status_code == 404
    assert web_client.get("/logos/missing.svg").status_code == 404
