"""The review corpus: source formats to normalised rows, cleaning, deduplication, caps, the build command."""

from __future__ import annotations

import csv
import hashlib
import json
import lzma
from pathlib import Path

import pytest

from brandpulse.model.language import EnglishTest
from brandpulse.training.corpus import build
from brandpulse.training.corpus.cleaning import (
    NearDuplicates,
    clean_text,
    dedupe_key,
    is_markup_only,
)
from brandpulse.training.corpus.manifest import ManifestError, load_manifest
from brandpulse.training.corpus.readers import join_title_and_body, parse_stars, read_source
from brandpulse.training.data import DataError


@pytest.mark.parametrize(
    ("raw", "stars"),
    [
        ("5", 5),
        ("4.0", 4),
        ("Rated 5 out of 5 stars", 5),
        ("1.0 of 5 bubbles", 1),
        ("{2: 'Poor'}", 2),
        ("3", 3),
        ("0", None),
        ("6", None),
        ("3.5", None),
        ("", None),
        ("five", None),
    ],
)
def test_stars_are_the_first_whole_number_from_one_to_five(raw, stars):
    assert parse_stars(raw) == stars


@pytest.mark.parametrize(
    ("title", "body", "text"),
    [
        ("Great service", "Fast delivery.", "Great service\n\nFast delivery."),
        ("Ordered food and apparently the driver…", "Ordered food and apparently the driver was late.", None),
        ("I just got Spot insurance and did o", "I just got Spot insurance and did our first visit.", None),
        ("", "Only a body.", "Only a body."),
        ("Only a title", "", "Only a title"),
    ],
)
def test_a_title_that_repeats_the_body_is_dropped(title, body, text):
    assert join_title_and_body(title, body) == (text if text is not None else body)


def store(folder: Path, name: str, content: str) -> tuple[str, str]:
    """Write `content` xz-compressed under `folder`; return its stored name and SHA-256."""
    data = content.encode("utf-8")
    (folder / f"{name}.xz").write_bytes(lzma.compress(data))
    return f"{name}.xz", hashlib.sha256(data).hexdigest()


SHOP = (
    "Title,Star Rating,Main Content\n"
    "Fast and friendly,Rated 5 out of 5 stars,My parcel came the next day and support was kind.\n"
    "Never again,Rated 1 out of 5 stars,The refund took three months and nobody answered my emails.\n"
    "Hmm,not rated,This row has no readable rating at all so it goes.\n"
    "Ok,Rated 3 out of 5 stars,\n"
    "<br/>,Rated 4 out of 5 stars,<p></p>\n"
    "Short,Rated 4 out of 5 stars,Good\n"
    "Super,Rated 5 out of 5 stars,Très bon service et livraison rapide, je recommande vivement ce site\n"
    'Fast and friendly,Rated 5 out of 5 stars,"My parcel came the next day, and support was kind!"\n'
)
# A long review; the same review with one word changed is a near duplicate (Jaccard ~0.94).
CRASHES = (
    "The app keeps crashing since the last update and I lost all my playlists and downloads. Support "
    "told me to reinstall it twice which did not help at all and now the widget on my home screen is "
    "gone as well. I have paid for the family plan for four years and this is sadly the worst it has "
    "ever been. Please fix the crashes soon or I will cancel the plan and move to another service."
)
APPS = (
    "reviewId,content,score\n"
    f"a,{CRASHES},1\n"
    f"b,{CRASHES.replace('sadly', 'really')},2\n"
    "c,Works well on my phone and the offline mode is handy for the train.,4\n"
    "d,Works well and the new design is clean although search is slower than before.,4\n"
    "e,Works well most days and notifications arrive quickly even on a weak signal.,4\n"
    "f,I saw this film twice and loved every minute of it.,5\n"
)


def tiny_manifest(folder: Path, *, cap: int = 2, shop_sha: str | None = None) -> Path:
    """A two-source manifest over tiny stored files: a shop (title + body) and an app (company per file)."""
    shop_file, sha = store(folder, "shop.csv", SHOP)
    app_file, app_sha = store(folder, "app.csv", APPS)
    path = folder / "sources.toml"
    path.write_text(
        f"""
[corpus]
min_chars = 15
seed = 1

[[source]]
name = "shop"
domain = "companies"
description = "a shop"
origin = "github:example/shop"
commit = "0000000"
licence = "CC0"
text_columns = ["Title", "Main Content"]
stars_column = "Star Rating"
files = [
    {{ path = "data/shop.csv", stored = "{shop_file}", sha256 = "{shop_sha or sha}", company = "Shop Ltd" }},
]

[[source]]
name = "apps"
domain = "apps"
description = "an app"
origin = "github:example/apps"
commit = "1111111"
licence = "none stated"
text_columns = ["content"]
stars_column = "score"
max_per_company_stars = {cap}
files = [{{ path = "app.csv", stored = "{app_file}", sha256 = "{app_sha}", company = "Tunes" }}]
"""
    )
    return path


def test_each_source_format_becomes_raw_rows_and_bad_rows_name_file_and_line(tmp_path):
    manifest = load_manifest(tiny_manifest(tmp_path))
    shop = list(read_source(manifest.sources[0]))
    problems = [row for row in shop if isinstance(row, str)]
    assert problems == ["data/shop.csv: line 4: cannot read stars 'not rated'"]
    rows = [row for row in shop if not isinstance(row, str)]
    assert rows[0].text == "Fast and friendly\n\nMy parcel came the next day and support was kind."
    assert (rows[0].stars, rows[0].company, rows[0].line, rows[0].source) == (5, "Shop Ltd", 2, "shop")
    apps = list(read_source(manifest.sources[1]))
    assert [row.stars for row in apps] == [1, 2, 4, 4, 4, 5]
    assert {row.company for row in apps} == {"Tunes"}


