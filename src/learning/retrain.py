"""`retrain` (also `flask --app brandpulse.api model retrain`): learn from the stored reviews.

One round (docs/learning_loop.md):

1. read the stored reviews and keep those fit to learn from, weighted against the model's own
   echo (`feedback.py`);
2. hold out the newest share by time (the *recent* test, never trained on in this round);
3. estimate the visitors' rating mix from the usable reviews (`feedback.visitor_mix`: the
   control group's ratings fully, kept suggestions by their weight), once there are
   `feedback.MIN_MIX_REVIEWS` of them; else keep the mix the champion assumes;
4. train a challenger from the champion on the base corpus plus the older reviews
   (`training/finetune.py`): the CNN fine-tuned, the n-gram model, pooling and the rating rule
   refitted, the rule for the visitors' mix;
5. measure champion and challenger on the recent reviews and on a fixed sample of the bundled
   model's held-out test, and let the gate decide (`gate.py`);
6. save the challenger in MODEL_DIR and record it in the registry: promoted (every API worker
   serves it within MODEL_POLL_SECONDS), a candidate (the gate passed, `--no-promote`), or rejected
   with the gate's reason.

Two rounds never overlap: a lock file in MODEL_DIR, and on PostgreSQL an advisory lock (several
hosts, a Kubernetes CronJob). `retrain --schedule CRON` runs rounds on a cron schedule with
APScheduler. Exit codes: 0 a round ran or was skipped (too few reviews), 2 bad settings or
files, 75 another round holds the lock.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import json
import logging
import signal
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from flask import Flask
from peewee import Database, PostgresqlDatabase

from brandpulse.api.settings import Settings, current_settings
from brandpulse.api.storage import migrations, registry
from brandpulse.api.storage.db import get_database
from brandpulse.learning import feedback as feedback_rows
from brandpulse.learning.gate import Decision, GateRules, decide

logger = logging.getLogger(__name__)

EX_TEMPFAIL = 75  # sysexits.h: try again later (another round holds the lock)
ADVISORY_LOCK_KEY = 0x7265747261  # "retra"
LOCK_FILE = ".retrain.lock"
FIXED_TEST_SEED = 2015
VALIDATION_SHARE = 0.15
MIN_BASE_VALIDATION = 2000  # base rows validating at least: a third-of-a-band rule needs its 3-star rows
STEPS = ("reviews", "base corpus", "train", "evaluate", "register")


class RetrainError(RuntimeError):
    """A round that cannot run: missing corpus, unreadable champion, schema not upgraded, …"""


def fitting_unavailable() -> str | None:
    """Why this environment cannot fit models, or None: the API image serves without scikit-learn."""
    try:
        import sklearn  # noqa: F401
    except ImportError:
        return (
            "retrain fits models with scikit-learn, which this environment lacks: run it in the "
            "brandpulse-learning image (src/api/Dockerfile, target `learning`; the compose `retrain` "
            "service) or install the `learning` extra (pip install 'brandpulse[api,learning]')"
        )
    return None


class RetrainBusy(RetrainError):
    """Another round holds the lock."""


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
    """Per-run choices that are not settings."""

    promote: bool = True  # False: a challenger that passes the gate stays a candidate
    max_steps: int | None = None  # CNN step budget (tests, smoke runs)
    kept_weight: float | None = None  # overrides RETRAIN_KEPT_WEIGHT


@contextmanager
def exclusive_run(db: Database, lock_dir: Path) -> Iterator[None]:
    """Hold the retrain lock for the block; RetrainBusy if another round holds it."""
    lock_dir.mkdir(parents=True, exist_ok=True)
    with (lock_dir / LOCK_FILE).open("a") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RetrainBusy(f"another retrain round holds {lock_dir / LOCK_FILE}") from None
        advisory = isinstance(db, PostgresqlDatabase)
        if (
            advisory
            and not db.execute_sql("SELECT pg_try_advisory_lock(%s)", (ADVISORY_LOCK_KEY,)).fetchone()[0]
        ):
            raise RetrainBusy("another retrain round holds the database's retrain lock")
        try:
            yield
        finally:
            if advisory:
                db.execute_sql("SELECT pg_advisory_unlock(%s)", (ADVISORY_LOCK_KEY,))


def _rows(reviews: Sequence[feedback_rows.StoredReview], weights: np.ndarray):
    from brandpulse.learning.finetune import LabelledRows

    return LabelledRows(
        [review.text for review in reviews],
        np.asarray([review.rating for review in reviews]),
        weights,
        ["feedback"] * len(reviews),
    )


@dataclass
class BaseCorpus:
    """The champion's base rows: training, validation, and the fixed test of the gate."""

    train: Any
    validation: Any
    fixed_test: Any
    fixed_test_texts: set[str]


