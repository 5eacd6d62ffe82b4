"""The training loop of a network (the character-level CNN or any `network.TextNetwork`).

`train_model` runs epochs of `train_epoch`, measures each on the validation rows with
`validate`, and keeps the best epoch by validation macro-F1 (`EarlyStopping`). The `train`
command line (`train.py`) and the learning loop's fine-tuning (`learning/finetune.py`) wrap it,
each with a `TrainConfig` made by `build_train_config`. Under torchrun the same loop runs in
every process, data-parallel (`distributed.py`: each rank its shard of every global batch, DDP
averaging the gradients, rank 0 validating and deciding when to stop).
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from brandpulse.model.encoding import CharEncoder
from brandpulse.model.network import TextNetwork
from brandpulse.model.predictor import cnn_probabilities
from brandpulse.model.runtime import bf16_is_fast, set_seed
from brandpulse.training import distributed
from brandpulse.training.augment import change_indices
from brandpulse.training.data import Dataset
from brandpulse.training.metrics import classification_metrics

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
    bf16: bool = False  # bfloat16 autocast (CPU or GPU); `train` turns it on where it is native
    seed: int = 13
    max_steps: int | None = None  # stop early after this many optimiser steps (smoke runs)
    grad_clip: float = 5.0
    device: str = "cpu"  # "cpu" or "cuda"
    # Augmentation: each character of a training text is replaced by a random alphabet symbol
    # (or a space) with this probability, so the model learns to read through typos.
    char_noise: float = 0.0
    # Weight of the squared earth mover's distance between the predicted and the true class
    # distributions (Hou et al. 2016), added to the cross-entropy: it makes a 2-star answer to a
    # 1-star review cost less than a 5-star one, for ordered classes such as star ratings.
    ordinal_weight: float = 0.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.char_noise < 1.0:
            raise ValueError(f"char_noise must be in [0, 1), got {self.char_noise}")
        if self.ordinal_weight < 0.0:
            raise ValueError(f"ordinal_weight must not be negative, got {self.ordinal_weight}")


@dataclass
class TrainResult:
    """What a training run produced: the best model and how it got there."""

    model: TextNetwork
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


def batches_of(encoded: torch.Tensor, batch_size: int = 256):
    """Consecutive slices of pre-encoded rows."""
    return (encoded[start : start + batch_size] for start in range(0, len(encoded), batch_size))


def predict_encoded(model: TextNetwork, encoded: torch.Tensor, bf16: bool) -> np.ndarray:
    """Class probabilities for pre-encoded rows (the shared forward loop of `predictor.py`)."""
    return cnn_probabilities(model, batches_of(encoded), bf16)


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


def build_train_config(*, device: str = "auto", bf16: bool | None = None, **settings: Any) -> TrainConfig:
    """The one way a TrainConfig is made: `settings` are its other fields (defaults otherwise).

    The device is resolved ("auto": a GPU when there is one), and bfloat16 autocast is on where
    that device computes it natively unless `bf16` says (emulated bf16 is many times slower).
    """
    device = resolve_device(device)
    return TrainConfig(**settings, device=device, bf16=bf16_is_fast(device) if bf16 is None else bf16)


def batch_norms(model: torch.nn.Module) -> list[torch.nn.modules.batchnorm._BatchNorm]:
    """The network's batch-normalisation layers."""
    return [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]


def training_loss(logits: torch.Tensor, targets: torch.Tensor, ordinal_weight: float) -> torch.Tensor:
    """Cross-entropy, plus `ordinal_weight` times the squared earth mover's distance of ordered classes."""
    logits = logits.float()
    loss = F.cross_entropy(logits, targets)
    if ordinal_weight:
        predicted = torch.softmax(logits, dim=1).cumsum(dim=1)
        true = F.one_hot(targets, logits.shape[1]).float().cumsum(dim=1)
        loss = loss + ordinal_weight * (predicted - true).square().sum(dim=1).mean()
    return loss


def recalibrate_batch_norm(
    model: TextNetwork, encoded: torch.Tensor, config: TrainConfig, batches: int = 40
) -> None:
    """Re-estimate batch-norm statistics for the current weights ("precise BN").

    During training the running statistics are a moving average over batches seen with older
    weights; at a high learning rate they lag behind, and the eval-mode network then scores
    far worse than the one being trained. Averaging fresh statistics over a few batches,
    without gradients, makes evaluation (and the saved model) match the trained weights.
    """
    norms = batch_norms(model)
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


class EarlyStopping:
    """Keeps the best model state by a validation figure and says when to stop."""

    def __init__(self, patience: int) -> None:
        self.patience = patience
        self.best_value = -float("inf")
        self.best_epoch = 0
        self.best_state: dict[str, torch.Tensor] | None = None
        self.stale = 0

    def update(self, epoch: int, value: float, model: torch.nn.Module) -> bool:
        """Record an epoch's figure; True when it is the best so far (its weights are kept)."""
        if value > self.best_value:
            self.best_value, self.best_epoch, self.stale = value, epoch, 0
            self.best_state = copy.deepcopy(model.state_dict())
            return True
        self.stale += 1
        return False

    @property
    def should_stop(self) -> bool:
        """True after `patience` epochs without a better figure."""
        return self.stale >= self.patience


