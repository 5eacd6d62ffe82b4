"""`retrain` for real: the bundled model, the corpus, stored reviews posted through the API.

Each round fine-tunes for a few CNN steps only (`max_steps`): the filters, the gate, the
registry and the lock are what these tests check; the replay benchmark measures how much a
full round learns (bench/crowd_replay.py).
"""

from __future__ import annotations

import csv
import json
import os
import random
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from flask import Flask

from brandpulse.api.storage import registry
from brandpulse.api.storage.db import get_database
from brandpulse.api.storage.tables import ModelVersion
from brandpulse.learning import finetune, retrain
from brandpulse.learning.errors import RetrainBusy
from brandpulse.learning.lock import exclusive_run
from brandpulse.learning.retrain_round import RoundOptions, run_once
from brandpulse.model.checkpoint import load_checkpoint, save_with_rule
from brandpulse.model.scoring import bands_of
from brandpulse.training.data import label_scheme, load_dataset, select_rows

pytestmark = pytest.mark.slow

STEPS = 10  # CNN steps of a test round


@pytest.fixture(scope="module")
def app_reviews(reviews_csv: Path) -> list[dict[str, str]]:
    """Google Play app reviews (the bundled model's held-out source), shuffled, long enough to post."""
    with reviews_csv.open(newline="", encoding="utf-8") as handle:
        rows = [
            r for r in csv.DictReader(handle) if r["source"] == "google_play_apps" and len(r["text"]) >= 30
        ]
    random.Random(7).shuffle(rows)
    return rows[:1200]


@pytest.fixture(scope="module")
def mixed_company_reviews(reviews_csv: Path, bundled_checkpoint: Path) -> list[dict[str, str]]:
    """Held-out reviews of the corpus's own domains (companies the bundled model never trained
    on), 600 each bad, average and good, shuffled: visitors who write many mixed reviews. (A
    round does not train on those in the gate's fixed test; 360 recent reviews judge it.)"""
    split = json.loads(bundled_checkpoint.with_name("review_stars_split.json").read_text())
    dataset = load_dataset(
        reviews_csv,
        text_column="text",
        label_column="stars",
        scheme=label_scheme("stars5"),
        group_column="source",
    )
    held_out = select_rows(dataset, split["test_row_ids"])
    rng = np.random.default_rng(11)
    rows = []
    for band in range(3):
        members = [
            i
            for i in np.flatnonzero(bands_of(held_out.stars) == band)
            if held_out.groups[i] not in split["holdout_groups"] and len(held_out.texts[i]) >= 30
        ]
        rows += [
            {"text": held_out.texts[i], "stars": str(held_out.stars[i])}
            for i in rng.choice(members, 600, False)
        ]
    random.Random(11).shuffle(rows)
    return rows


@pytest.fixture
def corpus_mix_champion(tmp_path: Path, bundled_checkpoint: Path) -> Path:
    """The bundled model as it shipped before issue 23: the same weights, suggesting for the
    corpus's own rating mix (its validation rows' cut points, no prior): it rarely says 3 stars."""
    bundled = load_checkpoint(bundled_checkpoint)
    return save_with_rule(tmp_path / "corpus_mix.safetensors", bundled, (0.225, 0.44, 0.555, 0.82))


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """SQLite only: a round takes most of a minute, and reads and writes through the same code on
    either database (PostgreSQL's own part, the advisory lock, has its test below)."""
    return f"sqlite:///{(tmp_path / 'data' / 'api.sqlite3').as_posix()}"


@pytest.fixture
def learning_app(make_app, tmp_path, bundled_checkpoint, reviews_csv) -> Flask:
    return learning_app_of(make_app, tmp_path, bundled_checkpoint, reviews_csv)


def post(app: Flask, rows: list[dict[str, str]], *, invert: bool = False, address=None) -> None:
    """Post the rows as visitors (one address each unless `address`), with the true or inverted stars."""
    client = app.test_client()
    for i, row in enumerate(rows):
        stars = int(row["stars"])
        body = {
            "text": row["text"],
            "brand": "Nike",
            "rating": 6 - stars if invert else stars,
            "suggested_rating": 3,
            "score": 0.5,
            "suggestion_shown": False,
        }
        forwarded = address or f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}"
        response = client.post("/api/review", json=body, headers={"X-Forwarded-For": forwarded})
        assert response.status_code == 201, response.get_json()


