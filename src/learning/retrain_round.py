"""One round of `retrain`: stored reviews in, a challenger trained, judged, saved and registered.

1. read the stored reviews and keep those fit to learn from, weighted against the model's own
   echo (`feedback.py`);
2. hold out the newest share by time (the *recent* test, never trained on in this round);
3. estimate the visitors' rating mix from the usable reviews (`round_data.rating_mix`), once
   there are `feedback.MIN_MIX_REVIEWS` of them; else keep the mix the champion assumes;
4. train a challenger from the champion on the base corpus plus the older reviews
   (`finetune.py`): the network fine-tuned, the n-gram model, pooling and the rating rule
   refitted, the rule for the visitors' mix;
5. measure champion and challenger on the recent reviews and on a fixed sample of the bundled
   model's held-out test (`measure.py`), and let the gate decide (`gate.py`);
6. save the challenger in MODEL_DIR and record it in the registry: promoted (every API worker
   serves it within MODEL_POLL_SECONDS), a candidate (the gate passed, `--no-promote`), or
   rejected with the gate's reason.

`run_once` runs a round under the lock (`lock.py`); the command line is `retrain.py`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from flask import Flask

from brandpulse.api.settings import Settings, current_settings
from brandpulse.api.storage import migrations, registry
from brandpulse.api.storage.db import get_database
from brandpulse.learning import feedback
from brandpulse.learning.errors import RetrainError, fitting_unavailable
from brandpulse.learning.gate import Decision, GateRules, decide
from brandpulse.learning.lock import exclusive_run
from brandpulse.learning.round_data import (
    BANDS,
    feedback_rows,
    load_base_corpus,
    rating_mix,
    training_rows,
)
from brandpulse.learning.rows import LabelledRows
from brandpulse.model.checkpoint import Checkpoint, CheckpointError, load_checkpoint, save_checkpoint
from brandpulse.model.checkpoint_info import DataRecord

if TYPE_CHECKING:  # finetune needs scikit-learn, imported when a round trains
    from brandpulse.learning.finetune import Challenger

logger = logging.getLogger(__name__)

STEPS = ("reviews", "base corpus", "train", "evaluate", "register")


@dataclass
class RoundResult:
    """What a round did, for the log, `--report` and the replay benchmark."""

    status: str  # promoted, candidate, rejected or skipped
    reason: str
    champion: str | None = None
    challenger: str | None = None
    counts: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class RoundOptions:
    """Per-run choices that are not settings (the `retrain` options)."""

    promote: bool = True  # False: a challenger that passes the gate stays a candidate
    max_steps: int | None = None  # network step budget (tests, smoke runs)
    kept_weight: float | None = None  # overrides RETRAIN_KEPT_WEIGHT


def resolve_champion(settings: Settings) -> tuple[str, Path]:
    """The registry's champion (version, file), else the configured MODEL_PATH."""
    champion = registry.current_champion(get_database(), settings.model_dir)
    if champion is not None:
        return champion.version, champion.path
    return "", settings.model_path


