"""`flask db upgrade`, `flask db seed-brands` and `flask db version`."""

from __future__ import annotations

from brandpulse.api.storage.db import get_database
from brandpulse.api.storage.migrations import LATEST_VERSION, MIGRATIONS
from brandpulse.api.storage.tables import Brand, ModelVersion, SchemaVersion
from tests.api.conftest import brand_names, counts


def test_upgrade_creates_the_schema_and_is_safe_to_repeat(make_app):
    app = make_app(migrate=False)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["db", "version"])
    assert result.exit_code == 0 and "schema version 0" in result.output
    result = runner.invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert f"from version 0 to {LATEST_VERSION}" in result.output
    result = runner.invoke(args=["db", "upgrade"])
    assert result.exit_code == 0
    assert f"already at version {LATEST_VERSION}" in result.output
    with app.app_context(), get_database().connection_context():
        assert [row.version for row in SchemaVersion.select()] == [m.version for m in MIGRATIONS]
        assert set(get_database().get_tables()) >= {"brand", "review", "schema_version", "model_version"}
        # The configured model is the first champion of the registry, recorded once.
        [champion] = ModelVersion.select()
        assert champion.status == "champion" and champion.promoted_by == "install"
    assert get_database(app).is_closed()


def test_seed_brands_is_idempotent(make_app):
    app = make_app(seed=False)
    runner = app.test_cli_runner()
    first = runner.invoke(args=["db", "seed-brands"])
    assert first.exit_code == 0, first.output
    assert "12 added, 0 updated" in first.output
    before = counts(app)
    second = runner.invoke(args=["db", "seed-brands"])
    assert "0 added, 12 updated" in second.output
    assert counts(app) == before == {"brands": 12, "reviews": 0}


def test_seed_from_a_crawler_file_updates_and_adds(make_app, tmp_path):
    app = make_app()
    csv_file = tmp_path / "brands.csv"
    csv_file.write_text(
        "name,website,logo_url\n"
        "Nike,https://nike.example,https://nike.example/logo.png\n"
        '"Ben & Jerry\'s, Inc.",https://benjerry.example,\n'
        "Nike,https://www.nike.com,\n",  # a repeated name: the last row wins
        encoding="utf-8",
    )
    result = app.test_cli_runner().invoke(args=["db", "seed-brands", str(csv_file)])
    assert result.exit_code == 0, result.output
    assert "2 brands" in result.output and "1 added, 1 updated" in result.output
    with app.app_context(), get_database().connection_context():
        nike = Brand.get(Brand.name == "Nike")
        assert (nike.website, nike.logo_url) == ("https://www.nike.com", None)
    assert "Ben & Jerry's, Inc." in brand_names(app)


def test_a_bad_seed_file_changes_nothing(make_app, tmp_path):
    app = make_app()
    before = brand_names(app)
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "name,website,logo_url\nGood Brand,https://ok.example,\n,https://x.example,\n", encoding="utf-8"
    )
    result = app.test_cli_runner().invoke(args=["db", "seed-brands", str(bad)])
    assert result.exit_code != 0
    assert "line 3" in result.output
    bad.write_text("name,website\nEvil,javascript:alert(1)\n", encoding="utf-8")
    assert "http(s) URL" in app.test_cli_runner().invoke(args=["db", "seed-brands", str(bad)]).output
    bad.write_bytes(b"name,website\n\xff\xfe,\n")
    assert app.test_cli_runner().invoke(args=["db", "seed-brands", str(bad)]).exit_code != 0
    assert brand_names(app) == before


def test_seed_needs_the_schema(make_app):
    result = make_app(migrate=False).test_cli_runner().invoke(args=["db", "seed-brands"])
    assert result.exit_code != 0
    assert "db upgrade" in result.output


def test_commands_report_an_unreachable_database(make_app):
    app = make_app(DATABASE_URL="postgresql://postgres@127.0.0.1:9/none", migrate=False)
    result = app.test_cli_runner().invoke(args=["db", "upgrade"])
    assert result.exit_code != 0
    assert "cannot connect to the database" in result.output
