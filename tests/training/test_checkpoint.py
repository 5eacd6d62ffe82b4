"""The self-describing checkpoint: round trip, and clear errors for bad files."""

from __future__ import annotations

import json
import struct

import pytest
import torch

from brandpulse.training.checkpoint import CheckpointError, load_checkpoint, read_metadata, save_checkpoint
from brandpulse.training.config import EncoderConfig, ModelConfig
from brandpulse.training.encoding import CharEncoder
from brandpulse.training.model import CharCNN


def _outputs(model, texts):
    indices = CharEncoder(model.encoder_config).encode_batch(texts)
    with torch.inference_mode():
        return model.eval()(indices)


def test_round_trip_gives_identical_outputs(tiny_model, tiny_checkpoint):
    loaded = load_checkpoint(tiny_checkpoint)
    texts = ["great stuff", "terrible, never again", ""]
    torch.testing.assert_close(_outputs(loaded.model, texts), _outputs(tiny_model, texts), rtol=0, atol=0)
    assert loaded.classes == ("bad", "average", "good")
    assert loaded.encoder_config == tiny_model.encoder_config
    assert loaded.model.config == tiny_model.config
    assert loaded.metrics == {"test": {"overall": {"accuracy": 0.5}}}
    assert not loaded.model.training


def test_version_names_architecture_and_file_hash(tiny_checkpoint):
    loaded = load_checkpoint(tiny_checkpoint)
    assert loaded.version.startswith("tiny-") and len(loaded.version) == len("tiny-") + 12


def test_float16_storage_stays_close(tmp_path, tiny_model):
    path = save_checkpoint(
        tmp_path / "half.safetensors", tiny_model, classes=("a", "b", "c"), dtype=torch.float16
    )
    texts = ["half precision weights"]
    torch.testing.assert_close(
        _outputs(load_checkpoint(path).model, texts), _outputs(tiny_model, texts), atol=2e-2, rtol=2e-2
    )


def test_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        load_checkpoint(tmp_path / "nope.safetensors")


def test_garbage_file(tmp_path):
    path = tmp_path / "garbage.safetensors"
    path.write_bytes(b"this is not a checkpoint at all")
    with pytest.raises(CheckpointError):
        load_checkpoint(path)


def test_truncated_file(tmp_path, tiny_checkpoint):
    data = tiny_checkpoint.read_bytes()
    path = tmp_path / "truncated.safetensors"
    path.write_bytes(data[: len(data) - 100])
    with pytest.raises(CheckpointError):
        load_checkpoint(path)


def test_other_architecture_is_refused(tmp_path, tiny_checkpoint):
    # Rewrite the declared architecture without touching the weights.
    data = tiny_checkpoint.read_bytes()
    (header_size,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + header_size])
    config = json.loads(header["__metadata__"]["model_config"])
    config["conv_channels"] = 16
    header["__metadata__"]["model_config"] = json.dumps(config)
    new_header = json.dumps(header).encode()
    new_header += b" " * (-len(new_header) % 8)
    path = tmp_path / "other.safetensors"
    path.write_bytes(struct.pack("<Q", len(new_header)) + new_header + data[8 + header_size :])
    assert read_metadata(path)["model_config"]["conv_channels"] == 16
    with pytest.raises(CheckpointError, match="do not fit"):
        load_checkpoint(path)


def test_plain_safetensors_without_metadata_is_refused(tmp_path):
    from safetensors.torch import save_file

    path = tmp_path / "plain.safetensors"
    save_file({"w": torch.zeros(2)}, str(path))
    with pytest.raises(CheckpointError, match="not a brandpulse-charcnn checkpoint"):
        load_checkpoint(path)


def test_class_count_must_match_outputs(tmp_path):
    model = CharCNN(ModelConfig(conv_channels=4, fc_units=8), EncoderConfig())
    with pytest.raises(ValueError, match="class names"):
        save_checkpoint(tmp_path / "x.safetensors", model, classes=("only-one", "two", "three"))
