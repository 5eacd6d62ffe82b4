"""The self-describing checkpoint: round trip, and clear errors for bad files."""

from __future__ import annotations

import dataclasses
import json
import struct

import numpy as np
import pytest
import torch

from brandpulse.model.charcnn import CharCNN
from brandpulse.model.checkpoint import CheckpointError, load_checkpoint, read_metadata, save_checkpoint
from brandpulse.model.config import EncoderConfig, ModelConfig
from brandpulse.model.encoding import CharEncoder
from brandpulse.model.predictor import Predictor
from brandpulse.model.scoring import RatingPrior
from tests.conftest import TINY_ENCODER, TINY_MODEL


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


def test_the_rating_prior_round_trips_and_moves_the_predictions(tmp_path):
    model = CharCNN(dataclasses.replace(TINY_MODEL, n_classes=5), TINY_ENCODER).eval()
    classes = ("1 star", "2 stars", "3 stars", "4 stars", "5 stars")
    prior = RatingPrior(assumed=(1, 1, 1), calibrated=(0.2, 0.1, 0.7))
    plain = save_checkpoint(tmp_path / "plain.safetensors", model, classes=classes)
    with_prior = save_checkpoint(tmp_path / "prior.safetensors", model, classes=classes, rating_prior=prior)
    assert load_checkpoint(plain).rating_prior is None
    loaded = load_checkpoint(with_prior)
    assert loaded.rating_prior == prior and read_metadata(with_prior)["rating_prior"] == prior.to_dict()
    texts = ["fine, nothing special", "awful"]
    raw = Predictor.from_loaded(load_checkpoint(plain)).predict_proba(texts)
    np.testing.assert_allclose(
        Predictor.from_loaded(loaded).predict_proba(texts), prior.adjust(raw), rtol=1e-6
    )


def test_a_rating_prior_on_a_model_of_other_classes_is_refused(tmp_path, tiny_model):
    with pytest.raises(ValueError, match="five star classes"):
        save_checkpoint(
            tmp_path / "x.safetensors",
            tiny_model,
            classes=("a", "b", "c"),
            rating_prior=RatingPrior((1, 1, 1), (1, 1, 1)),
        )
