"""The character-level CNN of Zhang, Zhao & LeCun 2015 ("Character-level Convolutional
Networks for Text Classification", arXiv:1509.01626), with optional batch normalisation,
a learned character embedding and pooling over time (see `ModelConfig`).

Input is the `(batch, length)` index tensor of `CharEncoder`; output is `(batch, classes)`
logits (the `network.TextNetwork` contract); its registry name is "charcnn".
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from brandpulse.model.config import EncoderConfig, ModelConfig
from brandpulse.model.network import TextNetwork


class OneHot(nn.Module):
    """The paper's input: index i > 0 becomes the i-th unit vector, index 0 a zero vector."""

    def __init__(self, vocab_size: int) -> None:
        super().__init__()
        self.vocab_size = vocab_size
        self.out_channels = vocab_size - 1

    def forward(self, indices: torch.Tensor) -> torch.Tensor:
        one_hot = F.one_hot(indices, self.vocab_size)[..., 1:]  # (B, L, V-1), index 0 dropped
        return one_hot.transpose(1, 2).float()  # (B, V-1, L)


class Embedding(nn.Module):
    """A learned character embedding; index 0 (unknown or padding) stays a zero vector."""

    def __init__(self, vocab_size: int, dim: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab_size, dim, padding_idx=0)
        self.out_channels = dim

    def forward(self, indices: torch.Tensor) -> torch.Tensor:
        return self.embed(indices).transpose(1, 2)  # (B, D, L)


def conv_output_length(config: ModelConfig, input_length: int) -> int:
    """Length of the sequence after the convolution stack (valid convolutions, floor pooling)."""
    length = input_length
    for index, kernel in enumerate(config.conv_kernels):
        length = length - kernel + 1
        if index in config.pool_after:
            length //= config.pool_size
        if length < 1:
            raise ValueError(f"max_length {input_length} is too short for this architecture")
    return length


class CharCNN(TextNetwork):
    """Six 1-D convolutions, then two dense layers, then the classes (by default)."""

    config: ModelConfig

    def __init__(self, config: ModelConfig, encoder: EncoderConfig) -> None:
        super().__init__(config, encoder)
        if config.embedding_dim:
            self.input = Embedding(encoder.vocab_size, config.embedding_dim)
        else:
            self.input = OneHot(encoder.vocab_size)

        layers: list[nn.Module] = []
        channels = self.input.out_channels
        for index, kernel in enumerate(config.conv_kernels):
            layers.append(nn.Conv1d(channels, config.conv_channels, kernel, bias=not config.batch_norm))
            if config.batch_norm:
                layers.append(nn.BatchNorm1d(config.conv_channels))
            layers.append(nn.ReLU(inplace=True))
            if index in config.pool_after:
                layers.append(nn.MaxPool1d(config.pool_size))
            channels = config.conv_channels
        self.convolutions = nn.Sequential(*layers)

        if config.pooling == "flatten":
            features = channels * conv_output_length(config, encoder.max_length)
        else:
            conv_output_length(config, encoder.max_length)  # validates the length
            features = 2 * channels
        head: list[nn.Module] = []
        if config.batch_norm:
            # Pooled ReLU features share a large positive offset that swamps what differs
            # between texts; normalising them across the batch exposes those differences.
            head.append(nn.BatchNorm1d(features))
        self.classifier = nn.Sequential(
            *head,
            nn.Linear(features, config.fc_units),
            nn.ReLU(inplace=True),
            nn.Dropout(config.dropout),
            nn.Linear(config.fc_units, config.fc_units),
            nn.ReLU(inplace=True),
            nn.Dropout(config.dropout),
            nn.Linear(config.fc_units, config.n_classes),
        )
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """He initialisation for every ReLU layer, a near-zero one for the output layer.

        PyTorch's default initialisation shrinks the signal at each of the eight ReLU layers,
        and the paper's model then sits at chance accuracy for epochs; He (Kaiming) init keeps
        the activations' scale through the stack so training starts moving at once.
        """
        for module in self.modules():
            if isinstance(module, (nn.Conv1d, nn.Linear)):
                nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Embedding):
                nn.init.normal_(module.weight, std=1.0)
                with torch.no_grad():
                    module.weight[module.padding_idx].zero_()
        # A small output layer makes the first predictions near uniform (loss ~ ln(classes)).
        output = self.classifier[-1]
        nn.init.normal_(output.weight, std=0.01)
        nn.init.zeros_(output.bias)

    def features(self, indices: torch.Tensor) -> torch.Tensor:
        """The representation the dense layers read: `(batch, features)`."""
        x = self.convolutions(self.input(indices))  # (B, C, L')
        if self.config.pooling == "flatten":
            return x.flatten(1)  # (B, C * L')
        return torch.cat([x.amax(dim=2), x.mean(dim=2)], dim=1)  # (B, 2C)

    def forward(self, indices: torch.Tensor) -> torch.Tensor:
        """Logits `(batch, n_classes)` for an index tensor `(batch, max_length)`."""
        return self.classifier(self.features(indices))
