"""End to end: crawl the fixture site -> train on its reviews -> seed its brands -> the API lists them."""

from __future__ import annotations

import brandpulse.api
from brandpulse.api.storage.db import dispose
from brandpulse.api.storage.seeding import read_brands
from brandpulse.model.checkpoint import load_checkpoint
from brandpulse.training import train
from brandpulse.training.data import label_scheme, load_dataset
from tests.scraping.test_crawl import EXPECTED_BRANDS, EXPECTED_REVIEWS


def test_train_accepts_the_reviews_csv(full_crawl, tmp_path):
    model = tmp_path / "m.safetensors"
    code = train.main(
        [
            "--data",
            str(full_crawl.out_dir / "reviews.csv"),
            "--labels",
            "stars3",
            "--arch",
            "small-bn",
            "--max-length",
            "128",
            "--epochs",
            "1",
            "--max-steps",
            "5",
            "--val-fraction",
            "0.3",  # 15 reviews: every class keeps at least one validation row
            "--out",
            str(model),
        ]
    )
    assert code == 0
    assert model.is_file()
    assert load_checkpoint(model).classes == ("bad", "average", "good")


def test_train_groups_stars_into_three_classes(full_crawl):
    dataset = load_dataset(full_crawl.out_dir / "reviews.csv", scheme=label_scheme("stars3"))
    assert len(dataset) == len(EXPECTED_REVIEWS)
    assert dataset.class_counts() == {"bad": 6, "average": 4, "good": 5}


def test_the_api_seed_reader_accepts_the_brands_csv(full_crawl):
    brands = {
        brand["name"]: (brand["website"], brand["logo_url"])
        for brand in read_brands(full_crawl.out_dir / "brands.csv")
    }
    assert brands == {name: (website, logo) for name, website, logo, _ in EXPECTED_BRANDS.values()}


def test_crawled_brands_seed_the_api(full_crawl, tmp_path):
    app = brandpulse.api.create_app(
        {"TESTING": True, "DATA_DIR": str(tmp_path), "DATABASE_URL": f"sqlite:///{tmp_path / 'e2e.sqlite3'}"}
    )
    try:
        runner = app.test_cli_runner()
        upgraded = runner.invoke(args=["db", "upgrade"])
        assert upgraded.exit_code == 0, upgraded.output
        seeded = runner.invoke(args=["db", "seed-brands", str(full_crawl.out_dir / "brands.csv")])
        assert seeded.exit_code == 0, seeded.output
        assert "5 brands" in seeded.output

        response = app.test_client().get("/api/brands")
        assert response.status_code == 200
        payload = response.get_json()
    finally:
        dispose(app)
    assert payload["total"] == len(EXPECTED_BRANDS)
    listed = {brand["name"]: (brand["website"], brand["logo_url"]) for brand in payload["items"]}
    assert listed == {name: (website, logo) for name, website, logo, _ in EXPECTED_BRANDS.values()}
