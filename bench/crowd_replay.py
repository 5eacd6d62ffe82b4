"""The learning loop end to end: replay a source's reviews as visitors, retrain, measure before and after.

Starts the API under gunicorn as `make run` does (SQLite in a temporary folder unless
--database-url, the bundled model as the first champion, rate limits off, 127.0.0.1 a trusted
proxy so each simulated visitor has an address of its own), then:

1. **before**: scores the next M reviews of the source through `POST /api/predict/batch`;
2. **replay**: posts N reviews of that source through `POST /api/review` as visitors would: each
   asks `POST /api/predict` for the suggestion first, as the page does while they type; a
   visitor posts one to three reviews from one address; `--control-share` of the visitors are
   the control group (shown no suggestion); of the others, `--lazy-share` keep whatever the model
   suggests (the echo), the rest give the review's true stars;
3. **retrain**: one `retrain` round (subprocess, as the schedule runs it), its gate, its promotion;
4. **swap**: a client asking for a prediction every 0.2 s throughout notes when the new champion
   first answers, timed from the registry's `promoted_at`, and any failed prediction;
5. **after**: scores the same M reviews again.

With `--compare-kept-weight W`, a round with kept suggestions weighted W (1.0: no echo
correction) runs first with `--no-promote`, and its challenger is measured on the same M reviews
in this process, beside the default round's.

    python bench/crowd_replay.py [--replay 3000] [--evaluate 2000] [--source google_play_apps]
                                 [--mix source|equal] [--model PATH] [--champion-rule corpus]

The default source, Google Play app reviews, is the bundled model's held-out source: it never
trained on it (src/model/bundled/recipe.toml). `--source held-out` replays the bundled
model's held-out test rows of the sources it trained on (companies it never saw).
`--mix equal` draws the replayed and the measured reviews a third each bad (1-2 stars), average
(3) and good (4-5), as visitors who write many mixed reviews would; `source` (the default)
keeps the source's own mix. `--model` is the first champion (default: the bundled model);
`--champion-rule corpus` makes it suggest for its corpus's rating mix, as before issue 23.
Figures: band accuracy on the measured reviews' mix and balanced (the mean of the bands'
recalls), each band's recall, MAE, within one star. Targets: issue 12, band accuracy on the
next 2,000 up by 0.08 after 3,000 replayed reviews, the cycle (retrain, gate, swap) within 15
minutes on two cores; issue 23, balanced band accuracy up by 0.06 (held-out companies, equal
mix) and 0.04 (apps).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as `python bench/crowd_replay.py`: import from the repository root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import requests  # noqa: E402

from bench.common import BIN, REPO, command_line, serve_api  # noqa: E402
from brandpulse.api.settings import Settings  # noqa: E402
from brandpulse.learning.feedback import normalise  # noqa: E402
from brandpulse.learning.measure import star_figures  # noqa: E402
from brandpulse.learning.round_data import load_base_corpus  # noqa: E402
from brandpulse.model.checkpoint import BUNDLED_CHECKPOINT, load_checkpoint, save_with_rule  # noqa: E402
from brandpulse.model.predictor import Predictor  # noqa: E402
from brandpulse.model.runtime import bf16_is_fast  # noqa: E402
from brandpulse.model.scoring import bands_of, fit_rating_cuts, sentiment_scores  # noqa: E402
from brandpulse.training.metrics import rating_metrics  # noqa: E402

FIGURES = ("band_accuracy", "band_balanced_accuracy", "band_recall", "mae", "within_one", "exact_accuracy")
HELD_OUT = "held-out"  # --source: the bundled model's held-out test rows of its trained-on sources


def source_rows(corpus: Path, source: str, min_chars: int, seed: int) -> list[dict[str, str]]:
    """The source's rows long enough to post, in a seeded random order.

    For `held-out`, the bundled model's held-out test rows of its trained-on sources, less the
    gate's fixed test (a round never trains on those, and judges forgetting on them).
    """
    with corpus.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    if source == HELD_OUT:
        split = json.loads(BUNDLED_CHECKPOINT.with_name("review_stars_split.json").read_text())
        test_rows = set(split["test_row_ids"])
        bundled = load_checkpoint(BUNDLED_CHECKPOINT)
        fixed = load_base_corpus(corpus, bundled, Settings().retrain_fixed_test_rows)
        rows = [
            row
            for i, row in enumerate(rows)
            if i in test_rows
            and row["source"] not in split["holdout_groups"]
            and normalise(row["text"]) not in fixed.fixed_test_texts
        ]
    else:
        rows = [row for row in rows if row["source"] == source]
    rows = [row for row in rows if len(" ".join(row["text"].split())) >= min_chars]
    random.Random(seed).shuffle(rows)
    return rows


def equal_bands(rows: list[dict[str, str]], count: int, strict: bool = True) -> list[dict[str, str]]:
    """`count` of the rows, a third each bad, average and good (in their order), then interleaved.

    A band with fewer rows raises ValueError, or if not `strict` gives all it has.
    """
    by_band: list[list[dict[str, str]]] = [[], [], []]
    for row in rows:
        by_band[int(bands_of(int(row["stars"])))].append(row)
    share = count // 3
    if strict and min(len(band) for band in by_band) < share:
        raise ValueError(f"fewer than {share} rows in some band: {[len(band) for band in by_band]}")
    chosen = [row for band in by_band for row in band[:share]]
    random.Random(len(chosen)).shuffle(chosen)
    return chosen


def split_rows(
    rows: list[dict[str, str]], replay: int, evaluate: int, mix: str
) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """(posted, measured): the first `replay` rows and the next `evaluate`, in the source's mix or
    equal bands. Measured in equal bands, a band short of rows gives what it has: balanced band
    accuracy, the mean of the recalls, does not depend on the mix."""
    if mix != "equal":
        return rows[:replay], rows[replay : replay + evaluate]
    posted = equal_bands(rows, replay)
    chosen = {id(row) for row in posted}
    return posted, equal_bands([row for row in rows if id(row) not in chosen], evaluate, strict=False)


def corpus_rule_copy(model: Path, corpus: Path, directory: Path) -> Path:
    """A copy of `model` that suggests for its corpus's own rating mix, as every checkpoint before
    issue 23 did: no rating prior, cut points fitted on its validation rows as they are."""
    checkpoint = load_checkpoint(model)
    checkpoint.rating_prior = None
    validation = load_base_corpus(corpus, checkpoint, Settings().retrain_fixed_test_rows).validation
    bf16 = bf16_is_fast("cpu")
    scores = sentiment_scores(Predictor.from_loaded(checkpoint, bf16=bf16).predict_proba(validation.texts))
    return save_with_rule(
        directory / "corpus_rule.safetensors", checkpoint, fit_rating_cuts(scores, validation.stars)
    )


def figures_of(suggested: Sequence[int], stars: Sequence[int], scores: Sequence[float]) -> dict[str, Any]:
    """Band accuracy (own mix and balanced), each band's recall, MAE, within one and exact stars."""
    figures = rating_metrics(np.asarray(stars), np.asarray(scores), np.asarray(suggested))
    rounded = {key: round(figures[key], 4) for key in FIGURES if key != "band_recall"}
    return {**rounded, "band_recall": {band: round(v, 3) for band, v in figures["band_recall"].items()}}


