"""`train`: fit the character-level CNN on a labelled CSV/JSONL file and save a checkpoint.

Example (the bundled model, see docs/model_card.md)::

    train --data data/movie_reviews.csv --labels binary --group-column source \
          --test-fraction 0.2 --split-out models/movie_reviews_split.json \
          --arch small-bn --epochs 12 --out models/charcnn.safetensors
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import platform
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from brandpulse.training.checkpoint import save_checkpoint
from brandpulse.training.config import EncoderConfig, model_config_from_preset, to_dict
from brandpulse.training.data import (
    SELECTION_KEYS,
    DataError,
    Dataset,
    data_record,
    fingerprint,
    training_data,
)
from brandpulse.training.encoding import CharEncoder
from brandpulse.training.metrics import classification_metrics, metrics_by_group
from brandpulse.training.model import CharCNN
from brandpulse.training.runtime import configure_logging, set_seed, use_threads

logger = logging.getLogger(__name__)


@dataclass
class TrainConfig:
    """Optimisation settings of one training run."""

    epochs: int = 10
    batch_size: int = 64
    lr: float = 3e-3
    optimizer: str = "adamw"  # "adamw" or "sgd" (momentum 0.9, the paper's choice)
    schedule: str = "onecycle"  # "onecycle", "cosine" or "constant"
    warmup_fraction: float = 0.1  # share of the steps spent warming up (onecycle)
    weight_decay: float = 1e-4
    patience: int = 3  # epochs without a better validation macro-F1 before stopping
    bf16: bool = True  # bfloat16 autocast on the CPU
    seed: int = 13
    max_steps: int | None = None  # stop early after this many optimiser steps (smoke runs)
    grad_clip: float = 5.0
    device: str = "cpu"  # "cpu" or "cuda"; bf16 autocast works on both


@dataclass
class TrainResult:
    """What a training run produced: the best model and how it got there."""

    model: CharCNN
    best_epoch: int
    best_val: dict[str, Any]
    history: list[dict[str, Any]] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)  # every step's training loss
    seconds: float = 0.0
    samples_per_second: float = 0.0


def encode_dataset(encoder: CharEncoder, texts: Sequence[str]) -> torch.Tensor:
    """Encode texts once into a compact `(n, max_length)` uint8 tensor (indices fit a byte)."""
    dtype = torch.uint8 if encoder.vocab_size <= 256 else torch.int32
    return encoder.encode_batch(texts).to(dtype)


def make_optimizer(model: torch.nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """AdamW or SGD with momentum, as the config says."""
    if config.optimizer == "adamw":
        return torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    if config.optimizer == "sgd":
        return torch.optim.SGD(
            model.parameters(), lr=config.lr, momentum=0.9, weight_decay=config.weight_decay
        )
    raise ValueError(f"unknown optimizer {config.optimizer!r}")


def make_schedule(optimizer: torch.optim.Optimizer, config: TrainConfig, total_steps: int):
    """A per-step learning-rate schedule."""
    if config.schedule == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=config.lr, total_steps=max(total_steps, 1), pct_start=config.warmup_fraction
        )
    if config.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(total_steps, 1))
    if config.schedule == "constant":
        return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda _: 1.0)
    raise ValueError(f"unknown schedule {config.schedule!r}")


def resolve_device(name: str) -> str:
    """ "auto" becomes "cuda" when a GPU is available, else "cpu"."""
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return name


def predict_indices(model: CharCNN, encoded: torch.Tensor, bf16: bool, batch_size: int = 256) -> np.ndarray:
    """Class probabilities for pre-encoded rows, in eval mode, on the model's device."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    chunks = []
    with torch.inference_mode(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
        for start in range(0, len(encoded), batch_size):
            logits = model(encoded[start : start + batch_size].to(device).long())
            chunks.append(torch.softmax(logits.float(), dim=1).cpu().numpy())
    model.train(was_training)
    if not chunks:
        return np.zeros((0, model.config.n_classes))
    return np.concatenate(chunks)


def recalibrate_batch_norm(
    model: CharCNN, encoded: torch.Tensor, config: TrainConfig, batches: int = 40
) -> None:
    """Re-estimate batch-norm statistics for the current weights ("precise BN").

    During training the running statistics are a moving average over batches seen with older
    weights; at a high learning rate they lag behind, and the eval-mode network then scores
    far worse than the one being trained. Averaging fresh statistics over a few batches,
    without gradients, makes evaluation (and the saved model) match the trained weights.
    """
    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    if not norms or not len(encoded):
        return
    device = next(model.parameters()).device
    was_training = model.training
    saved_momentum = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average over the batches below
    model.train()
    generator = torch.Generator().manual_seed(config.seed)
    order = torch.randperm(len(encoded), generator=generator)
    with torch.no_grad(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=config.bf16):
        for i in range(min(batches, max(1, len(encoded) // config.batch_size))):
            batch = order[i * config.batch_size : (i + 1) * config.batch_size]
            if len(batch) > 1:
                model(encoded[batch].to(device).long())
    for m, momentum in zip(norms, saved_momentum, strict=True):
        m.momentum = momentum
    model.train(was_training)


def train_model(
    model: CharCNN,
    encoder: CharEncoder,
    train_set: Dataset,
    val_set: Dataset,
    config: TrainConfig,
    log_dir: str | Path | None = None,
    on_improvement: Callable[[CharCNN, dict[str, Any]], None] | None = None,
) -> TrainResult:
    """Train with early stopping on validation macro-F1; return the best model seen.

    `on_improvement(model, validation_metrics)` runs whenever validation macro-F1 improves,
    so the best checkpoint so far can be written while training goes on.
    """
    set_seed(config.seed)
    device = torch.device(config.device)
    model.to(device)
    x_train = encode_dataset(encoder, train_set.texts)
    y_train = torch.from_numpy(train_set.labels)
    x_val = encode_dataset(encoder, val_set.texts)
    steps_per_epoch = max(1, -(-len(train_set) // config.batch_size))
    total_steps = steps_per_epoch * config.epochs
    if config.max_steps is not None:
        total_steps = min(total_steps, config.max_steps)
    optimizer = make_optimizer(model, config)
    schedule = make_schedule(optimizer, config, total_steps)
    writer = None
    if log_dir:
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(str(log_dir))

    generator = torch.Generator().manual_seed(config.seed)
    best_f1, best_epoch, best_state, best_val = -1.0, 0, None, {}
    history: list[dict[str, Any]] = []
    losses: list[float] = []
    step, seen, stale = 0, 0, 0
    started = time.perf_counter()
    model.train()
    for epoch in range(1, config.epochs + 1):
        order = torch.randperm(len(train_set), generator=generator)
        bar = tqdm(
            range(0, len(order), config.batch_size),
            desc=f"epoch {epoch}/{config.epochs}",
            unit="batch",
            mininterval=10,
            disable=None,  # no bar when stderr is not a terminal
        )
        for start in bar:
            batch = order[start : start + config.batch_size]
            if len(batch) < 2 and model.config.batch_norm:
                continue  # batch norm cannot train on a single row
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=config.bf16):
                logits = model(x_train[batch].to(device).long())
            loss = F.cross_entropy(logits.float(), y_train[batch].to(device))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            optimizer.step()
            schedule.step()
            step += 1
            seen += len(batch)
            losses.append(float(loss.detach()))
            if writer:
                writer.add_scalar("train/loss", losses[-1], step)
                writer.add_scalar("train/lr", schedule.get_last_lr()[0], step)
            bar.set_postfix(loss=f"{np.mean(losses[-50:]):.3f}")
            if step >= total_steps:
                break
        bar.close()

        recalibrate_batch_norm(model, x_train, config)
        probabilities = predict_indices(model, x_val, config.bf16)
        val = classification_metrics(val_set.labels, probabilities.argmax(1), val_set.classes)
        val_loss = (
            float(
                F.nll_loss(
                    torch.log(torch.from_numpy(probabilities).clamp_min(1e-9)),
                    torch.from_numpy(val_set.labels),
                )
            )
            if len(val_set)
            else float("nan")
        )
        record = {
            "epoch": epoch,
            "step": step,
            "train_loss": float(np.mean(losses[-steps_per_epoch:])) if losses else float("nan"),
            "val_loss": val_loss,
            "val_accuracy": val["accuracy"],
            "val_macro_f1": val["macro_f1"],
            "elapsed_s": time.perf_counter() - started,
        }
        history.append(record)
        logger.info(
            "epoch %d: train loss %.4f, val loss %.4f, val accuracy %.4f, val macro-F1 %.4f (%.0f s)",
            epoch,
            record["train_loss"],
            val_loss,
            val["accuracy"],
            val["macro_f1"],
            record["elapsed_s"],
        )
        if writer:
            for key in ("val_loss", "val_accuracy", "val_macro_f1"):
                writer.add_scalar(f"val/{key[4:]}", record[key], step)
        if val["macro_f1"] > best_f1:
            best_f1, best_epoch, best_val, stale = val["macro_f1"], epoch, val, 0
            best_state = copy.deepcopy(model.state_dict())
            if on_improvement is not None:
                on_improvement(model, val)
        else:
            stale += 1
            if stale >= config.patience:
                logger.info("no better validation macro-F1 for %d epochs: stopping", stale)
                break
        if step >= total_steps:
            break

    seconds = time.perf_counter() - started
    if writer:
        writer.close()
    if best_state is not None:
        model.load_state_dict(best_state)
    model.to("cpu").eval()
    return TrainResult(
        model=model,
        best_epoch=best_epoch,
        best_val=best_val,
        history=history,
        losses=losses,
        seconds=seconds,
        samples_per_second=seen / seconds if seconds else 0.0,
    )


def build_parser() -> argparse.ArgumentParser:
    """The `train` command line."""
    p = argparse.ArgumentParser(prog="train", description=__doc__.splitlines()[0])
    data = p.add_argument_group("data")
    data.add_argument("--data", required=True, type=Path, help="labelled CSV or JSONL file")
    data.add_argument("--text-column", default="text", help="column holding the text")
    data.add_argument("--label-column", default="label", help="column holding the label")
    data.add_argument(
        "--labels",
        default="binary",
        choices=["binary", "stars3", "stars2", "names"],
        help="how labels map to classes: 0/1, stars grouped bad/average/good, stars made "
        "binary (3 stars dropped), or class names given by --classes",
    )
    data.add_argument("--classes", nargs="+", help="class names, most negative first (with --labels names)")
    data.add_argument("--group-column", help="column to report metrics by and stratify on (e.g. source)")
    data.add_argument("--max-rows", type=int, help="read at most this many labelled rows")
    data.add_argument("--balance", action="store_true", help="downsample every class to the smallest")
    data.add_argument(
        "--test-fraction", type=float, default=0.0, help="stratified held-out test share (0: none)"
    )
    data.add_argument("--split-seed", type=int, default=2015, help="seed of the test split")
    data.add_argument("--split-out", type=Path, help="write the held-out row ids and split method here")
    data.add_argument("--val-fraction", type=float, default=0.1, help="validation share of the rest")

    arch = p.add_argument_group("architecture")
    arch.add_argument("--arch", default="small-bn", help="preset: small, large (the paper's) or small-bn")
    arch.add_argument("--max-length", type=int, default=1014, help="characters read per text")
    arch.add_argument(
        "--truncation",
        default="head+tail",
        choices=["head", "tail", "head+tail"],
        help="which part of a longer text is kept",
    )
    arch.add_argument("--reverse", action="store_true", help="read characters backwards, as the paper")
    arch.add_argument("--embedding-dim", type=int, help="learned embedding size (0: one-hot)")
    arch.add_argument("--dropout", type=float, help="dropout of the dense layers")

    opt = p.add_argument_group("optimisation")
    defaults = TrainConfig()
    opt.add_argument("--epochs", type=int, default=defaults.epochs, help="maximum epochs")
    opt.add_argument("--batch-size", type=int, default=defaults.batch_size, help="rows per step")
    opt.add_argument("--lr", type=float, default=defaults.lr, help="(peak) learning rate")
    opt.add_argument("--optimizer", default=defaults.optimizer, choices=["adamw", "sgd"], help="optimiser")
    opt.add_argument(
        "--schedule",
        default=defaults.schedule,
        choices=["onecycle", "cosine", "constant"],
        help="learning-rate schedule",
    )
    opt.add_argument(
        "--warmup-fraction", type=float, default=defaults.warmup_fraction, help="warm-up share (onecycle)"
    )
    opt.add_argument("--weight-decay", type=float, default=defaults.weight_decay, help="weight decay")
    opt.add_argument("--patience", type=int, default=defaults.patience, help="early-stopping patience")
    opt.add_argument("--no-bf16", action="store_true", help="train in float32 instead of bf16 autocast")
    opt.add_argument("--seed", type=int, default=defaults.seed, help="seed of init, shuffling, splits")
    opt.add_argument("--max-steps", type=int, help="stop after this many steps (smoke runs)")
    opt.add_argument("--threads", type=int, help="torch compute threads (default: every core)")
    opt.add_argument("--device", default="auto", help="cpu, cuda or auto (a GPU when there is one)")

    out = p.add_argument_group("output")
    out.add_argument("--out", type=Path, required=True, help="checkpoint file to write (.safetensors)")
    out.add_argument("--report", type=Path, help="JSON report (default: beside the checkpoint)")
    out.add_argument("--log-dir", help="TensorBoard log directory (default: none)")
    out.add_argument("--fp16", action="store_true", help="store weights as float16 (half the size)")
    out.add_argument("--log-level", default="INFO", help="logging level")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the `train` command line; returns the process exit code."""
    args = build_parser().parse_args(argv)
    configure_logging(args.log_level)
    threads = use_threads(args.threads)
    selection = {key: getattr(args, key) for key in SELECTION_KEYS}
    try:
        dataset, train_set, val_set, test_set = training_data(args.data, selection, args.classes)
    except (DataError, ValueError) as error:
        logger.error("%s", error)
        return 2
    logger.info("%d rows, classes %s", len(dataset), dataset.class_counts())
    logger.info("split: %d train, %d validation, %d test", len(train_set), len(val_set), len(test_set))

    overrides = {"n_classes": len(dataset.classes)}
    if args.embedding_dim is not None:
        overrides["embedding_dim"] = args.embedding_dim
    if args.dropout is not None:
        overrides["dropout"] = args.dropout
    try:
        model_config = model_config_from_preset(args.arch, **overrides)
        encoder_config = EncoderConfig(
            max_length=args.max_length, reverse=args.reverse, truncation=args.truncation
        )
        set_seed(args.seed)
        model = CharCNN(model_config, encoder_config)
    except ValueError as error:
        logger.error("%s", error)
        return 2
    encoder = CharEncoder(encoder_config)
    config = TrainConfig(
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        optimizer=args.optimizer,
        schedule=args.schedule,
        warmup_fraction=args.warmup_fraction,
        weight_decay=args.weight_decay,
        patience=args.patience,
        bf16=not args.no_bf16,
        seed=args.seed,
        max_steps=args.max_steps,
        device=resolve_device(args.device),
    )
    info: dict[str, Any] = {
        "architecture": args.arch,
        "data": data_record(args.data, selection),
        "train": asdict(config),
        "hardware": {
            "machine": platform.machine(),
            "processor": platform.processor() or platform.machine(),
            "device": config.device,
            "threads": threads,
            "torch": torch.__version__,
            "python": platform.python_version(),
        },
    }
    dtype = torch.float16 if args.fp16 else torch.float32

    def save_best(model: CharCNN, validation: dict[str, Any]) -> None:
        # The best model so far is on disk while training goes on; the final save below
        # adds the test metrics and the training history.
        save_checkpoint(
            args.out,
            model,
            classes=dataset.classes,
            metrics={"validation": validation},
            info=info,
            dtype=dtype,
        )

    result = train_model(
        model, encoder, train_set, val_set, config, log_dir=args.log_dir, on_improvement=save_best
    )

    metrics: dict[str, Any] = {"validation": result.best_val}
    if len(test_set):
        probabilities = predict_indices(result.model, encode_dataset(encoder, test_set.texts), config.bf16)
        metrics["test"] = metrics_by_group(
            test_set.labels, probabilities.argmax(1), test_set.classes, test_set.groups
        )
        for group, values in metrics["test"].items():
            logger.info(
                "test %s: accuracy %.4f, macro-F1 %.4f (n=%d)",
                group,
                values["accuracy"],
                values["macro_f1"],
                values["n"],
            )
    info["train"] = {
        **asdict(config),
        "best_epoch": result.best_epoch,
        "epochs_run": len(result.history),
        "seconds": round(result.seconds, 1),
        "samples_per_second": round(result.samples_per_second, 1),
        "rows": {"train": len(train_set), "validation": len(val_set), "test": len(test_set)},
        "history": result.history,
    }
    save_checkpoint(args.out, result.model, classes=dataset.classes, metrics=metrics, info=info, dtype=dtype)
    report_path = args.report or args.out.with_suffix(".report.json")
    report = {
        "checkpoint": str(args.out),
        "model_config": to_dict(model_config),
        "encoder": to_dict(encoder_config),
        "classes": list(dataset.classes),
        "metrics": metrics,
        "info": info,
    }
    report_path.write_text(json.dumps(report, indent=2) + "\n")
    if args.split_out and len(test_set):
        split = {
            "data_file": args.data.name,
            "data_sha256": fingerprint(args.data),
            "method": "stratified by label and group: numpy default_rng(seed).permutation of each "
            "stratum's row positions, the first round(fraction * size) held out",
            "fraction": args.test_fraction,
            "seed": args.split_seed,
            "group_column": args.group_column,
            "test_row_ids": test_set.row_ids.tolist(),
        }
        args.split_out.parent.mkdir(parents=True, exist_ok=True)
        args.split_out.write_text(json.dumps(split) + "\n")
    logger.info("saved %s (best epoch %d) and %s", args.out, result.best_epoch, report_path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