def rows_of(app: Flask) -> dict[str, ModelVersion]:
    with app.app_context(), get_database().connection_context():
        return {row.version: row for row in registry.list_versions()}


def test_too_few_reviews_skip_the_round(learning_app, app_reviews):
    post(learning_app, app_reviews[:50])
    result = run_once(learning_app, RoundOptions(max_steps=STEPS))
    assert result.status == "skipped" and "50 usable" in result.reason
    assert len(rows_of(learning_app)) == 1  # the champion alone


def test_retrain_is_the_one_command_the_app_cli_has_none(learning_app):
    """One way to run a round: the `retrain` console script; the app's `model` group has no copy."""
    listed = learning_app.test_cli_runner().invoke(args=["model", "--help"])
    assert listed.exit_code == 0 and "retrain" not in listed.output
    for option in ("--schedule", "--no-promote", "--max-steps", "--kept-weight", "--report"):
        assert option in retrain.build_parser().format_help()


def test_500_inverted_reviews_from_one_address_never_reach_a_model(learning_app, app_reviews):
    post(learning_app, app_reviews[:300])
    post(learning_app, app_reviews[300:800], invert=True, address="203.0.113.9")
    result = run_once(learning_app, RoundOptions(max_steps=STEPS))
    assert result.counts["dropped"]["client_day_cap"] == 500
    assert result.counts["usable"] == 300
    # Whatever the gate decided, the challenger learnt from the 300 honest reviews only.
    assert (
        result.counts["train"]["feedback"] + result.counts["validation"]["feedback"] + result.counts["recent"]
        == 300 - result.counts["dropped"]["in_fixed_test"]
    )


def test_one_text_posted_500_times_never_reaches_a_model(learning_app, app_reviews):
    post(learning_app, app_reviews[:300])
    spam = {"text": "Worst app ever, it steals your data, uninstall now!", "stars": "5"}
    post(learning_app, [spam] * 250, invert=True)  # from 250 addresses
    post(learning_app, [spam] * 250, invert=True, address="198.51.100.4")  # and 250 from one
    result = run_once(learning_app, RoundOptions(max_steps=STEPS))
    assert result.counts["dropped"]["mass_posted"] + result.counts["dropped"]["repeated_by_client"] == 500
    assert result.counts["usable"] == 300


def test_the_gate_rejects_a_challenger_taught_inverted_stars_by_many_addresses(learning_app, app_reviews):
    """Poison the filters cannot see (distinct texts and addresses): the ratings run against the texts."""
    post(learning_app, app_reviews[:800], invert=True)
    result = run_once(learning_app, RoundOptions(max_steps=STEPS))
    assert result.status == "rejected", result.reason
    assert "suspected coordinated poisoning" in result.reason
    assert result.metrics["champion"]["recent"]["score_correlation"] < 0
    rows = rows_of(learning_app)
    rejected = rows[result.challenger]
    assert rejected.status == "rejected" and rejected.reason.startswith(
        "gate: the recent ratings run against"
    )
    champion = next(row for row in rows.values() if row.status == "champion")
    assert rejected.parent == champion.version  # the bundled model is still the champion
    metrics = json.loads(rejected.metrics)
    assert metrics["gate"]["promote"] is False and metrics["recent"]["n"] == result.counts["recent"]
    # The challenger's file is in MODEL_DIR, loadable, and knows where it came from.
    checkpoint = load_checkpoint(learning_app.extensions["brandpulse.settings"].model_dir / rejected.file)
    assert checkpoint.version == rejected.version and checkpoint.info.parent == champion.version
    assert (
        checkpoint.info.data.base_fingerprint
        == load_checkpoint(learning_app.extensions["brandpulse.settings"].model_path).info.data.fingerprint
    )


