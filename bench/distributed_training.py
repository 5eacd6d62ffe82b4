"""Training speed of one process against N under torchrun (DDP), on a sample of the corpus.

    .venv/bin/python bench/distributed_training.py [--processes 2] [--rows 6000] [--device cpu]

Runs the same short `train` (small CNN, 256 characters, global batch 64) once in one process
(every core its threads) and once as N processes (`torch.distributed.run`, each its share of the
cores, or its GPU), then prints samples/s, the speed-up and the held-out accuracy of each, with
the CPU it ran on. On a GPU host, `--device cuda --processes <GPUs>`.
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
import tempfile
from pathlib import Path

if __package__ in (None, ""):  # run as `python bench/NAME.py`: import from the repository root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import cpu, setup_logging  # noqa: E402

logger = logging.getLogger("bench.distributed_training")

ROOT = Path(__file__).resolve().parents[1]


def train_command(data: Path, out: Path, rows: int, device: str, epochs: int) -> list[str]:
    return [
        "-m", "brandpulse.training.train", "--data", str(data), "--label-column", "stars",
        "--labels", "stars2", "--group-column", "source", "--max-rows", str(rows), "--arch", "small-bn",
        "--max-length", "256", "--epochs", str(epochs), "--patience", str(epochs), "--batch-size", "64",
        "--device", device, "--out", str(out), "--log-level", "WARNING",
    ]  # fmt: skip


def figures(out: Path) -> dict[str, float]:
    report = json.loads(out.with_suffix(".report.json").read_text())
    train = report["info"]["train"]
    return {
        "processes": train["world_size"],
        "seconds": train["seconds"],
        "samples/s": train["samples_per_second"],
        "test accuracy": round(report["metrics"]["test"]["overall"]["accuracy"], 4),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--rows", type=int, default=6000)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--data", type=Path, default=ROOT / "data" / "reviews.csv")
    args = parser.parse_args()
    setup_logging()
    with tempfile.TemporaryDirectory() as folder:
        one, many = Path(folder) / "one.safetensors", Path(folder) / "many.safetensors"
        common = dict(data=args.data, rows=args.rows, device=args.device, epochs=args.epochs)
        subprocess.run([sys.executable, *train_command(out=one, **common)], check=True)
        torchrun = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(args.processes)]
        subprocess.run([*torchrun, *train_command(out=many, **common)], check=True)
        results = [figures(one), figures(many)]
    facts = cpu()
    logger.info(
        "CPU: %s (%s cores, avx512_bf16: %s); device %s; %d rows, %d epochs",
        facts["model"], facts["cpus"], facts["avx512_bf16"], args.device, args.rows, args.epochs,
    )  # fmt: skip
    for result in results:
        logger.info("  %s", ", ".join(f"{key} {value}" for key, value in result.items()))
    speedup = results[1]["samples/s"] / results[0]["samples/s"]
    logger.info("  speed-up of %d processes: %.2fx", args.processes, speedup)
    return 0


if __name__ == "__main__":
    sys.exit(main())