def run_round(settings: Settings, options: RoundOptions = RoundOptions()) -> RoundResult:
    """One round of learning (see the module's docstring). The caller holds a database connection."""
    from tqdm import tqdm

    from brandpulse.learning.measure import measure_pair

    if migrations.current_version() < migrations.LATEST_VERSION:
        raise RetrainError("the schema is not up to date: run `flask --app brandpulse.api db upgrade`")
    seconds: dict[str, float] = {}
    bar = tqdm(total=len(STEPS), desc="retrain", unit="step", disable=None)

    def step(name: str, started: float) -> None:
        seconds[name] = round(time.perf_counter() - started, 1)
        logger.info("retrain: %s done in %.1f s", name, seconds[name])
        bar.set_postfix_str(name)
        bar.update()

    try:
        started = time.perf_counter()
        kept_weight = options.kept_weight
        if kept_weight is None and settings.retrain_kept_weight != "auto":
            kept_weight = float(settings.retrain_kept_weight)
        selected = feedback.select_columns(
            feedback.read_review_columns(),
            min_chars=settings.retrain_min_chars,
            max_per_client_day=settings.retrain_max_per_client_day,
            kept_weight=kept_weight,
        )
        step("reviews", started)
        counts = selected.counts()
        if len(selected) < settings.retrain_min_reviews:
            reason = (
                f"{len(selected)} usable stored reviews, RETRAIN_MIN_REVIEWS is "
                f"{settings.retrain_min_reviews}: nothing to learn yet"
            )
            logger.info("retrain skipped: %s", reason)
            return RoundResult("skipped", reason, counts=counts, seconds=seconds)

        started = time.perf_counter()
        champion_version, champion_path = resolve_champion(settings)
        try:
            champion = load_checkpoint(champion_path)
        except CheckpointError as error:
            raise RetrainError(f"the champion cannot be loaded: {error}") from None
        champion_version = champion_version or champion.version
        base = load_base_corpus(settings.retrain_base_corpus, champion, settings.retrain_fixed_test_rows)
        step("base corpus", started)

        trained, judged, sample = round_reviews(selected, base.fixed_test_texts, settings)
        counts["dropped"]["in_fixed_test"] = sample.pop("in_fixed_test")
        train, validation = training_rows(
            base, trained.reviews, trained.weights, settings.retrain_feedback_share
        )
        reviews_digest = hashlib.sha256(
            json.dumps([(r.id, r.rating) for r in trained.reviews]).encode()
        ).hexdigest()
        mix = rating_mix(selected, champion)  # of every usable review, not only the sample's
        recent_rows = feedback_rows(judged.reviews, judged.weights)
        counts.update(
            {
                "sample": sample,
                "recent": len(recent_rows),
                "train": train.counts(),
                "validation": validation.counts(),
                "fixed_test": len(base.fixed_test),
            }
        )

        started = time.perf_counter()
        challenger = train_round_challenger(champion, train, validation, settings, options, mix["assumed"])
        step("train", started)
        seconds.update({f"train_{name}": value for name, value in challenger.seconds.items()})

        started = time.perf_counter()
        path, identity = save_challenger(
            challenger, champion, champion_version, counts, reviews_digest, settings.model_dir
        )
        figures = measure_pair(
            champion, load_checkpoint(path), base.fixed_test, recent_rows, settings.inference_bf16
        )
        decision = decide(
            figures["champion"],
            figures["challenger"],
            GateRules(
                margin=settings.retrain_margin,
                tolerance=settings.retrain_tolerance,
                band_tolerance=settings.retrain_band_tolerance,
            ),
        )
        step("evaluate", started)
        logger.info("gate: %s", decision.reason)

        started = time.perf_counter()
        result = record(path, identity, decision, figures, counts, champion_version, settings, options, mix)
        step("register", started)
        result.seconds = seconds
        return result
    finally:
        bar.close()


def round_reviews(
    selected: feedback.Selection, fixed_test_texts: set[str], settings: Settings
) -> tuple[feedback.Feedback, feedback.Feedback, dict[str, int]]:
    """(trained, judged, figures): the reviews a round learns from and is judged on, texts read.

    The newest RETRAIN_RECENT_SHARE of the usable reviews, by time, is the recent test; the older
    ones, less those whose text is in the gate's fixed test, are learnt from (15 % of them
    validating). Of each a uniform seeded sample is read when there are more than its share of
    RETRAIN_MAX_FEEDBACK_ROWS (`feedback.sample_sizes`); their weights are those of the whole.
    """
    older, recent = selected.split_by_time(settings.retrain_recent_share)
    in_test = older.texts_in(fixed_test_texts)
    learnable = older.subset(~in_test)
    most_older, most_recent = feedback.sample_sizes(
        settings.retrain_max_feedback_rows, settings.retrain_recent_share
    )
    trained, judged = learnable.sample(most_older).fetch(), recent.sample(most_recent).fetch()
    figures = {
        "in_fixed_test": int(np.count_nonzero(in_test)),
        "older": len(learnable),
        "older_used": len(trained.reviews),
        "recent": len(recent),
        "recent_used": len(judged.reviews),
        "max_rows": settings.retrain_max_feedback_rows,
    }
    logger.info("stored reviews used: %s", figures)
    return trained, judged, figures