def test_visitors_who_write_mixed_reviews_teach_the_loop_their_mix(
    make_app, tmp_path, corpus_mix_champion, reviews_csv, mixed_company_reviews
):
    """(a) A champion that rarely says 3 stars, visitors a third of whose reviews are average: the
    round estimates their mix, fits the suggestion for it and is promoted; the fixed test, read
    at the champion's suggestion rates, shows nothing forgotten."""
    app = learning_app_of(make_app, tmp_path, corpus_mix_champion, reviews_csv)
    post(app, mixed_company_reviews)
    result = run_once(app, RoundOptions(max_steps=STEPS))
    assert result.status == "promoted", result.reason
    mix = result.metrics["rating_mix"]
    assert mix["source"] == "visitors" and mix["corpus"] is None  # the champion stated no mix
    assert mix["visitors"]["average"] == pytest.approx(1 / 3, abs=0.05)
    assert mix["assumed"]["average"] == pytest.approx(mix["visitors"]["average"], abs=1e-4)
    champion, challenger = result.metrics["champion"], result.metrics
    assert challenger["recent"]["band_recall"]["average"] > champion["recent"]["band_recall"]["average"] + 0.2
    assert challenger["recent"]["band_accuracy"] > champion["recent"]["band_accuracy"]
    # On the fixed test's own mix (mostly 1 and 5 stars) the new suggestion looks worse ...
    assert challenger["fixed"]["band_accuracy"] < champion["fixed"]["band_accuracy"]
    # ... but at the champion's rates the challenger reads it as well as the champion did.
    at_champion_rates = challenger["fixed_at_champion_rates"]
    assert at_champion_rates["band_balanced_accuracy"] >= champion["fixed"]["band_balanced_accuracy"] - 0.02
    promoted = load_checkpoint(
        app.extensions["brandpulse.settings"].model_dir / f"{result.challenger}.safetensors"
    )
    assert promoted.rating_prior is not None
    assert promoted.rating_prior.assumed == pytest.approx(tuple(mix["assumed"].values()))
    row = rows_of(app)[result.challenger]
    assert json.loads(row.metrics)["rating_mix"]["visitors"] == mix["visitors"]


def test_a_challenger_that_has_forgotten_is_rejected_whatever_its_visitors(
    make_app, tmp_path, corpus_mix_champion, reviews_csv, mixed_company_reviews, monkeypatch
):
    """(b) The same visitors as (a), but the challenger comes out having lost what it knew after
    its pooling and rule were fitted: the CNN's convolutions scrambled and the n-gram model's
    word weights shuffled. The gate sees the loss on the fixed test, at the champion's rates.

    (A CNN scrambled alone is rejected too, by the recent reviews: at equal suggestion rates the
    n-gram half still ranks the fixed test almost as well as the pair did.)"""
    real = finetune.train_challenger

    def damaged(*args, **kwargs):
        challenger = real(*args, **kwargs)
        generator = torch.Generator().manual_seed(0)
        with torch.no_grad():
            for name, parameter in challenger.model.named_parameters():
                if "conv" in name and parameter.dim() > 1:
                    parameter.copy_(parameter[torch.randperm(parameter.shape[0], generator=generator)])
        ngram = challenger.ngram
        ngram.coef = np.ascontiguousarray(
            ngram.coef[:, np.random.default_rng(0).permutation(ngram.coef.shape[1])]
        )
        return challenger

    monkeypatch.setattr(finetune, "train_challenger", damaged)
    app = learning_app_of(make_app, tmp_path, corpus_mix_champion, reviews_csv)
    post(app, mixed_company_reviews)
    result = run_once(app, RoundOptions(max_steps=STEPS))
    assert result.status == "rejected", result.reason
    assert "forgot on the fixed test" in result.reason
    champion, at_rates = result.metrics["champion"]["fixed"], result.metrics["fixed_at_champion_rates"]
    assert at_rates["band_balanced_accuracy"] < champion["band_balanced_accuracy"] - 0.1
    assert rows_of(app)[result.challenger].status == "rejected"


