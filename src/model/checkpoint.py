"""Saving and loading the self-describing checkpoint.

One `.safetensors` file: the weights (a format that cannot run code when loaded) and, in its
metadata header, everything needed to rebuild and use the model — the network's config
(`model_config`, which names its architecture unless it is the default CharCNN:
`architectures.py`), the text encoding (`encoder`), the ordered class names, how it was made
(`info`, `checkpoint_info.CheckpointInfo`: the training data's fingerprint, ...), the
evaluation metrics and a format version. Loading needs no other file and no flag that must match
training.

A checkpoint may also carry a hashed word n-gram model (tensors `ngram.coef` and
`ngram.intercept`) and the weights that pool its probabilities with the CNN's (metadata
`combination`, see `pooling.py`); the bundled model is such a pair. Format 3 added the
rating cut points (`rating_cuts`, see `scoring.py`); a file without them uses the default ones.
Format 4 added the rating mix the suggestion assumes (`rating_prior`, `scoring.RatingPrior`); a
file without one suggests for the mix of its own training rows.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from brandpulse.model.architectures import build_network, network_config
from brandpulse.model.checkpoint_info import CheckpointInfo
from brandpulse.model.config import EncoderConfig, from_dict, to_dict
from brandpulse.model.network import TextNetwork
from brandpulse.model.ngram import HashedNgramModel
from brandpulse.model.paths import BUNDLED_CHECKPOINT as BUNDLED_CHECKPOINT  # the default model
from brandpulse.model.paths import file_sha256
from brandpulse.model.pooling import Combination
from brandpulse.model.scoring import DEFAULT_CUTS, RatingPrior, check_cuts

logger = logging.getLogger(__name__)

FORMAT = "brandpulse-charcnn"  # the format's name, whatever the architecture
FORMAT_VERSION = 4  # 2: the n-gram model and combination, 3: the rating cut points, 4: the rating prior
READABLE_VERSIONS = ("1", "2", "3", "4")
NGRAM_PREFIX = "ngram."


class CheckpointError(ValueError):
    """A checkpoint that is missing, corrupt, truncated or of another format or architecture."""


@dataclass
class Checkpoint:
    """A loaded model with everything its checkpoint says about it."""

    model: TextNetwork
    encoder_config: EncoderConfig
    classes: tuple[str, ...]
    metrics: dict[str, Any] = field(default_factory=dict)
    info: CheckpointInfo = field(default_factory=CheckpointInfo)  # data, training settings
    sha256: str = ""
    ngram: HashedNgramModel | None = None  # with `combination`, or neither
    combination: Combination | None = None
    rating_cuts: tuple[float, ...] = DEFAULT_CUTS  # score -> suggested rating (scoring.py)
    rating_prior: RatingPrior | None = None  # the rating mix the suggestion assumes (scoring.py)

    @property
    def version(self) -> str:
        """A short, stable name for these weights: architecture name and file hash prefix."""
        return version_name(self.info, self.sha256)


def version_name(info: CheckpointInfo, sha256: str) -> str:
    """A checkpoint's version from its info and file hash: "small-bn+ngram-f89cf8326913"."""
    return f"{info.architecture}-{sha256[:12]}" if sha256 else info.architecture


def save_checkpoint(
    path: str | Path,
    model: TextNetwork,
    *,
    classes: tuple[str, ...] | list[str],
    metrics: dict[str, Any] | None = None,
    info: CheckpointInfo | Mapping[str, Any] | None = None,
    dtype: torch.dtype = torch.float32,
    ngram: HashedNgramModel | None = None,
    combination: Combination | None = None,
    rating_cuts: tuple[float, ...] | None = None,
    rating_prior: RatingPrior | None = None,
) -> Path:
    """Write `model` and its description to `path` (floating tensors stored as `dtype`).

    With `ngram` and `combination`, the file also holds the n-gram model and the weights that
    pool the two models' probabilities. `info` given as a plain mapping is read as
    `CheckpointInfo.from_dict` reads a file's.
    """
    if len(classes) != model.n_classes:
        raise ValueError(f"{len(classes)} class names for a model with {model.n_classes} outputs")
    if not isinstance(info, CheckpointInfo):
        info = CheckpointInfo.from_dict(info)
    if (ngram is None) != (combination is None):
        raise ValueError("an n-gram model and its combination are saved together or not at all")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {
        name: (tensor.to(dtype) if tensor.is_floating_point() else tensor).detach().cpu().contiguous()
        for name, tensor in model.state_dict().items()
    }
    metadata = {
        "format": FORMAT,
        "format_version": str(FORMAT_VERSION),
        "model_config": json.dumps(network_config(model)),
        "encoder": json.dumps(to_dict(model.encoder_config)),
        "classes": json.dumps(list(classes)),
        "metrics": json.dumps(metrics or {}),
        "info": json.dumps(info.to_dict()),
    }
    if ngram is not None and combination is not None:
        if tuple(ngram.classes) != tuple(classes) or len(combination.bias) != len(classes):
            raise ValueError(f"n-gram model classes {ngram.classes} differ from the CNN's {tuple(classes)}")
        tensors.update(
            {f"{NGRAM_PREFIX}{name}": torch.from_numpy(a).to(dtype) for name, a in ngram.tensors().items()}
        )
        metadata["ngram"] = json.dumps(ngram.settings())
        metadata["combination"] = json.dumps(combination.to_dict())
    if rating_cuts is not None:
        metadata["rating_cuts"] = json.dumps(list(check_cuts(rating_cuts)))
    if rating_prior is not None:
        rating_prior.class_factors(len(classes))  # a five-star model only
        metadata["rating_prior"] = json.dumps(rating_prior.to_dict())
    temporary = path.with_suffix(path.suffix + ".tmp")
    save_file(tensors, str(temporary), metadata=metadata)
    temporary.replace(path)  # atomic: a crash never leaves half a checkpoint behind
    return path


