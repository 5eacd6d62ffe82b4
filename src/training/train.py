"""`train`: fit the character-level CNN (or a registered architecture) on a labelled file, save a checkpoint.

Example (one step of the bundled model's recipe, `src/model/bundled/recipe.toml`)::

    train --data data/reviews.csv --label-column stars --labels stars5 \
          --group-column source --company-column company --holdout-group <source> \
          --arch small-bn --epochs 8 --out models/charcnn.safetensors

The loop itself is `trainer.train_model`; this module reads the options, the data and an
optional pretrained model, and writes the checkpoint, a JSON report and the held-out split.

The same command runs data-parallel under torchrun (`distributed.py`), e.g. on 2 CPU processes::

    torchrun --nproc_per_node 2 -m brandpulse.training.train --data ... --out ...

`--batch-size` is then the global batch (each process takes its share), only rank 0 logs and
writes, and the checkpoint's training record names `world_size` and `backend`.
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import sys
from collections.abc import Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import torch

from brandpulse.model.architectures import build_network, network_config, rebuild, registered
from brandpulse.model.charcnn import CharCNN
from brandpulse.model.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from brandpulse.model.checkpoint_info import CheckpointInfo
from brandpulse.model.config import PRESETS, EncoderConfig, model_config_from_preset, to_dict
from brandpulse.model.encoding import CharEncoder
from brandpulse.model.hardware import available_cpus
from brandpulse.model.network import TextNetwork
from brandpulse.model.runtime import configure_logging, set_seed, use_threads
from brandpulse.model.scoring import DEFAULT_CUTS, fit_rating_cuts, sentiment_scores
from brandpulse.training import distributed
from brandpulse.training.cli import add_data_arguments, add_runtime_arguments, selection_from_args
from brandpulse.training.data import DataError, data_record, split_record, training_data
from brandpulse.training.metrics import log_report, metrics_by_group
from brandpulse.training.trainer import (
    TrainConfig,
    build_train_config,
    encode_dataset,
    initialise_from,
    predict_encoded,
    resolve_device,
    train_model,
)

logger = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    """The `train` command line."""
    p = argparse.ArgumentParser(prog="train", description=__doc__.splitlines()[0])
    add_data_arguments(p)
    p.add_argument("--split-out", type=Path, help="write the held-out row ids and split method here")

    arch = p.add_argument_group("architecture")
    arch.add_argument(
        "--arch",
        default="small-bn",
        help="a CharCNN preset: small, large (the paper's) or small-bn; or a registered architecture's "
        f"name ({', '.join(registered())})",
    )
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
    arch.add_argument(
        "--init-from",
        type=Path,
        help="start from this checkpoint's CNN weights (pretraining); an output layer of another "
        "shape starts fresh. Its architecture and encoding are used, not the options above",
    )

    opt = p.add_argument_group("optimisation")
    defaults = TrainConfig()
    opt.add_argument("--epochs", type=int, default=defaults.epochs, help="maximum epochs")
    opt.add_argument(
        "--batch-size",
        type=int,
        default=defaults.batch_size,
        help="rows per step (of all processes, under torchrun)",
    )
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
    opt.add_argument(
        "--char-noise",
        type=float,
        default=defaults.char_noise,
        help="augmentation: probability of changing each character of a training text",
    )
    opt.add_argument(
        "--ordinal-weight",
        type=float,
        default=defaults.ordinal_weight,
        help="weight of the ordered-classes (earth mover's) loss added to the cross-entropy",
    )
    opt.add_argument(
        "--bf16",
        default="auto",
        choices=["auto", "on", "off"],
        help="bfloat16 autocast: auto uses it where the device computes it natively (emulated bf16 "
        "on a CPU without it is many times slower than float32)",
    )
    opt.add_argument("--no-bf16", dest="bf16", action="store_const", const="off", help="same as --bf16 off")
    opt.add_argument("--max-steps", type=int, help="stop after this many steps (smoke runs)")
    opt.add_argument("--device", default="auto", help="cpu, cuda or auto (a GPU when there is one)")

    out = p.add_argument_group("output")
    out.add_argument("--out", type=Path, required=True, help="checkpoint file to write (.safetensors)")
    out.add_argument("--report", type=Path, help="JSON report (default: beside the checkpoint)")
    out.add_argument("--log-dir", help="TensorBoard log directory (default: none)")
    out.add_argument("--fp16", action="store_true", help="store weights as float16 (half the size)")
    add_runtime_arguments(p)
    return p


# The `train` options that are TrainConfig fields (bf16 and device are resolved by the builder).
TRAIN_OPTIONS = (
    "epochs",
    "batch_size",
    "lr",
    "optimizer",
    "schedule",
    "warmup_fraction",
    "weight_decay",
    "patience",
    "seed",
    "max_steps",
    "char_noise",
    "ordinal_weight",
)


def train_config_of(args: argparse.Namespace) -> TrainConfig:
    """The TrainConfig the options ask for."""
    return build_train_config(
        device=args.device,
        bf16={"on": True, "off": False}.get(args.bf16),  # auto: where the device has it natively
        **{name: getattr(args, name) for name in TRAIN_OPTIONS},
    )


def build_model(args: argparse.Namespace, n_classes: int) -> TextNetwork:
    """The network to train: from the preset (or architecture) and options, or from
    `--init-from`'s weights."""
    set_seed(args.seed)
    if args.init_from:
        source = load_checkpoint(args.init_from).model
        changes: dict[str, Any] = {"n_classes": n_classes}
        if args.dropout is not None:
            changes["dropout"] = args.dropout
        model = rebuild(source, **changes)
        fresh = initialise_from(model, source)
        logger.info("initialised from %s; fresh: %s", args.init_from, ", ".join(fresh) or "nothing")
        return model
    overrides: dict[str, Any] = {"n_classes": n_classes}
    if args.embedding_dim is not None:
        overrides["embedding_dim"] = args.embedding_dim
    if args.dropout is not None:
        overrides["dropout"] = args.dropout
    encoder_config = EncoderConfig(
        max_length=args.max_length, reverse=args.reverse, truncation=args.truncation
    )
    if args.arch in PRESETS:
        return CharCNN(model_config_from_preset(args.arch, **overrides), encoder_config)
    return build_network({"architecture": args.arch, **overrides}, encoder_config)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the `train` command line; returns the process exit code."""
    args = build_parser().parse_args(argv)
    try:
        group = distributed.join(resolve_device(args.device))
    except (RuntimeError, ValueError) as error:
        configure_logging(args.log_level)
        logger.error("%s", error)
        return 2
    try:
        return _train(args, group)
    finally:
        distributed.leave(group)


def _train(args: argparse.Namespace, group: distributed.ProcessGroup) -> int:
    """`main` once this process has its place among the training processes."""
    # Rank 0 speaks for the run; the other ranks say only what goes wrong.
    configure_logging(args.log_level if group.is_main else "WARNING")
    # The processes on one host share its CPUs: by default each takes its share of them.
    threads = use_threads(args.threads or max(1, available_cpus() // group.local_world_size))
    selection = selection_from_args(args)
    try:
        dataset, train_set, val_set, test_set = training_data(args.data, selection)
        model = build_model(args, len(dataset.classes))
        config = train_config_of(args)
    except (DataError, CheckpointError, ValueError) as error:
        logger.error("%s", error)
        return 2
    logger.info("%d rows, classes %s", len(dataset), dataset.class_counts())
    logger.info("split: %d train, %d validation, %d test", len(train_set), len(val_set), len(test_set))
    encoder = CharEncoder(model.encoder_config)
    info = CheckpointInfo(
        architecture=args.arch,
        data=data_record(args.data, selection),
        train={**asdict(config), **group.record()},
        init_from=str(args.init_from) if args.init_from else None,
        hardware={
            "machine": platform.machine(),
            "processor": platform.processor() or platform.machine(),
            "device": config.device,
            "threads": threads,  # of each process
            "torch": torch.__version__,
            "python": platform.python_version(),
        },
    )
    dtype = torch.float16 if args.fp16 else torch.float32

    def save_best(model: TextNetwork, validation: dict[str, Any]) -> None:
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
        model,
        encoder,
        train_set,
        val_set,
        config,
        log_dir=args.log_dir,
        on_improvement=save_best,
        group=group,
    )
    if not group.is_main:
        return 0  # rank 0 measures and writes
    metrics: dict[str, Any] = {"validation": result.best_val}
    rating_cuts = None
    if val_set.stars is not None and len(val_set):
        validation_scores = sentiment_scores(
            predict_encoded(result.model, encode_dataset(encoder, val_set.texts), config.bf16)
        )
        rating_cuts = fit_rating_cuts(validation_scores, val_set.stars)
        metrics["rating_cuts"] = list(rating_cuts)
        logger.info("rating cut points fitted on the validation rows: %s", rating_cuts)
    if len(test_set):
        probabilities = predict_encoded(result.model, encode_dataset(encoder, test_set.texts), config.bf16)
        metrics["test"] = metrics_by_group(
            test_set.labels,
            probabilities,
            test_set.classes,
            test_set.groups,
            test_set.stars,
            args.holdout_groups,
            rating_cuts or DEFAULT_CUTS,
        )
        log_report(logger, "test", metrics["test"])
    info = replace(
        info,
        train={
            **asdict(config),
            **group.record(),
            "best_epoch": result.best_epoch,
            "epochs_run": len(result.history),
            "seconds": round(result.seconds, 1),
            "samples_per_second": round(result.samples_per_second, 1),
            "rows": {"train": len(train_set), "validation": len(val_set), "test": len(test_set)},
            "history": result.history,
        },
    )
    save_checkpoint(
        args.out,
        result.model,
        classes=dataset.classes,
        metrics=metrics,
        info=info,
        dtype=dtype,
        rating_cuts=rating_cuts,
    )
    report_path = args.report or args.out.with_suffix(".report.json")
    report = {
        "checkpoint": str(args.out),
        "model_config": network_config(result.model),
        "encoder": to_dict(result.model.encoder_config),
        "classes": list(dataset.classes),
        "metrics": metrics,
        "info": info.to_dict(),
    }
    report_path.write_text(json.dumps(report, indent=2) + "\n")
    if args.split_out and len(test_set):
        args.split_out.parent.mkdir(parents=True, exist_ok=True)
        args.split_out.write_text(json.dumps(split_record(args.data, selection, test_set)) + "\n")
    logger.info("saved %s (best epoch %d) and %s", args.out, result.best_epoch, report_path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
