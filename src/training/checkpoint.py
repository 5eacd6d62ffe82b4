"""Saving and loading the self-describing checkpoint.

One `.safetensors` file: the weights (a format that cannot run code when loaded) and, in its
metadata header, everything needed to rebuild and use the model — the architecture
(`model_config`), the text encoding (`encoder`), the ordered class names, the training data's
fingerprint, the evaluation metrics and a format version. Loading needs no other file and no
flag that must match training.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from brandpulse.training.config import EncoderConfig, ModelConfig, from_dict, to_dict
from brandpulse.training.model import CharCNN

logger = logging.getLogger(__name__)

FORMAT = "brandpulse-charcnn"
FORMAT_VERSION = 1

# The default model, committed with the code so a new install scores reviews with no network.
BUNDLED_CHECKPOINT = Path(__file__).resolve().parent / "bundled" / "charcnn_movie_reviews.safetensors"


class CheckpointError(ValueError):
    """A checkpoint that is missing, corrupt, truncated or of another format or architecture."""


@dataclass
class Checkpoint:
    """A loaded model with everything its checkpoint says about it."""

    model: CharCNN
    encoder_config: EncoderConfig
    classes: tuple[str, ...]
    metrics: dict[str, Any] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)  # data fingerprint, training settings
    sha256: str = ""

    @property
    def version(self) -> str:
        """A short, stable name for these weights: architecture name and file hash prefix."""
        name = self.info.get("architecture", "charcnn")
        return f"{name}-{self.sha256[:12]}" if self.sha256 else name


def save_checkpoint(
    path: str | Path,
    model: CharCNN,
    *,
    classes: tuple[str, ...] | list[str],
    metrics: dict[str, Any] | None = None,
    info: dict[str, Any] | None = None,
    dtype: torch.dtype = torch.float32,
) -> Path:
    """Write `model` and its description to `path` (floating tensors stored as `dtype`)."""
    if len(classes) != model.config.n_classes:
        raise ValueError(f"{len(classes)} class names for a model with {model.config.n_classes} outputs")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {
        name: (tensor.to(dtype) if tensor.is_floating_point() else tensor).detach().cpu().contiguous()
        for name, tensor in model.state_dict().items()
    }
    metadata = {
        "format": FORMAT,
        "format_version": str(FORMAT_VERSION),
        "model_config": json.dumps(to_dict(model.config)),
        "encoder": json.dumps(to_dict(model.encoder_config)),
        "classes": json.dumps(list(classes)),
        "metrics": json.dumps(metrics or {}),
        "info": json.dumps(info or {}),
    }
    temporary = path.with_suffix(path.suffix + ".tmp")
    save_file(tensors, str(temporary), metadata=metadata)
    temporary.replace(path)  # atomic: a crash never leaves half a checkpoint behind
    return path


def read_metadata(path: str | Path) -> dict[str, Any]:
    """The decoded metadata of a checkpoint, without loading its weights."""
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
    if raw.get("format_version") != str(FORMAT_VERSION):
        raise CheckpointError(
            f"{path}: checkpoint format version {raw.get('format_version')!r}, "
            f"this code reads version {FORMAT_VERSION}"
        )
    try:
        return {
            key: json.loads(raw[key]) for key in ("model_config", "encoder", "classes", "metrics", "info")
        }
    except (KeyError, json.JSONDecodeError) as error:
        raise CheckpointError(f"{path}: checkpoint metadata is incomplete or corrupt ({error})") from None


def load_checkpoint(path: str | Path, map_location: str = "cpu") -> Checkpoint:
    """Rebuild the model a checkpoint describes and load its weights, in eval mode.

    Raises:
        CheckpointError: the file is missing, not a safetensors file, truncated, of another
            format version, or its weights do not fit the architecture it declares.
    """
    path = Path(path)
    meta = read_metadata(path)
    try:
        model_config = from_dict(ModelConfig, meta["model_config"])
        encoder_config = from_dict(EncoderConfig, meta["encoder"])
        model = CharCNN(model_config, encoder_config)
    except (TypeError, ValueError) as error:
        raise CheckpointError(f"{path}: checkpoint describes an invalid architecture ({error})") from None
    try:
        state = load_file(str(path), device=map_location)
    except (SafetensorError, OSError) as error:
        raise CheckpointError(f"{path}: cannot read the weights ({error})") from None
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
    if len(classes) != model_config.n_classes:
        raise CheckpointError(f"{path}: {len(classes)} class names for {model_config.n_classes} outputs")
    return Checkpoint(
        model=model,
        encoder_config=encoder_config,
        classes=classes,
        metrics=meta["metrics"],
        info=meta["info"],
        sha256=file_sha256(path),
    )


def file_sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
