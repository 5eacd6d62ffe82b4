"""The network: output shapes for several configurations, and an initialisation that trains."""

from __future__ import annotations

import pytest
import torch

from brandpulse.model.charcnn import CharCNN, conv_output_length
from brandpulse.model.config import PRESETS, EncoderConfig, ModelConfig, model_config_from_preset


@pytest.mark.parametrize(
    ("preset", "n_classes"),
    [
        ("small", 2),
        ("small", 3),
        ("small", 5),
        ("small-bn", 2),
        ("small-bn", 3),
        ("small-bn", 5),
        ("large", 2),
    ],
)
def test_presets_give_one_logit_per_class(preset, n_classes):
    assert set(PRESETS) == {"small", "small-bn", "large"}  # a new preset belongs in the table above
    model = CharCNN(model_config_from_preset(preset, n_classes=n_classes), EncoderConfig()).eval()
    with torch.inference_mode():
        logits = model(torch.randint(0, 70, (3, 1014)))
    assert logits.shape == (3, n_classes)


def test_paper_small_model_matches_the_paper():
    model = CharCNN(ModelConfig(), EncoderConfig())
    convolutions = [m for m in model.convolutions if isinstance(m, torch.nn.Conv1d)]
    assert [c.kernel_size[0] for c in convolutions] == [7, 7, 3, 3, 3, 3]
    assert {c.out_channels for c in convolutions} == {256}
    assert convolutions[0].in_channels == 69  # one-hot over the alphabet
    assert conv_output_length(ModelConfig(), 1014) == 34  # the paper's (l0 - 96) / 27
    linears = [m for m in model.classifier if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(34 * 256, 1024), (1024, 1024), (1024, 2)]
    dropouts = [m.p for m in model.classifier if isinstance(m, torch.nn.Dropout)]
    assert dropouts == [0.5, 0.5]


def test_large_variant_is_configuration():
    config = model_config_from_preset("large")
    assert (config.conv_channels, config.fc_units) == (1024, 2048)


def test_max_length_too_short_is_refused():
    with pytest.raises(ValueError, match="too short"):
        CharCNN(ModelConfig(), EncoderConfig(max_length=50))


def test_unknown_preset_is_refused():
    with pytest.raises(ValueError, match="unknown architecture"):
        model_config_from_preset("huge")


def test_one_hot_input_zeroes_index_zero():
    model = CharCNN(ModelConfig(), EncoderConfig())
    one_hot = model.input(torch.tensor([[0, 1, 69]]))
    assert one_hot.shape == (1, 69, 3)
    assert one_hot[0, :, 0].sum() == 0 and one_hot[0, 0, 1] == 1 and one_hot[0, 68, 2] == 1


@pytest.mark.parametrize("preset", ["small", "small-bn"])
def test_initialisation_keeps_the_signal_alive(preset):
    """With PyTorch's default init the paper's stack shrinks its input to almost nothing by the
    dense layers, and training sits at chance; He init must keep a usable scale there, and the
    first predictions must be near uniform (loss about ln 2)."""
    torch.manual_seed(0)
    model = CharCNN(model_config_from_preset(preset), EncoderConfig()).train()
    indices = torch.randint(0, 70, (16, 1014))
    features = model.features(indices)
    assert 0.1 < features.std().item() < 100
    loss = torch.nn.functional.cross_entropy(model(indices), torch.randint(0, 2, (16,)))
    assert abs(loss.item() - 0.693) < 0.1
