"""The bundled model's recipe: one file, turned into the commands that rebuild the model."""

from __future__ import annotations

import sys
from pathlib import Path

from brandpulse.training import recipe
from brandpulse.training.cli import add_data_arguments, selection_from_args
from brandpulse.training.data import SELECTION_KEYS
from brandpulse.training.train import build_parser


def test_options_turn_a_table_into_arguments():
    table = {"max_length": 512, "fp16": True, "balance": False, "holdout_groups": ["a", "b"], "against": []}
    assert recipe.options(table) == [
        "--max-length",
        "512",
        "--fp16",
        "--holdout-group",
        "a",
        "--holdout-group",
        "b",
    ]


def test_every_step_parses_and_both_models_select_the_same_rows(tmp_path):
    steps = {
        step: (command, argv) for step, command, argv in recipe.step_commands(recipe.load_recipe(), tmp_path)
    }
    assert list(steps) == list(recipe.STEPS)
    cnn = build_parser().parse_args(steps["cnn"][1])
    from brandpulse.training.train_ngram import build_parser as baseline_parser

    ngram = baseline_parser().parse_args(steps["ngram"][1])
    assert selection_from_args(cnn) == selection_from_args(ngram)  # same rows, same split
    assert set(selection_from_args(cnn)) == set(SELECTION_KEYS)
    assert cnn.out.parent == tmp_path / "models" and str(cnn.split_out).endswith("review_stars_split.json")
    assert steps["combine"][1][-1].endswith("src/model/bundled/review_stars.safetensors")


def test_dry_run_prints_the_commands(capsys, tmp_path):
    assert recipe.main(["--dry-run", "--root", str(tmp_path), "--from", "ngram", "--to", "combine"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == ["train-ngram", "combine-models"]


def test_processes_run_the_cnn_step_under_torchrun_and_only_that_step(capsys, tmp_path):
    assert recipe.main(["--dry-run", "--root", str(tmp_path), "--to", "ngram", "--processes", "4"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == ["build-corpus", "torchrun", "train-ngram"]
    cnn = lines[1].split()
    assert cnn[1:6] == ["--standalone", "--nproc_per_node", "4", "-m", "brandpulse.training.train"]
    assert "--out" in cnn  # the recipe's own train options follow
    # What would run is the same launcher, with the running interpreter.
    assert recipe.torchrun(4)[:3] == [sys.executable, "-m", "torch.distributed.run"]


def test_a_bad_recipe_is_reported(tmp_path, caplog):
    bad = tmp_path / "recipe.toml"
    bad.write_text("[paths]\n")
    assert recipe.main(["--recipe", str(bad), "--dry-run"]) == 2
    assert "cannot use the recipe" in caplog.text


def test_the_recipe_is_the_only_place_with_the_shipped_settings():
    # The Makefile runs the recipe rather than repeating its values.
    makefile = (Path(__file__).resolve().parents[2] / "Makefile").read_text()
    assert (
        "$(BIN)/train-bundled" in makefile and "--max-length" not in makefile and "--dropout" not in makefile
    )


def test_data_options_are_shared(tmp_path):
    import argparse

    parser = argparse.ArgumentParser()
    add_data_arguments(parser)
    args = parser.parse_args(["--data", "x.csv"])
    assert args.test_fraction == 0.2 and args.labels == "binary" and args.holdout_groups == []