@dataclass
class _Run:
    """The state of a training run shared by its epochs."""

    model: TextNetwork
    config: TrainConfig
    device: torch.device
    optimizer: torch.optim.Optimizer
    schedule: Any
    total_steps: int
    group: distributed.ProcessGroup = distributed.SINGLE_PROCESS
    step_module: torch.nn.Module | None = None  # what a step calls: DDP around `model`, or `model`
    batch_size: int = 64  # rows this process takes a step (the global batch split among processes)
    writer: Any = None
    generator: torch.Generator | None = None  # the epoch order: the same on every rank
    noise_generator: torch.Generator | None = None  # character noise: each rank its own
    sample_weights: torch.Tensor | None = None  # None: every row once per epoch
    batch_norm: bool = False  # the network normalises batches: a batch of one row cannot train
    losses: list[float] = field(default_factory=list)
    step: int = 0
    seen: int = 0

    @property
    def done(self) -> bool:
        return self.step >= self.total_steps


def epoch_order(run: _Run, rows: int) -> torch.Tensor:
    """This process's rows of an epoch, in order: the whole shuffle, or its rank's shard of it."""
    if run.sample_weights is None:
        order = torch.randperm(rows, generator=run.generator)
    else:  # rows drawn in proportion to their weights: as many draws as there are rows
        order = torch.multinomial(run.sample_weights, rows, replacement=True, generator=run.generator)
    return distributed.shard(order, run.group)


def train_epoch(run: _Run, x_train: torch.Tensor, y_train: torch.Tensor, epoch: int) -> None:
    """One pass over the shuffled training rows (or until the run's step budget is spent)."""
    config, model = run.config, run.model
    step_module = run.step_module or model
    model.train()
    order = epoch_order(run, len(x_train))
    bar = tqdm(
        range(0, len(order), run.batch_size),
        desc=f"epoch {epoch}/{config.epochs}",
        unit="batch",
        mininterval=10,
        disable=None if run.group.is_main else True,  # no bar off a terminal, nor off rank 0
    )
    for start in bar:
        batch = order[start : start + run.batch_size]
        if len(batch) < 2 and run.batch_norm:
            continue  # batch norm cannot train on a single row (every rank has as many rows)
        indices = x_train[batch].to(run.device).long()
        if config.char_noise:
            indices = change_indices(
                indices, config.char_noise, model.encoder_config.vocab_size, run.noise_generator
            )
        with torch.autocast(run.device.type, dtype=torch.bfloat16, enabled=config.bf16):
            logits = step_module(indices)
        loss = training_loss(logits, y_train[batch].to(run.device), config.ordinal_weight)
        run.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        run.optimizer.step()
        run.schedule.step()
        run.step += 1
        run.seen += len(batch)
        run.losses.append(float(loss.detach()))
        if run.writer:
            run.writer.add_scalar("train/loss", run.losses[-1], run.step)
            run.writer.add_scalar("train/lr", run.schedule.get_last_lr()[0], run.step)
        bar.set_postfix(loss=f"{np.mean(run.losses[-50:]):.3f}")
        if run.done:
            break
    bar.close()


def validate(model: TextNetwork, x_val: torch.Tensor, val_set: Dataset, bf16: bool) -> dict[str, Any]:
    """Validation metrics of the model as it is now (eval mode)."""
    probabilities = predict_encoded(model, x_val, bf16)
    return classification_metrics(val_set.labels, probabilities, val_set.classes)