def test_a_stored_file_that_differs_from_the_manifest_is_refused(tmp_path):
    manifest = load_manifest(tiny_manifest(tmp_path, shop_sha="0" * 64))
    with pytest.raises(DataError, match="SHA-256 .* differs"):
        list(read_source(manifest.sources[0]))


def test_a_missing_column_names_the_file(tmp_path):
    path = tiny_manifest(tmp_path)
    path.write_text(path.read_text().replace('stars_column = "score"', 'stars_column = "rating"'))
    with pytest.raises(DataError, match=r"app.csv: line 1: no column 'rating'"):
        list(read_source(load_manifest(path).sources[1]))


def test_manifest_errors_name_the_source(tmp_path):
    path = tiny_manifest(tmp_path)
    path.write_text(path.read_text().replace('domain = "apps"', 'domain = "space"'))
    with pytest.raises(ManifestError, match="source 'apps'.*domain 'space'"):
        load_manifest(path)


def test_clean_text_repairs_unicode_removes_markup_and_tidies_blanks():
    assert clean_text("Itâ€™s  great<br />really &amp; truly  ") == "It's great really & truly"
    assert (
        clean_text("“Quoted” – fine") == '"Quoted" – fine'
    )  # straight quotes: the model's alphabet has them
    assert clean_text("line one\r\n\r\n\r\n  line two ") == "line one\n\nline two"
    assert is_markup_only("<br/><p></p>", clean_text("<br/><p></p>"))
    assert not is_markup_only("   ", "")


def test_dedupe_key_ignores_case_blanks_and_punctuation():
    assert dedupe_key("Great   service!!") == dedupe_key("great service") == "great service"


@pytest.mark.parametrize(
    ("text", "english"),
    [
        ("The delivery was late and the support never answered my emails.", True),
        ("Nice app tiktok", True),
        ("Great service, fast!", True),
        ("Très bon produit, livraison rapide, je recommande", False),
        ("Muito bom aplicativo, adorei as músicas", False),
        ("okay naman kasakit lang", False),
    ],
)
def test_english_test(text, english):
    assert EnglishTest()(text) is english


def test_near_duplicates_are_found_and_distinct_texts_are_not():
    index = NearDuplicates(threshold=0.8)
    index.add("first", CRASHES)
    assert index.match(CRASHES.replace("sadly", "really")) == "first"  # a small edit of a long review
    assert index.match("Works well on my phone and the offline mode is handy on the train every day.") is None


def test_build_drops_rows_for_each_reason_and_writes_the_same_bytes_twice(tmp_path):
    manifest = tiny_manifest(tmp_path)
    reference = tmp_path / "movies.csv"
    reference.write_text("text,label\nI saw this film twice and loved every minute of it.,1\n")
    out, again = tmp_path / "reviews.csv", tmp_path / "again.csv"
    argv = ["--manifest", str(manifest), "--against", str(reference)]
    assert build.main([*argv, "--out", str(out)]) == 0
    assert build.main([*argv, "--out", str(again)]) == 0
    assert out.read_bytes() == again.read_bytes()

    with out.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["id", "text", "stars", "source", "domain", "company"]
    report = json.loads(out.with_suffix(".report.json").read_text())
    shop, apps = report["sources"]["shop"], report["sources"]["apps"]
    assert shop["rows_read"] == 8 and shop["kept"] == 2
    assert {reason: n for reason, n in shop["dropped"].items() if n} == {
        "unreadable_stars": 1,
        "too_short": 2,  # "Ok" (a title alone) and "Short\n\nGood"
        "markup_only": 1,
        "not_english": 1,
        "duplicate": 1,
    }
    assert shop["problems"] == ["data/shop.csv: line 4: cannot read stars 'not rated'"]
    # The app's second review nearly repeats its first; its film review is in the reference
    # data; three 4-star reviews of one app are capped at two.
    assert {reason: n for reason, n in apps["dropped"].items() if n} == {
        "near_duplicate": 1,
        "in_reference_data": 1,
        "capped": 1,
    }
    assert apps["star_distribution"] == {"1": 1, "2": 0, "3": 0, "4": 2, "5": 0}
    assert report["overall"]["rows"] == len(rows) == 5
    assert rows[0]["id"] == "shop:data/shop.csv:2" and rows[0]["company"] == "Shop Ltd"
    assert report["corpus"]["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()


def test_build_reports_a_bad_manifest_with_exit_code_2(tmp_path, caplog):
    bad = tmp_path / "sources.toml"
    bad.write_text("[[source]]\nname = 'x'\n")
    assert build.main(["--manifest", str(bad), "--out", str(tmp_path / "r.csv")]) == 2
    assert "missing 'domain'" in caplog.text
    assert not (tmp_path / "r.csv").exists()


MANIFEST = Path(__file__).resolve().parents[2] / "corpus" / "sources.toml"


def test_the_committed_manifest_describes_every_stored_file():
    manifest = load_manifest(MANIFEST)
    assert len(manifest.sources) >= 3
    assert {"companies", "services"} & {source.domain for source in manifest.sources}
    for source in manifest.sources:
        assert source.origin.startswith("github:") and len(source.commit) == 40, source.name
        assert "post-tuto-deployment" not in source.origin and "character-based-cnn" not in source.origin
        for file in source.files:
            data = lzma.decompress(file.stored.read_bytes())
            assert hashlib.sha256(data).hexdigest() == file.sha256, file.stored