def score_over_http(session: requests.Session, url: str, rows: list[dict[str, str]]) -> tuple[dict, str]:
    """Figures of the served model on these rows, through `POST /api/predict/batch`."""
    suggested, scores, version = [], [], ""
    for start in range(0, len(rows), 32):
        batch = [row["text"] for row in rows[start : start + 32]]
        response = session.post(f"{url}/api/predict/batch", json={"texts": batch}, timeout=60)
        response.raise_for_status()
        body = response.json()
        suggested += [prediction["suggested_rating"] for prediction in body["predictions"]]
        scores += [prediction["score"] for prediction in body["predictions"]]
        version = body["model_version"]
    return figures_of(suggested, [int(row["stars"]) for row in rows], scores), version


def replay(
    session: requests.Session,
    url: str,
    rows: list[dict[str, str]],
    brands: list[str],
    args: argparse.Namespace,
) -> dict[str, Any]:
    """Post the rows as visitors would; counts of what happened."""
    rng = random.Random(args.seed + 1)
    counts = {"posted": 0, "control": 0, "kept_lazily": 0, "errors": 0}
    visitor, left, control, lazy = 0, 0, False, False
    for row in rows:
        if left == 0:  # a new visitor: an address, one to three reviews, a group
            visitor += 1
            left = rng.randint(1, 3)
            control = rng.random() < args.control_share
            lazy = rng.random() < args.lazy_share
        left -= 1
        headers = {"X-Forwarded-For": f"10.{visitor >> 16 & 255}.{visitor >> 8 & 255}.{visitor & 255}"}
        body: dict[str, Any] = {"text": row["text"], "brand": rng.choice(brands), "rating": int(row["stars"])}
        if control:
            body["suggestion_shown"] = False
            counts["control"] += 1
        else:
            prediction = session.post(
                f"{url}/api/predict", json={"text": row["text"]}, headers=headers
            ).json()
            body.update(
                suggestion_shown=True,
                suggested_rating=prediction["suggested_rating"],
                score=prediction["score"],
                model_version=prediction["model_version"],
            )
            if lazy:
                body["rating"] = prediction["suggested_rating"]
                counts["kept_lazily"] += 1
        response = session.post(f"{url}/api/review", json=body, headers=headers, timeout=60)
        if response.status_code == 201:
            counts["posted"] += 1
        else:
            counts["errors"] += 1
    return counts