def load_base_corpus(path: Path, champion: Any, fixed_rows: int) -> BaseCorpus:
    """The base corpus split exactly as the bundled model's recipe split it (its recorded selection).

    The fixed test is a seeded sample of its held-out rows of the trained-on domains (a held-out
    source, never trained on by the bundled model, may be what visitors now review).
    """
    from brandpulse.learning.finetune import LabelledRows
    from brandpulse.training.data import DataError, fingerprint, selection_of, training_data

    if not path.is_file():
        raise RetrainError(f"RETRAIN_BASE_CORPUS: {path} does not exist (build it with `make corpus`)")
    recorded = champion.info.get("data") or {}
    try:
        selection = selection_of(recorded)
        expected = recorded.get("base_fingerprint") or recorded["fingerprint"]
        if fingerprint(path, **selection) != expected:
            raise RetrainError(
                f"{path}: not the corpus the champion's base rows came from (fingerprint differs)"
            )
        _, train, validation, test = training_data(path, selection)
    except (DataError, KeyError, ValueError) as error:
        raise RetrainError(f"the champion does not say how to read the base corpus ({error})") from None
    held_out = set(selection["holdout_groups"] or ())
    in_domain = test.subset([i for i, group in enumerate(test.groups) if group not in held_out])
    rng = np.random.default_rng(FIXED_TEST_SEED)
    sample = np.sort(rng.choice(len(in_domain), min(fixed_rows, len(in_domain)), replace=False))
    fixed = in_domain.subset(sample)

    def rows(dataset: Any) -> LabelledRows:
        return LabelledRows(dataset.texts, dataset.stars, np.ones(len(dataset)), ["base"] * len(dataset))

    fixed_texts = {feedback_rows.normalise(text) for text in fixed.texts}
    return BaseCorpus(rows(train), rows(validation), rows(fixed), fixed_texts)


def _resolve_champion(settings: Settings) -> tuple[str, Path]:
    """The registry's champion (version, file), else the configured MODEL_PATH."""
    champion = registry.current_champion(get_database(), settings.model_dir)
    if champion is not None:
        return champion.version, champion.path
    return "", settings.model_path