def read_metadata(path: str | Path) -> dict[str, Any]:
    """The decoded metadata of a checkpoint, without loading its weights (`info` as a
    `CheckpointInfo`)."""
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    try:
        with safe_open(str(path), framework="pt") as handle:
            raw = handle.metadata() or {}
    except (SafetensorError, OSError, ValueError) as error:
        raise CheckpointError(f"{path}: not a readable safetensors checkpoint ({error})") from None
    if raw.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a {FORMAT} checkpoint (format {raw.get('format')!r})")
    if raw.get("format_version") not in READABLE_VERSIONS:
        raise CheckpointError(
            f"{path}: checkpoint format version {raw.get('format_version')!r}, "
            f"this code reads versions {', '.join(READABLE_VERSIONS)}"
        )
    try:
        meta = {
            key: json.loads(raw[key]) for key in ("model_config", "encoder", "classes", "metrics", "info")
        }
        meta.update(
            {
                key: json.loads(raw[key]) if key in raw else None
                for key in ("ngram", "combination", "rating_cuts", "rating_prior")
            }
        )
        meta["info"] = CheckpointInfo.from_dict(meta["info"])
        return meta
    except (KeyError, ValueError) as error:  # json.JSONDecodeError is a ValueError
        raise CheckpointError(f"{path}: checkpoint metadata is incomplete or corrupt ({error})") from None


def save_with_rule(
    path: str | Path,
    checkpoint: Checkpoint,
    rating_cuts: tuple[float, ...],
    rating_prior: RatingPrior | None = None,
    dtype: torch.dtype = torch.float16,
) -> Path:
    """Write a loaded checkpoint again, the same model with another rating rule (cut points and
    prior); its description is kept."""
    return save_checkpoint(
        path,
        checkpoint.model,
        classes=checkpoint.classes,
        metrics=checkpoint.metrics,
        info=checkpoint.info,
        dtype=dtype,
        ngram=checkpoint.ngram,
        combination=checkpoint.combination,
        rating_cuts=rating_cuts,
        rating_prior=rating_prior,
    )


def load_checkpoint(path: str | Path, map_location: str = "cpu") -> Checkpoint:
    """Rebuild the model a checkpoint describes and load its weights, in eval mode.

    Raises:
        CheckpointError: the file is missing, not a safetensors file, truncated, of another
            format version, or its weights do not fit the architecture it declares.
    """
    path = Path(path)
    meta = read_metadata(path)
    try:
        encoder_config = from_dict(EncoderConfig, meta["encoder"])
        model = build_network(meta["model_config"], encoder_config)
    except (TypeError, ValueError) as error:
        raise CheckpointError(f"{path}: checkpoint describes an invalid architecture ({error})") from None
    try:
        state = load_file(str(path), device=map_location)
    except (SafetensorError, OSError) as error:
        raise CheckpointError(f"{path}: cannot read the weights ({error})") from None
    ngram_state = {
        name.removeprefix(NGRAM_PREFIX): state.pop(name)
        for name in list(state)
        if name.startswith(NGRAM_PREFIX)
    }
    reference = model.state_dict()
    state = {
        name: tensor.to(reference[name].dtype) if name in reference else tensor
        for name, tensor in state.items()
    }
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as error:
        first_line = str(error).splitlines()[0]
        raise CheckpointError(
            f"{path}: weights do not fit the declared architecture ({first_line})"
        ) from None
    model.eval()
    classes = tuple(meta["classes"])
    if len(classes) != model.n_classes:
        raise CheckpointError(f"{path}: {len(classes)} class names for {model.n_classes} outputs")
    ngram, combination = _load_ngram(path, meta, ngram_state, classes)
    try:
        rating_cuts = check_cuts(meta["rating_cuts"]) if meta["rating_cuts"] is not None else DEFAULT_CUTS
    except (TypeError, ValueError) as error:
        raise CheckpointError(f"{path}: invalid rating cut points ({error})") from None
    try:
        rating_prior = RatingPrior.from_dict(meta["rating_prior"]) if meta["rating_prior"] else None
        if rating_prior is not None:
            rating_prior.class_factors(len(classes))
    except (TypeError, ValueError) as error:
        raise CheckpointError(f"{path}: invalid rating prior ({error})") from None
    return Checkpoint(
        model=model,
        encoder_config=encoder_config,
        classes=classes,
        metrics=meta["metrics"],
        info=meta["info"],
        sha256=file_sha256(path),
        ngram=ngram,
        combination=combination,
        rating_cuts=rating_cuts,
        rating_prior=rating_prior,
    )


def _load_ngram(
    path: Path, meta: dict[str, Any], state: dict[str, torch.Tensor], classes: tuple[str, ...]
) -> tuple[HashedNgramModel | None, Combination | None]:
    """The n-gram model and combination a checkpoint holds, or (None, None) when it has none."""
    declared = meta["ngram"] is not None, meta["combination"] is not None, bool(state)
    if not any(declared):
        return None, None
    if not all(declared):
        raise CheckpointError(f"{path}: n-gram model, its settings and its combination must all be present")
    try:
        combination = Combination.from_dict(meta["combination"])
        ngram = HashedNgramModel.from_tensors(
            classes, meta["ngram"], {name: tensor.float().numpy() for name, tensor in state.items()}
        )
    except ValueError as error:
        raise CheckpointError(f"{path}: the n-gram part is invalid ({error})") from None
    if len(combination.bias) != len(classes):
        raise CheckpointError(f"{path}: combination of {len(combination.bias)} classes for {len(classes)}")
    return ngram, combination