def run_retrain(environ: dict[str, str], report: Path, *extra: str) -> tuple[dict[str, Any], float]:
    """One `retrain` round as a subprocess; its report and wall time."""
    started = time.perf_counter()
    subprocess.run(
        [str(BIN / "retrain"), "--report", str(report), *extra],
        env=environ,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return json.loads(report.read_text()), time.perf_counter() - started


class VersionWatch(threading.Thread):
    """Asks for a prediction every 0.2 s and notes when (UTC) each served version first answered."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.first_seen: dict[str, datetime] = {}
        self.errors = 0
        self.stop = threading.Event()

    def run(self) -> None:
        session = requests.Session()
        while not self.stop.wait(0.2):
            try:
                response = session.post(f"{self.url}/api/predict", json={"text": "Which model answers?"})
                response.raise_for_status()
                self.first_seen.setdefault(response.json()["model_version"], datetime.now(UTC))
            except requests.RequestException:
                self.errors += 1


def swap_seconds(session: requests.Session, url: str, token: str, version: str, watch: VersionWatch) -> float:
    """Seconds from the promotion (the registry's promoted_at) to the first prediction by `version`."""
    deadline = time.monotonic() + 60
    while version not in watch.first_seen and time.monotonic() < deadline:
        time.sleep(0.2)
    if version not in watch.first_seen:
        raise RuntimeError(f"the API did not serve {version} within a minute of the round")
    rows = session.get(f"{url}/api/models", headers={"Authorization": f"Bearer {token}"}).json()["items"]
    promoted = datetime.fromisoformat(next(row for row in rows if row["version"] == version)["promoted_at"])
    return (watch.first_seen[version] - promoted).total_seconds()


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its figures."""
    p = command_line(__doc__)
    p.add_argument("--replay", type=int, default=3000, help="reviews posted (N)")
    p.add_argument("--evaluate", type=int, default=2000, help="following reviews measured (M)")
    p.add_argument(
        "--source", default="google_play_apps", help=f"the corpus source replayed, or {HELD_OUT!r}"
    )
    p.add_argument("--mix", choices=("source", "equal"), default="source", help="the replayed rating mix")
    p.add_argument("--model", type=Path, default=BUNDLED_CHECKPOINT, help="the first champion")
    p.add_argument(
        "--champion-rule",
        choices=("as-is", "corpus"),
        default="as-is",
        help="corpus: the first champion's rule refitted for its corpus's rating mix (no prior)",
    )
    p.add_argument("--corpus", type=Path, default=REPO / "data" / "reviews.csv", help="`make corpus` output")
    p.add_argument("--control-share", type=float, default=0.1, help="visitors shown no suggestion")
    p.add_argument("--lazy-share", type=float, default=0.0, help="shown visitors who keep any suggestion")
    p.add_argument("--compare-kept-weight", type=float, help="also a round with this kept-suggestion weight")
    p.add_argument("--database-url", default="", help="default: SQLite in a temporary folder")
    p.add_argument("--seed", type=int, default=2026)
    args = p.parse_args(argv)
    out = sys.stdout

    rows = source_rows(args.corpus, args.source, min_chars=20, seed=args.seed)
    if len(rows) < args.replay + args.evaluate:
        p.error(f"{args.source} has {len(rows)} usable rows, fewer than --replay + --evaluate")
    try:
        posted, measured = split_rows(rows, args.replay, args.evaluate, args.mix)
    except ValueError as error:
        p.error(f"--mix equal: {error}")
    measured_bands = np.bincount(bands_of(np.asarray([int(row["stars"]) for row in measured])), minlength=3)
    workspace = tempfile.TemporaryDirectory()
    if args.champion_rule == "corpus":
        args.model = corpus_rule_copy(args.model, args.corpus, Path(workspace.name))
    champion = load_checkpoint(args.model)
    held_out = (champion.info.data.holdout_groups if champion.info.data else None) or []
    never = args.source in held_out or args.source == HELD_OUT
    prior = (
        champion.rating_prior.to_dict()["assumed"]
        if champion.rating_prior
        else f"its corpus's, cut points {champion.rating_cuts}"
    )
    out.write(
        f"source {args.source} ({'never' if never else 'already'} trained on by the champion), "
        f"{args.mix} mix: {len(posted)} replayed, the next {len(measured)} measured "
        f"(bad, average, good: {', '.join(map(str, measured_bands))}); control share "
        f"{args.control_share}, lazy share {args.lazy_share}; champion {champion.version} "
        f"(rating mix assumed: {prior}); {os.cpu_count()} CPUs, MODEL_BF16 "
        f"{os.environ.get('MODEL_BF16', 'auto')}\n"
    )

    with serve_api(
        args.database_url,
        model=args.model.resolve(),
        ADMIN_TOKEN=secrets.token_urlsafe(24),
        TRUSTED_PROXIES="127.0.0.1",  # each simulated visitor has an address of its own
        MODEL_POLL_SECONDS="2",
        RETRAIN_BASE_CORPUS=str(args.corpus.resolve()),
    ) as api:
        url, directory = api.url, Path(api.env["DATA_DIR"])  # `retrain` runs with the server's settings
        session = requests.Session()
        brands = [brand["name"] for brand in session.get(f"{url}/api/brands").json()["items"]]

        started = time.perf_counter()
        before, before_version = score_over_http(session, url, measured)
        out.write(f"before  {before_version}: {before} ({time.perf_counter() - started:.0f} s)\n")

        started = time.perf_counter()
        counts = replay(session, url, posted, brands, args)
        replay_seconds = time.perf_counter() - started
        out.write(f"replay: {counts} in {replay_seconds:.0f} s\n")

        if args.compare_kept_weight is not None:
            weight = str(args.compare_kept_weight)
            report, seconds = run_retrain(
                api.env, directory / "compare.json", "--no-promote", "--kept-weight", weight
            )
            figures = "-"
            if report["challenger"]:
                path = directory / "models" / f"{report['challenger']}.safetensors"
                predictor = Predictor.from_checkpoint(path, batch_size=128, bf16=bf16_is_fast("cpu"))
                stars = np.asarray([int(row["stars"]) for row in measured])
                measured_figures = star_figures(predictor, [row["text"] for row in measured], stars)
                figures = {key: measured_figures[key] for key in FIGURES}
            out.write(
                f"compare: kept weight {weight}: {report['status']} {report['challenger']} "
                f"in {seconds:.0f} s, on the next {len(measured)}: {figures}\n"
                f"         counts {report['counts']}\n"
            )

        watch = VersionWatch(url)
        watch.start()
        report, retrain_seconds = run_retrain(api.env, directory / "round.json")
        out.write(
            f"retrain: {report['status']} {report['challenger']} in {retrain_seconds:.0f} s "
            f"(steps {report['seconds']})\n         gate: {report['reason']}\n"
            f"         counts {report['counts']}\n"
        )
        swap = 0.0
        if report["status"] == "promoted":
            swap = swap_seconds(session, url, api.env["ADMIN_TOKEN"], report["challenger"], watch)
        watch.stop.set()
        watch.join()
        out.write(
            f"swap: served {swap:.1f} s after the promotion (MODEL_POLL_SECONDS 2); "
            f"{watch.errors} failed predictions while retraining and swapping\n"
        )

        after, after_version = score_over_http(session, url, measured)
        out.write(f"after   {after_version}: {after}\n")

    gain = after["band_accuracy"] - before["band_accuracy"]
    balanced = after["band_balanced_accuracy"] - before["band_balanced_accuracy"]
    out.write(
        f"\nband accuracy {before['band_accuracy']:.4f} -> {after['band_accuracy']:.4f} ({gain:+.4f}); "
        f"balanced {before['band_balanced_accuracy']:.4f} -> {after['band_balanced_accuracy']:.4f} "
        f"({balanced:+.4f}); recall {before['band_recall']} -> {after['band_recall']}; "
        f"MAE {before['mae']:.3f} -> {after['mae']:.3f}; within one "
        f"{before['within_one']:.3f} -> {after['within_one']:.3f}\n"
        f"cycle (retrain, gate, swap): {retrain_seconds + swap:.0f} s (target 900 s)\n"
    )
    workspace.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