def run_round(settings: Settings, options: RoundOptions = RoundOptions()) -> RoundResult:
    """One round of learning (see the module's docstring). The caller holds a database connection."""
    from tqdm import tqdm

    from brandpulse.model.checkpoint import CheckpointError, load_checkpoint

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
        selected = feedback_rows.select_feedback(
            feedback_rows.read_reviews(),
            min_chars=settings.retrain_min_chars,
            max_per_client_day=settings.retrain_max_per_client_day,
            kept_weight=kept_weight,
        )
        step("reviews", started)
        counts = selected.counts()
        if len(selected.reviews) < settings.retrain_min_reviews:
            reason = (
                f"{len(selected.reviews)} usable stored reviews, RETRAIN_MIN_REVIEWS is "
                f"{settings.retrain_min_reviews}: nothing to learn yet"
            )
            logger.info("retrain skipped: %s", reason)
            return RoundResult("skipped", reason, counts=counts, seconds=seconds)

        started = time.perf_counter()
        champion_version, champion_path = _resolve_champion(settings)
        try:
            champion = load_checkpoint(champion_path)
        except CheckpointError as error:
            raise RetrainError(f"the champion cannot be loaded: {error}") from None
        champion_version = champion_version or champion.version
        base = load_base_corpus(settings.retrain_base_corpus, champion, settings.retrain_fixed_test_rows)
        step("base corpus", started)

        older, recent = feedback_rows.split_by_time(selected, settings.retrain_recent_share)
        in_test = [feedback_rows.normalise(r.text) in base.fixed_test_texts for r in older.reviews]
        counts["dropped"]["in_fixed_test"] = int(sum(in_test))
        keep = np.flatnonzero(~np.asarray(in_test, dtype=bool)) if in_test else np.zeros(0, dtype=np.int64)
        trained = [older.reviews[i] for i in keep]
        train, validation = _training_rows(base, trained, older.weights[keep], settings)
        reviews_digest = hashlib.sha256(json.dumps([(r.id, r.rating) for r in trained]).encode()).hexdigest()
        mix = _rating_mix(selected, champion)
        recent_rows = _rows(recent.reviews, recent.weights)
        counts.update(
            {
                "recent": len(recent_rows),
                "train": train.counts(),
                "validation": validation.counts(),
                "fixed_test": len(base.fixed_test),
            }
        )

        started = time.perf_counter()
        challenger = _train(champion, train, validation, settings, options, mix["assumed"])
        step("train", started)
        seconds.update({f"train_{name}": value for name, value in challenger.seconds.items()})

        started = time.perf_counter()
        path, identity = _save(
            challenger, champion, champion_version, counts, reviews_digest, settings.model_dir
        )
        figures = _measure(
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
        result = _record(path, identity, decision, figures, counts, champion_version, settings, options, mix)
        step("register", started)
        result.seconds = seconds
        return result
    finally:
        bar.close()


def _rating_mix(selected: feedback_rows.Feedback, champion: Any) -> dict[str, Any]:
    """The rating mix the challenger assumes: the visitors' estimate, once there are enough
    usable reviews, else the champion's; with the corpus's mix (the champion's calibration rows)
    beside it for the admin page."""
    estimate = feedback_rows.visitor_mix(selected)
    prior = champion.rating_prior
    bands = ("bad", "average", "good")
    mix: dict[str, Any] = {
        "visitors": estimate.as_dict(),
        "corpus": dict(zip(bands, prior.calibrated, strict=True)) if prior else None,
        "champion": dict(zip(bands, prior.assumed, strict=True)) if prior else None,
    }
    if estimate.reviews >= feedback_rows.MIN_MIX_REVIEWS:
        mix["assumed"], mix["source"] = estimate.shares, "visitors"
    else:
        mix["assumed"] = prior.assumed if prior else None
        mix["source"] = (
            f"the champion's ({estimate.reviews} usable reviews, {feedback_rows.MIN_MIX_REVIEWS} needed)"
        )
    logger.info("rating mix assumed: %s (%s)", mix["assumed"], mix["source"])
    return mix


def _training_rows(base: BaseCorpus, reviews: list, weights: np.ndarray, settings: Settings):
    """(train, validation): base rows and the older reviews, these weighted to their configured share."""
    rng = np.random.default_rng(FIXED_TEST_SEED)
    order = rng.permutation(len(reviews))
    n_val = max(1, round(len(reviews) * VALIDATION_SHARE)) if len(reviews) > 1 else 0
    val_idx, train_idx = np.sort(order[:n_val]), np.sort(order[n_val:])
    feedback = _rows(reviews, weights)
    feedback_train, feedback_val = feedback.subset(train_idx), feedback.subset(val_idx)
    feedback_val.weights = np.ones(len(val_idx))
    share = settings.retrain_feedback_share
    if len(feedback_train) and feedback_train.weights.sum() > 0:
        scale = share / (1 - share) * base.train.weights.sum() / feedback_train.weights.sum()
        feedback_train.weights = feedback_train.weights * scale
    n_base_val = min(len(base.validation), max(MIN_BASE_VALIDATION, len(feedback_val)))
    base_val_idx = np.sort(rng.choice(len(base.validation), n_base_val, replace=False))
    base_val = base.validation.subset(base_val_idx)
    if len(feedback_val):  # the stored reviews carry the same share of the validation weight
        base_val.weights = np.full(n_base_val, len(feedback_val) * (1 - share) / share / n_base_val)
    return base.train + feedback_train, base_val + feedback_val


def _train(
    champion: Any,
    train: Any,
    validation: Any,
    settings: Settings,
    options: RoundOptions,
    assumed_mix: Sequence[float] | None,
) -> Any:
    from brandpulse.learning.finetune import FinetuneConfig, train_challenger
    from brandpulse.model.runtime import use_threads

    use_threads(settings.retrain_threads or None)
    config = FinetuneConfig(
        cnn_epochs=settings.retrain_cnn_epochs, max_steps=options.max_steps, bf16=settings.inference_bf16
    )
    try:
        return train_challenger(champion, train, validation, config, assumed_mix=assumed_mix)
    except ValueError as error:
        raise RetrainError(f"cannot train a challenger: {error}") from None


def _save(
    challenger: Any, champion: Any, parent: str, counts: dict[str, Any], reviews_digest: str, model_dir: Path
) -> tuple[Path, dict[str, Any]]:
    """Write the challenger to MODEL_DIR as `<version>.safetensors`; return its path and identity.

    Its data fingerprint covers the base corpus and the stored reviews (ids and ratings) it
    learnt from; the base corpus's own fingerprint stays recorded for the next round.
    """
    import torch

    from brandpulse.model.checkpoint import save_checkpoint

    base_data = dict(champion.info.get("data") or {})
    base_fingerprint = base_data.get("base_fingerprint") or base_data.get("fingerprint")
    digest = hashlib.sha256(f"{base_fingerprint}:{reviews_digest}".encode())
    info = {
        **{key: value for key, value in champion.info.items() if key not in ("train", "combination")},
        "data": {**base_data, "base_fingerprint": base_fingerprint, "fingerprint": digest.hexdigest()},
        "parent": parent,
        "retrain": {**challenger.info, "seconds": challenger.seconds, "counts": counts},
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }
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


def _measure(
    champion: Any, challenger: Any, fixed: Any, recent: Any, bf16: bool
) -> dict[str, dict[str, Any]]:
    """Both models' star figures on the fixed test and the recent reviews (the files as served).

    The challenger is also measured on the fixed test suggesting each band as often as the
    champion does there (`fixed_at_champion_rates`, `scoring.cuts_at_band_counts`): what the gate
    compares, so that a rule fitted for a new mix of visitors is not taken for forgetting. The CNN
    runs under bfloat16 autocast if `bf16` (MODEL_BF16, as in serving).
    """
    from brandpulse.learning.finetune import probability_figures, star_figures
    from brandpulse.model.predictor import Predictor
    from brandpulse.model.scoring import bands_of, cuts_at_band_counts, sentiment_scores, suggested_ratings

    def measured(checkpoint: Any) -> tuple[dict[str, Any], np.ndarray]:
        """The checkpoint's figures, and its probabilities on the fixed test."""
        predictor = Predictor.from_loaded(checkpoint, batch_size=128, bf16=bf16)
        probabilities = predictor.predict_proba(list(fixed.texts))
        return {
            "version": checkpoint.version,
            "fixed": probability_figures(probabilities, fixed.stars, checkpoint.rating_cuts),
            "recent": star_figures(predictor, recent.texts, recent.stars, recent.weights),
        }, probabilities

    champion_figures, champion_probabilities = measured(champion)
    challenger_figures, challenger_probabilities = measured(challenger)
    champion_ratings = suggested_ratings(sentiment_scores(champion_probabilities), champion.rating_cuts)
    cuts = cuts_at_band_counts(
        sentiment_scores(challenger_probabilities),
        challenger.rating_cuts,
        np.bincount(bands_of(champion_ratings), minlength=3),
    )
    challenger_figures["fixed_at_champion_rates"] = probability_figures(
        challenger_probabilities, fixed.stars, cuts
    )
    return {"champion": champion_figures, "challenger": challenger_figures}


def _record(
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
            "assumed": dict(zip(("bad", "average", "good"), mix["assumed"], strict=True))
            if mix["assumed"]
            else None,
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
            row.version, by="retrain", model_dir=settings.model_dir, reason=f"gate: {decision.reason}"
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


def _report(result: RoundResult, path: Path | None) -> None:
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(result), indent=2, default=str) + "\n")