def train_round_challenger(
    champion: Checkpoint,
    train: LabelledRows,
    validation: LabelledRows,
    settings: Settings,
    options: RoundOptions,
    assumed_mix: Sequence[float] | None,
) -> Challenger:
    """`finetune.train_challenger` with the round's settings (threads, epochs, bfloat16)."""
    from brandpulse.learning import finetune
    from brandpulse.model.runtime import use_threads

    use_threads(settings.retrain_threads or None)
    config = finetune.FinetuneConfig(
        cnn_epochs=settings.retrain_cnn_epochs, max_steps=options.max_steps, bf16=settings.inference_bf16
    )
    try:
        return finetune.train_challenger(champion, train, validation, config, assumed_mix=assumed_mix)
    except ValueError as error:
        raise RetrainError(f"cannot train a challenger: {error}") from None


def save_challenger(
    challenger: Challenger,
    champion: Checkpoint,
    parent: str,
    counts: dict[str, Any],
    reviews_digest: str,
    model_dir: Path,
) -> tuple[Path, dict[str, Any]]:
    """Write the challenger to MODEL_DIR as `<version>.safetensors`; return its path and identity.

    Its data fingerprint covers the base corpus and the stored reviews (ids and ratings) it
    learnt from; the base corpus's own fingerprint stays recorded for the next round
    (`DataRecord.base_fingerprint`).
    """
    import torch

    corpus = champion.info.corpus_fingerprint
    digest = hashlib.sha256(f"{corpus}:{reviews_digest}".encode()).hexdigest()
    info = replace(
        champion.info,
        data=replace(champion.info.data or DataRecord(), base_fingerprint=corpus, fingerprint=digest),
        train=None,
        combination=None,
        parent=parent,
        retrain={**challenger.info, "seconds": challenger.seconds, "counts": counts},
        created=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    model_dir.mkdir(parents=True, exist_ok=True)
    staging = model_dir / f"retrain-{datetime.now(UTC):%Y%m%dT%H%M%S%f}.safetensors"
    save_checkpoint(
        staging,
        challenger.model,
        classes=challenger.classes,
        info=info,
        dtype=torch.float16,
        ngram=challenger.ngram,
        combination=challenger.combination,
        rating_cuts=challenger.rating_cuts,
        rating_prior=challenger.rating_prior,
    )
    identity = registry.checkpoint_identity(staging)
    path = model_dir / f"{identity['version']}.safetensors"
    staging.replace(path)  # the same bytes: the identity holds
    return path, identity


def record(
    path: Path,
    identity: dict[str, Any],
    decision: Decision,
    figures: dict[str, dict[str, Any]],
    counts: dict[str, Any],
    parent: str,
    settings: Settings,
    options: RoundOptions,
    mix: dict[str, Any],
) -> RoundResult:
    """Register the challenger with its figures, the rating mix it assumes and the gate's
    decision; promote it if it passed."""
    metrics = {
        "fixed": figures["challenger"]["fixed"],
        "fixed_at_champion_rates": figures["challenger"].get("fixed_at_champion_rates"),
        "recent": figures["challenger"]["recent"],
        "champion": figures["champion"],
        "gate": decision.as_dict(),
        "rating_mix": {
            **mix,
            "assumed": dict(zip(BANDS, mix["assumed"], strict=True)) if mix["assumed"] else None,
        },
    }
    row = registry.register(
        path,
        model_dir=settings.model_dir,
        status="candidate" if decision.promote else "rejected",
        parent=parent,
        counts=counts,
        metrics=metrics,
        reason=f"gate: {decision.reason}",
        identity=identity,
    )
    status = row.status
    if decision.promote and options.promote:
        registry.promote(
            row.version,
            by="retrain",
            via=registry.VIA_RETRAIN,
            model_dir=settings.model_dir,
            reason=f"gate: {decision.reason}",
        )
        status = "promoted"
    logger.info("retrain: %s is %s", row.version, status)
    return RoundResult(status, decision.reason, parent, row.version, counts, metrics)


def run_once(app: Flask, options: RoundOptions = RoundOptions()) -> RoundResult:
    """One round under the lock, in the app's context with a connection of its own."""
    if reason := fitting_unavailable():
        raise RetrainError(reason)
    settings = current_settings(app)
    with app.app_context():
        db = get_database()
        opened = db.connect(reuse_if_open=True)
        try:
            with exclusive_run(db, settings.model_dir):
                return run_round(settings, options)
        finally:
            if opened and not db.is_closed():
                db.close()