def learning_app_of(make_app, tmp_path: Path, champion: Path, reviews_csv: Path) -> Flask:
    """An app whose first champion is `champion`, set up as `learning_app` is."""
    model_dir = tmp_path / "models"
    app = make_app(
        MODEL_PATH=champion,
        MODEL_DIR=model_dir,
        RETRAIN_BASE_CORPUS=reviews_csv,
        RETRAIN_MIN_REVIEWS=100,
        RETRAIN_FIXED_TEST_ROWS=1500,
        TRUSTED_PROXIES="127.0.0.1",
    )
    with app.app_context(), get_database().connection_context():
        registry.register_first_champion(champion, model_dir)
    return app


def test_two_rounds_never_overlap(learning_app):
    settings = learning_app.extensions["brandpulse.settings"]
    with learning_app.app_context(), get_database().connection_context():
        with exclusive_run(get_database(), settings.model_dir):
            with pytest.raises(RetrainBusy):
                run_once(learning_app)
            result: list[BaseException] = []

            def other_thread() -> None:
                try:
                    run_once(learning_app)
                except RetrainBusy as error:
                    result.append(error)

            thread = threading.Thread(target=other_thread)
            thread.start()
            thread.join()
            assert result and "another retrain round" in str(result[0])


def test_the_command_line_reports_a_skipped_round_and_a_busy_lock(learning_app, monkeypatch, tmp_path):
    settings = learning_app.extensions["brandpulse.settings"]
    for name, value in {
        "DATABASE_URL": settings.database_url,
        "MODEL_PATH": str(settings.model_path),
        "MODEL_DIR": str(settings.model_dir),
        "RETRAIN_BASE_CORPUS": str(settings.retrain_base_corpus),
        "RETRAIN_MIN_REVIEWS": "100",
    }.items():
        monkeypatch.setenv(name, value)
    report = tmp_path / "round.json"
    assert retrain.main(["--report", str(report)]) == 0
    assert json.loads(report.read_text())["status"] == "skipped"
    with learning_app.app_context(), get_database().connection_context():
        with exclusive_run(get_database(), settings.model_dir):
            assert retrain.main([]) == retrain.EX_TEMPFAIL
    assert retrain.main(["--schedule", "not a cron line"]) == 2
    monkeypatch.setenv("RETRAIN_BASE_CORPUS", str(tmp_path / "missing.csv"))
    for i in range(100):  # enough reviews to get as far as the corpus
        learning_app.test_client().post(
            "/api/review",
            json={
                "text": f"Review {i} of the app: it works, mostly.",
                "brand": "Nike",
                "rating": 4,
                "score": 0.6,
            },
            headers={"X-Forwarded-For": f"10.9.0.{i}"},
        )
    assert retrain.main([]) == 2


@pytest.mark.postgres
def test_two_hosts_never_retrain_at_once_on_postgresql(postgres_database, tmp_path):
    """Each round also takes a PostgreSQL advisory lock: a second host (its own lock folder) waits."""
    from brandpulse.api import create_app
    from brandpulse.api.storage.db import dispose
    from tests.api.conftest import reset_postgres

    reset_postgres(postgres_database)
    first = create_app({"TESTING": True, "DATABASE_URL": postgres_database})
    second = create_app({"TESTING": True, "DATABASE_URL": postgres_database})
    try:
        with first.app_context(), get_database().connection_context():
            with exclusive_run(get_database(), tmp_path / "host-a"):
                with second.app_context(), get_database().connection_context():
                    with pytest.raises(RetrainBusy, match="database"):
                        with exclusive_run(get_database(), tmp_path / "host-b"):
                            pass
            with second.app_context(), get_database().connection_context():
                with exclusive_run(get_database(), tmp_path / "host-b"):
                    pass  # free again once the first round is over
    finally:
        dispose(first)
        dispose(second)


def test_retrain_says_where_to_run_it_when_scikit_learn_is_missing(tmp_path):
    """The API image serves without scikit-learn: `retrain` there exits 2 naming the learning image."""
    program = (
        "import sys\n"
        "sys.modules['sklearn'] = None  # as in the API image: importing it fails\n"
        "from brandpulse.learning import retrain\n"
        "sys.exit(retrain.main([]))\n"
    )
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}"}
    result = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, env=env, timeout=120
    )
    assert result.returncode == 2, result.stderr[-2000:]
    assert "brandpulse-learning image" in result.stderr