def run_scheduled(app: Flask, cron: str, options: RoundOptions, report: Path | None) -> int:
    """Run a round at every time of the cron expression until SIGTERM or SIGINT (APScheduler)."""
    from apscheduler.schedulers.blocking import BlockingScheduler
    from apscheduler.triggers.cron import CronTrigger

    try:
        trigger = CronTrigger.from_crontab(cron, timezone="UTC")
    except ValueError as error:
        logger.error("RETRAIN_SCHEDULE: %r is not a cron expression (%s)", cron, error)
        return 2

    def job() -> None:
        try:
            _report(run_once(app, options), report)
        except RetrainBusy as error:
            logger.warning("retrain round skipped: %s", error)
        except Exception:  # a failed round must not stop the schedule
            logger.exception("retrain round failed")

    scheduler = BlockingScheduler(timezone="UTC")
    scheduler.add_job(job, trigger, id="retrain", max_instances=1, coalesce=True, misfire_grace_time=3600)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: scheduler.shutdown(wait=False))
    logger.info("retrain scheduled: %r (UTC)", cron)
    scheduler.start()
    logger.info("retrain scheduler stopped")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The `retrain` command line."""
    p = argparse.ArgumentParser(prog="retrain", description=__doc__.splitlines()[0])
    p.add_argument(
        "--schedule",
        nargs="?",
        const="",
        metavar="CRON",
        help="run rounds on this cron schedule (UTC) instead of once; no value: RETRAIN_SCHEDULE",
    )
    p.add_argument(
        "--no-promote", action="store_true", help="a challenger that passes the gate stays a candidate"
    )
    p.add_argument("--max-steps", type=int, help="CNN fine-tuning step budget (smoke runs)")
    p.add_argument(
        "--kept-weight", type=float, help="weight of a kept suggestion, 0 to 1 (default RETRAIN_KEPT_WEIGHT)"
    )
    p.add_argument("--report", type=Path, help="write what the round did to this JSON file")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the `retrain` command line; returns the process exit code."""
    from brandpulse.api import create_app
    from brandpulse.api.settings import SettingsError

    args = build_parser().parse_args(argv)
    if args.kept_weight is not None and not 0 <= args.kept_weight <= 1:
        logger.error("--kept-weight must be between 0 and 1")
        return 2
    if reason := fitting_unavailable():
        logging.basicConfig()
        logger.error("%s", reason)
        return 2
    try:
        app = create_app()
    except SettingsError as error:
        logging.basicConfig()
        logger.error("%s", error)
        return 2
    options = RoundOptions(
        promote=not args.no_promote, max_steps=args.max_steps, kept_weight=args.kept_weight
    )
    if args.schedule is not None:
        cron = args.schedule or current_settings(app).retrain_schedule
        return run_scheduled(app, cron, options, args.report)
    try:
        result = run_once(app, options)
    except RetrainBusy as error:
        logger.warning("%s", error)
        return EX_TEMPFAIL
    except RetrainError as error:
        logger.error("%s", error)
        return 2
    _report(result, args.report)
    logger.info("retrain: %s (%s)", result.status, result.reason)
    return 0


if __name__ == "__main__":
    sys.exit(main())
