"""A new architecture is one module and one registry entry: trained, saved, loaded and served.

`BagOfCharacters` (a character embedding averaged over the text, then one linear layer) stands for
any network someone adds: it is registered here, trained by the real training loop and the
`train` command, saved and loaded as a checkpoint, and served by the API, none of which names it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from torch import nn

from brandpulse.api import create_app
from brandpulse.api.serving.inference import get_model
from brandpulse.api.storage.db import dispose, get_database
from brandpulse.api.storage.migrations import upgrade
from brandpulse.model import architectures
from brandpulse.model.architectures import register_architecture
from brandpulse.model.charcnn import CharCNN
from brandpulse.model.checkpoint import CheckpointError, load_checkpoint, read_metadata, save_checkpoint
from brandpulse.model.checkpoint_info import CheckpointInfo
from brandpulse.model.config import EncoderConfig, ModelConfig
from brandpulse.model.encoding import CharEncoder
from brandpulse.model.network import TextNetwork
from brandpulse.model.predictor import Predictor
from brandpulse.training import train
from brandpulse.training.data import label_scheme, load_dataset
from brandpulse.training.trainer import build_train_config, train_model
from tests.support.servers import NO_RATE_LIMITS
from tests.training.test_train import synthetic_reviews

NAME = "bag-of-chars"


@dataclass(frozen=True)
class BagConfig:
    """The bag of characters' settings (every field but n_classes has a default)."""

    n_classes: int = 2
    dim: int = 16


class BagOfCharacters(TextNetwork):
    """The mean of the known characters' embeddings, then a linear layer: no order at all."""

    config: BagConfig

    def __init__(self, config: BagConfig, encoder_config: EncoderConfig) -> None:
        super().__init__(config, encoder_config)
        self.embed = nn.Embedding(encoder_config.vocab_size, config.dim, padding_idx=0)
        self.output = nn.Linear(config.dim, config.n_classes)

    def forward(self, indices: torch.Tensor) -> torch.Tensor:
        known = (indices > 0).unsqueeze(-1).float()
        mean = (self.embed(indices) * known).sum(dim=1) / known.sum(dim=1).clamp(min=1.0)
        return self.output(mean)


@pytest.fixture
def registered(monkeypatch: pytest.MonkeyPatch) -> None:
    """The bag of characters registered for this test only (the built-in ones stay)."""
    monkeypatch.setattr(architectures, "_registry", dict(architectures._registry))
    register_architecture(NAME, BagOfCharacters, BagConfig)


@pytest.fixture
def reviews(tmp_path: Path) -> Path:
    return synthetic_reviews(tmp_path / "reviews.csv", rows=240)


def _outputs(model: TextNetwork, texts: list[str]) -> torch.Tensor:
    with torch.inference_mode():
        return model.eval()(CharEncoder(model.encoder_config).encode_batch(texts))


def test_a_registered_architecture_trains_saves_loads_and_is_served(registered, reviews, tmp_path):
    dataset = load_dataset(reviews, text_column="text", label_column="stars", scheme=label_scheme("stars2"))
    train_set, val_set = dataset.subset(range(200)), dataset.subset(range(200, 240))
    torch.manual_seed(0)
    model = BagOfCharacters(BagConfig(n_classes=2), EncoderConfig(max_length=128))
    config = build_train_config(device="cpu", bf16=False, epochs=4, lr=0.05, batch_size=16, patience=4)
    result = train_model(model, CharEncoder(model.encoder_config), train_set, val_set, config)
    assert len(result.history) == 4 and result.losses[-1] < result.losses[0]

    path = save_checkpoint(
        tmp_path / "bag.safetensors",
        result.model,
        classes=dataset.classes,
        metrics={"validation": result.best_val},
        info=CheckpointInfo(architecture=NAME),
    )
    assert read_metadata(path)["model_config"] == {"architecture": NAME, "n_classes": 2, "dim": 16}
    loaded = load_checkpoint(path)
    assert type(loaded.model) is BagOfCharacters and loaded.model.config == BagConfig(n_classes=2)
    texts = ["the staff was wonderful", "my order was awful", ""]
    torch.testing.assert_close(_outputs(loaded.model, texts), _outputs(result.model, texts), rtol=0, atol=0)
    assert loaded.version.startswith(f"{NAME}-")
    assert len(Predictor.from_loaded(loaded).predict(texts)) == 3

    app = create_app(
        {
            "TESTING": True,
            "MODEL_PATH": path,
            "DATABASE_URL": f"sqlite:///{(tmp_path / 'api.sqlite3').as_posix()}",
            "ADMIN_TOKEN": "architecture-test-token-0123456789",
            **NO_RATE_LIMITS,
        }
    )
    try:
        with app.app_context(), get_database().connection_context():
            upgrade()
        response = app.test_client().post("/api/predict", json={"text": "The delivery was superb."})
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        assert 0.0 <= body["score"] <= 1.0 and set(body["probabilities"]) == {"negative", "positive"}
        assert body["model_version"] == loaded.version
    finally:
        get_model(app).close()
        dispose(app)


def test_the_train_command_trains_a_registered_architecture(registered, reviews, tmp_path):
    out = tmp_path / "bag.safetensors"
    arguments = ["--data", str(reviews), "--label-column", "stars", "--labels", "stars2"]
    arguments += ["--arch", NAME, "--max-length", "128", "--epochs", "2", "--lr", "0.05", "--out", str(out)]
    assert train.main(arguments) == 0
    loaded = load_checkpoint(out)
    assert type(loaded.model) is BagOfCharacters and loaded.info.architecture == NAME
    assert loaded.info.data.fingerprint and loaded.metrics["test"]["overall"]["n"] == 48


def test_a_checkpoint_of_an_unregistered_architecture_is_refused_by_name(registered, tmp_path):
    model = BagOfCharacters(BagConfig(), EncoderConfig(max_length=32))
    path = save_checkpoint(tmp_path / "bag.safetensors", model, classes=("negative", "positive"))
    del architectures._registry[NAME]  # a process that never registered it
    with pytest.raises(CheckpointError, match=f"unknown architecture '{NAME}'"):
        load_checkpoint(path)


def test_charcnn_checkpoints_name_no_architecture_and_load_as_before(tiny_checkpoint, bundled_checkpoint):
    # The default architecture is not written, so files stay as older code wrote and reads them.
    assert "architecture" not in read_metadata(tiny_checkpoint)["model_config"]
    assert type(load_checkpoint(tiny_checkpoint).model) is CharCNN
    bundled = load_checkpoint(bundled_checkpoint)
    assert type(bundled.model) is CharCNN and bundled.version == "small-bn+ngram-f89cf8326913"


def test_an_unregistered_network_cannot_be_saved_and_a_name_names_one_network(registered, tmp_path):
    class Unregistered(BagOfCharacters):
        pass

    with pytest.raises(ValueError, match="not a registered architecture"):
        save_checkpoint(
            tmp_path / "x.safetensors", Unregistered(BagConfig(), EncoderConfig()), classes=("a", "b")
        )
    with pytest.raises(ValueError, match="already registered"):
        register_architecture("charcnn", BagOfCharacters, BagConfig)
    with pytest.raises(ValueError, match="n_classes"):
        register_architecture("other", CharCNN, EncoderConfig)
    assert register_architecture("charcnn", CharCNN, ModelConfig).network is CharCNN  # again: harmless
