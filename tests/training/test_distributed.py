"""`train` under torchrun: 2 CPU processes (gloo, DDP) against one, on a real sample of the corpus.

The two runs share every option and seed: with the global batch split between the processes,
their optimisation is the same (docs/model_card.md, "Training on several processes"), so the
held-out figures must agree within the test split's noise, and the checkpoint of the pair must
be the usual format, record `world_size` and `backend`, and be served by the API.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests
import torch

from brandpulse.model.checkpoint import load_checkpoint
from brandpulse.training import distributed
from tests.support.servers import ApiServer, api_settings, free_port, prepare_database

pytestmark = pytest.mark.slow

TEST_ROWS = 1200  # 20 % of the 6,000 rows read
# Two runs that learn alike differ on 1,200 test rows by sampling noise alone: one standard
# error of an accuracy near 0.8 is sqrt(0.8 * 0.2 / 1200) = 0.012; 2.5 of them is the bound.
ACCURACY_TOLERANCE = 2.5 * math.sqrt(0.8 * 0.2 / TEST_ROWS)
MACRO_F1_TOLERANCE = 0.05  # macro-F1 leans on the smaller (negative) class: ~1.5x the noise


def train_arguments(data: Path, out: Path) -> list[str]:
    """A few hundred steps of the small CNN on a 6,000-row sample of the corpus, positive against negative."""
    return [
        "--data", str(data), "--label-column", "stars", "--labels", "stars2", "--group-column", "source",
        "--max-rows", "6000", "--arch", "small-bn", "--max-length", "256",
        "--epochs", "4", "--patience", "4", "--batch-size", "64", "--seed", "5",
        "--out", str(out),
    ]  # fmt: skip


def run(command: list[str], log: Path, env: dict[str, str] | None = None) -> None:
    """Run a training command; fail with its log's end if it fails."""
    with log.open("w") as output:
        code = subprocess.call(command, stdout=output, stderr=subprocess.STDOUT, env=env, timeout=900)
    assert code == 0, f"{command[:4]} exited with {code}:\n{log.read_text()[-4000:]}"


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, reviews_csv: Path) -> dict[str, Path]:
    """The checkpoint of one process and the checkpoint of two (torchrun, gloo)."""
    folder = tmp_path_factory.mktemp("distributed")
    one, two = folder / "one.safetensors", folder / "two.safetensors"
    run(
        [sys.executable, "-m", "brandpulse.training.train", *train_arguments(reviews_csv, one)],
        folder / "one.log",
    )
    torchrun = [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
        "--master_addr", "127.0.0.1", "--master_port", str(free_port()),
        "-m", "brandpulse.training.train", *train_arguments(reviews_csv, two),
    ]  # fmt: skip
    env = {key: value for key, value in os.environ.items() if key not in distributed.TORCHRUN_VARIABLES}
    run(torchrun, folder / "two.log", env)
    return {"one": one, "two": two, "log": folder / "two.log"}


def report_of(checkpoint: Path) -> dict:
    return json.loads(checkpoint.with_suffix(".report.json").read_text())


def test_two_processes_reach_the_held_out_figures_of_one(runs):
    one, two = (report_of(runs[name])["metrics"]["test"]["overall"] for name in ("one", "two"))
    assert one["n"] == two["n"] == TEST_ROWS  # the same held-out rows
    assert one["accuracy"] > 0.7 and two["accuracy"] > 0.7  # both learned (majority class: 0.7)
    assert abs(one["accuracy"] - two["accuracy"]) <= ACCURACY_TOLERANCE, (one, two)
    assert abs(one["macro_f1"] - two["macro_f1"]) <= MACRO_F1_TOLERANCE, (one, two)


def test_the_two_processes_take_the_steps_of_one_and_the_record_names_them(runs):
    one, two = (report_of(runs[name])["info"]["train"] for name in ("one", "two"))
    assert (one["world_size"], one["backend"]) == (1, None)
    assert (two["world_size"], two["backend"]) == (2, "gloo")
    assert [epoch["step"] for epoch in one["history"]] == [epoch["step"] for epoch in two["history"]]
    assert two["rows"] == one["rows"]
    assert report_of(runs["two"])["info"]["hardware"]["threads"] >= 1


def test_only_rank_0_logs_and_writes(runs):
    log = runs["log"].read_text()
    assert log.count("saved ") == 1, log[-3000:]  # one checkpoint written, by rank 0
    assert log.count("epoch 1: train loss") == 1  # one validation report an epoch
    assert "Traceback" not in log


def test_the_checkpoint_of_two_processes_has_the_usual_format_and_the_api_serves_it(runs, tmp_path):
    one, two = load_checkpoint(runs["one"]), load_checkpoint(runs["two"])
    assert set(one.model.state_dict()) == set(two.model.state_dict())  # no DDP "module." prefix
    assert all(
        one.model.state_dict()[name].shape == tensor.shape for name, tensor in two.model.state_dict().items()
    )
    assert one.classes == two.classes
    url = f"sqlite:///{(tmp_path / 'api.sqlite3').as_posix()}"
    prepare_database(url, runs["two"], tmp_path)
    settings = api_settings(url, runs["two"], tmp_path, WEB_CONCURRENCY="1", TORCH_THREADS="1")
    with ApiServer(settings, tmp_path, name="ddp-api") as api:
        bad = requests.post(
            f"{api.url}/api/predict", json={"text": "Awful service, rude staff, never again."}, timeout=10
        )
        good = requests.post(
            f"{api.url}/api/predict",
            json={"text": "Wonderful shop, quick delivery, lovely people!"},
            timeout=10,
        )
    assert bad.status_code == good.status_code == 200, (bad.text, good.text)
    assert bad.json()["score"] < good.json()["score"], (bad.json(), good.json())


def test_a_plain_run_is_one_process_and_shards_nothing(monkeypatch):
    for name in distributed.TORCHRUN_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    order = torch.arange(10)
    assert distributed.join("cpu") == distributed.SINGLE_PROCESS
    assert torch.equal(distributed.shard(order, distributed.SINGLE_PROCESS), order)
    assert distributed.per_process_batch(64, distributed.SINGLE_PROCESS) == 64
    assert distributed.agree(True, distributed.SINGLE_PROCESS) is True


def test_shards_of_an_epoch_cover_it_evenly_and_their_slices_make_the_global_batch():
    order = torch.randperm(103, generator=torch.Generator().manual_seed(1))
    groups = [
        distributed.ProcessGroup(rank=r, world_size=4, local_world_size=4, backend="gloo") for r in range(4)
    ]
    shards = [distributed.shard(order, group) for group in groups]
    assert len({len(piece) for piece in shards}) == 1  # padded: every rank takes as many steps
    assert set(torch.cat(shards).tolist()) == set(order.tolist())  # every row, none lost
    per_rank = distributed.per_process_batch(32, groups[0])
    step_0 = torch.cat([piece[:per_rank] for piece in shards])
    assert set(step_0.tolist()) == set(order[:32].tolist())  # the batch one process would take


def test_torchrun_variables_half_set_are_refused(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    for name in ("RANK", "LOCAL_RANK", "LOCAL_WORLD_SIZE"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(RuntimeError, match="torchrun"):
        distributed.join("cpu")
