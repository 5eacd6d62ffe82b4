"""Migration 7 on a registry written before it: each version's corpus fingerprint and how it was
promoted filled in from what the rows said then (on SQLite and PostgreSQL)."""

from __future__ import annotations

import json

from brandpulse.api.storage import registry
from brandpulse.api.storage.db import get_database
from brandpulse.api.storage.migrations import PROMOTED_VIA_UNKNOWN, upgrade
from brandpulse.api.storage.tables import utcnow
from tests.api.conftest import ADMIN

CORPUS = "c" * 64
COLUMNS = (
    "version, parent, file, sha256, data_fingerprint, counts, status, created_at, promoted_at, promoted_by"
)
# As version 6 knew the table: (version, parent, data fingerprint, counts, status, promoted_by).
ROWS = [
    ("bundled", None, CORPUS, None, "retired", "install"),
    ("round-1", "bundled", "1" * 64, {"usable": 250}, "retired", "retrain"),
    ("round-2", "round-1", "2" * 64, {"usable": 400}, "champion", "cli"),
    ("by-hand", None, "h" * 64, None, "retired", "alice"),
    ("rejected", "round-2", "3" * 64, {"usable": 410}, "rejected", None),
    ("orphan", "gone-version", "4" * 64, {"usable": 5}, "candidate", None),
]


def test_upgrading_fills_in_each_versions_corpus_and_how_it_was_promoted(make_app):
    app = make_app(migrate=False)
    with app.app_context(), get_database().connection_context():
        assert upgrade(6) == [1, 2, 3, 4, 5, 6]
        db = get_database()
        now = utcnow()
        for version, parent, fingerprint, counts, status, by in ROWS:
            db.execute_sql(
                f"INSERT INTO model_version ({COLUMNS}) VALUES ({', '.join([db.param] * 10)})",
                (
                    version,
                    parent,
                    f"{version}.safetensors",
                    "0" * 64,
                    fingerprint,
                    json.dumps(counts) if counts else None,
                    status,
                    now,
                    now if by else None,
                    by,
                ),
            )
        assert upgrade() == [7]
        rows = {row.version: row for row in registry.list_versions()}
    assert {version: row.corpus_fingerprint for version, row in rows.items()} == {
        "bundled": CORPUS,  # registered from a file: its own data is the corpus
        "round-1": CORPUS,  # retrained: its parent's corpus
        "round-2": CORPUS,  # and its parent's parent's
        "by-hand": "h" * 64,
        "rejected": CORPUS,
        "orphan": None,  # its parent is not in the registry: unknown, not guessed
    }
    assert {version: row.promoted_via for version, row in rows.items()} == {
        "bundled": registry.VIA_INSTALL,
        "round-1": registry.VIA_RETRAIN,
        "round-2": "command (flask model)",  # promote or rollback: "cli" did not say which
        "by-hand": PROMOTED_VIA_UNKNOWN,  # a name given to the admin endpoint or a command
        "rejected": None,
        "orphan": None,
    }
    listed = app.test_client().get("/api/models", headers=ADMIN).get_json()
    assert {item["version"]: item["promoted_by"] for item in listed["items"]}["by-hand"] == "alice"
