"""`train-bundled`: rebuild the bundled model from its recipe, `src/model/bundled/recipe.toml`.

The recipe is the one place that holds how the shipped model is made: the corpus, the rows
and split both models share, the CNN's and the n-gram model's settings, and where the
results go. This command turns each step into the argument list of the command that runs it
(`build-corpus`, `train`, `train-ngram`, `combine-models`, `evaluate` on the held-out rows and
on the movie reviews for reference, `model-card`) and runs them in order; `--dry-run` prints the
commands instead, `--from STEP` resumes at a step.
"""

from __future__ import annotations

import argparse
import logging
import shlex
import subprocess
import sys
import tomllib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from brandpulse.model.paths import BUNDLED_CHECKPOINT
from brandpulse.model.runtime import configure_logging

logger = logging.getLogger(__name__)

RECIPE = BUNDLED_CHECKPOINT.parent / "recipe.toml"
STEPS = ("corpus", "cnn", "ngram", "combine", "evaluate", "reference", "card")


def load_recipe(path: str | Path = RECIPE) -> dict[str, Any]:
    """The recipe's tables, as TOML reads them."""
    return tomllib.loads(Path(path).read_text(encoding="utf-8"))


def options(values: dict[str, Any]) -> list[str]:
    """`--key value` pairs of a recipe table: lists repeat or spread as their option takes them,
    true flags stand alone, false and empty values are left out."""
    argv: list[str] = []
    for key, value in values.items():
        flag = "--" + key.replace("_", "-")
        if value is True:
            argv.append(flag)
        elif value is False or value is None or value == []:
            continue
        elif isinstance(value, list):
            if key == "holdout_groups":  # an option given once per value
                for item in value:
                    argv += ["--holdout-group", str(item)]
            else:
                argv += [flag, *map(str, value)]
        else:
            argv += [flag, str(value)]
    return argv


def step_commands(recipe: dict[str, Any], root: Path) -> list[tuple[str, str, list[str]]]:
    """(step, command, arguments) for every step of the recipe, paths resolved against `root`."""

    def path(value: str) -> str:
        return str(root / value)

    paths = recipe["paths"]
    data, checkpoint, split = path(paths["corpus"]), path(paths["checkpoint"]), path(paths["split"])
    cnn, ngram = path(paths["cnn"]), path(paths["ngram"])
    reports = {name: path(f"{paths['reports']}/{name}") for name in ("held_out", "reference")}
    selection = ["--data", data, *options(recipe["selection"])]
    corpus = ["--manifest", path(paths["manifest"]), "--out", data]
    for reference in paths.get("against", []):
        corpus += ["--against", path(reference)]
    columns = {key: recipe["selection"][key] for key in ("label_column", "labels", "group_column")}
    reference = dict(recipe["reference"])
    reference_data, reference_split = path(reference.pop("data")), path(reference.pop("split_file"))
    card = ["--checkpoint", checkpoint]
    for name, folder in reports.items():
        card += ["--report", f"{name}={folder}/report.json"]
    return [
        ("corpus", "build-corpus", corpus),
        ("cnn", "train", [*selection, *options(recipe["cnn"]), "--split-out", split, "--out", cnn]),
        ("ngram", "train-ngram", [*selection, *options(recipe["ngram"]), "--out", ngram]),
        (
            "combine",
            "combine-models",
            [
                "--cnn",
                cnn,
                "--ngram",
                ngram,
                "--data",
                data,
                *options(recipe["combine"]),
                "--out",
                checkpoint,
            ],
        ),
        (
            "evaluate",
            "evaluate",
            ["--model", checkpoint, "--data", data, *options(columns), "--split-file", split]
            + [*options(recipe["evaluate"]), "--out-dir", reports["held_out"]],
        ),
        (
            "reference",
            "evaluate",
            [
                "--model",
                checkpoint,
                "--data",
                reference_data,
                *options(reference),
                "--split-file",
                reference_split,
            ]
            + ["--out-dir", reports["reference"]],
        ),
        ("card", "model-card", card),
    ]


def command_mains() -> dict[str, Callable[[list[str]], int]]:
    """Each step's command, as the function its console script runs."""
    from brandpulse.training import combine, evaluate, model_card, train, train_ngram
    from brandpulse.training.corpus import build

    return {
        "build-corpus": build.main,
        "train": train.main,
        "train-ngram": train_ngram.main,
        "combine-models": combine.main,
        "model-card": model_card.main,
        "evaluate": evaluate.main,
    }


def torchrun(processes: int) -> list[str]:
    """The command that runs `train` in `processes` data-parallel processes of this host."""
    return [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(processes),
        "-m", "brandpulse.training.train",
    ]  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    """Run the `train-bundled` command line; returns the process exit code."""
    p = argparse.ArgumentParser(prog="train-bundled", description=__doc__.splitlines()[0])
    p.add_argument("--recipe", type=Path, default=RECIPE, help="the recipe (TOML)")
    p.add_argument("--root", type=Path, default=Path.cwd(), help="folder the recipe's paths are relative to")
    p.add_argument("--from", dest="start", choices=STEPS, default=STEPS[0], help="first step to run")
    p.add_argument("--to", dest="stop", choices=STEPS, default=STEPS[-1], help="last step to run")
    p.add_argument("--dry-run", action="store_true", help="print the commands, run nothing")
    p.add_argument(
        "--processes",
        type=int,
        default=1,
        help="train the CNN data-parallel in this many processes of this host (torchrun: one per GPU); "
        "for several hosts run the printed torchrun command on each (docs/model_card.md)",
    )
    p.add_argument("--log-level", default="INFO", help="logging level")
    args = p.parse_args(argv)
    configure_logging(args.log_level)
    try:
        steps = step_commands(load_recipe(args.recipe), args.root)
    except (OSError, tomllib.TOMLDecodeError, KeyError) as error:
        logger.error("%s: cannot use the recipe (%s)", args.recipe, error)
        return 2
    chosen = steps[STEPS.index(args.start) : STEPS.index(args.stop) + 1]
    mains = {} if args.dry_run else command_mains()
    for step, command, arguments in chosen:
        launcher = torchrun(args.processes) if step == "cnn" and args.processes > 1 else None
        shown = (
            f"torchrun {shlex.join([*launcher[3:], *arguments])}"
            if launcher
            else f"{command} {shlex.join(arguments)}"
        )
        logger.info("step %s: %s", step, shown)
        if args.dry_run:
            sys.stdout.write(f"{shown}\n")
            continue
        code = subprocess.call([*launcher, *arguments]) if launcher else mains[command](arguments)
        if code != 0:
            logger.error("step %s failed (exit code %d)", step, code)
            return code
    return 0


if __name__ == "__main__":
    sys.exit(main())