def train_model(
    model: TextNetwork,
    encoder: CharEncoder,
    train_set: Dataset,
    val_set: Dataset,
    config: TrainConfig,
    log_dir: str | Path | None = None,
    on_improvement: Callable[[TextNetwork, dict[str, Any]], None] | None = None,
    sample_weights: np.ndarray | None = None,
    group: distributed.ProcessGroup | None = None,
) -> TrainResult:
    """Train with early stopping on validation macro-F1; return the best model seen.

    `on_improvement(model, validation_metrics)` runs whenever validation macro-F1 improves,
    so the best checkpoint so far can be written while training goes on. With `sample_weights`
    (one per training row, not all zero), each epoch draws as many rows as there are, with
    replacement, in proportion to their weights.

    `group` (default: the one this process joined, `distributed.join`) makes the run one of
    several data-parallel processes: `config.batch_size` is then the global batch, and only rank 0
    validates, calls `on_improvement` and returns the best model (the others return theirs as
    trained, with no history).
    """
    group = group or distributed.current()
    set_seed(config.seed)
    device = torch.device(config.device)
    model.to(device)
    x_train, x_val = encode_dataset(encoder, train_set.texts), encode_dataset(encoder, val_set.texts)
    y_train = torch.from_numpy(train_set.labels)
    batch_size = distributed.per_process_batch(config.batch_size, group)
    steps_per_epoch = max(1, -(-len(train_set) // (batch_size * group.world_size)))
    total_steps = min(steps_per_epoch * config.epochs, config.max_steps or steps_per_epoch * config.epochs)
    optimizer = make_optimizer(model, config)
    run = _Run(
        model=model,
        config=config,
        device=device,
        optimizer=optimizer,
        schedule=make_schedule(optimizer, config, total_steps),
        total_steps=total_steps,
        group=group,
        step_module=distributed.wrap(model, group),
        batch_size=batch_size,
        generator=torch.Generator().manual_seed(config.seed),
        noise_generator=torch.Generator().manual_seed(config.seed + 1000 * group.rank),
        sample_weights=_checked_weights(sample_weights, len(train_set)),
        batch_norm=bool(batch_norms(model)),
    )
    if log_dir and group.is_main:
        from torch.utils.tensorboard import SummaryWriter

        run.writer = SummaryWriter(str(log_dir))
    stopping = EarlyStopping(config.patience)
    history: list[dict[str, Any]] = []
    best_val: dict[str, Any] = {}
    started = time.perf_counter()
    for epoch in range(1, config.epochs + 1):
        train_epoch(run, x_train, y_train, epoch)
        if not group.is_main:  # rank 0 validates and says whether to go on
            if distributed.agree(False, group) or run.done:
                break
            continue
        recalibrate_batch_norm(model, x_train, config)
        val = validate(model, x_val, val_set, config.bf16)
        record = {
            "epoch": epoch,
            "step": run.step,
            "train_loss": float(np.mean(run.losses[-steps_per_epoch:])) if run.losses else float("nan"),
            "val_loss": val["log_loss"] if len(val_set) else float("nan"),
            "val_accuracy": val["accuracy"],
            "val_macro_f1": val["macro_f1"],
            "elapsed_s": time.perf_counter() - started,
        }
        history.append(record)
        logger.info(
            "epoch %d: train loss %.4f, val loss %.4f, val accuracy %.4f, val macro-F1 %.4f (%.0f s)",
            *(record[key] for key in ("epoch", "train_loss", "val_loss", "val_accuracy", "val_macro_f1")),
            record["elapsed_s"],
        )
        if run.writer:
            for key in ("val_loss", "val_accuracy", "val_macro_f1"):
                run.writer.add_scalar(f"val/{key[4:]}", record[key], run.step)
        if stopping.update(epoch, val["macro_f1"], model):
            best_val = val
            if on_improvement is not None:
                on_improvement(model, val)
        elif stopping.should_stop:
            logger.info("no better validation macro-F1 for %d epochs: stopping", stopping.stale)
        if distributed.agree(stopping.should_stop, group) or run.done:
            break

    seconds = time.perf_counter() - started
    if run.writer:
        run.writer.close()
    if stopping.best_state is not None:
        model.load_state_dict(stopping.best_state)
    model.to("cpu").eval()
    return TrainResult(
        model=model,
        best_epoch=stopping.best_epoch,
        best_val=best_val,
        history=history,
        losses=run.losses,
        seconds=seconds,
        samples_per_second=run.seen * group.world_size / seconds if seconds else 0.0,
    )


def _checked_weights(weights: np.ndarray | None, rows: int) -> torch.Tensor | None:
    """Per-row sampling weights as a float64 tensor; ValueError unless one non-negative finite value a row."""
    if weights is None:
        return None
    tensor = torch.as_tensor(np.asarray(weights, dtype=np.float64))
    if tensor.shape != (rows,) or not torch.isfinite(tensor).all() or (tensor < 0).any() or tensor.sum() <= 0:
        raise ValueError(f"sample weights must be {rows} finite non-negative values, not all zero")
    return tensor


def initialise_from(model: TextNetwork, source: TextNetwork) -> list[str]:
    """Copy `source`'s weights into `model` where names and shapes agree; return the names left as they were.

    Pretraining: a model trained on other data (e.g. the movie reviews, two classes) starts a
    new one (five star classes); the output layer, whose shape differs, starts fresh.
    """
    if source.encoder_config != model.encoder_config:
        raise ValueError("the pretrained model reads texts differently (encoder settings differ)")
    target = model.state_dict()
    loaded = {
        name: tensor.to(target[name].dtype)
        for name, tensor in source.state_dict().items()
        if name in target and target[name].shape == tensor.shape
    }
    if not loaded:
        raise ValueError("the pretrained model shares no weights with this architecture")
    model.load_state_dict(loaded, strict=False)
    return sorted(set(target) - set(loaded))
