"""The architecture registry: the network a checkpoint's architecture name builds.

A checkpoint stores its network's config as `model_config`; for any network but the default
one that dict also names the architecture (`"architecture": "<name>"`), and loading builds the
network registered under that name. A file without the name is a `CharCNN` ("charcnn"): every
checkpoint written before the registry, and every CharCNN written since, which older code
therefore still reads.

Adding an architecture is one file and one line: a module with a `network.TextNetwork`
subclass and its config dataclass, and a `register_architecture` line in `BUILT_IN` below (or a
call before any checkpoint of it is loaded, as a test or a plug-in would make).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from brandpulse.model.charcnn import CharCNN
from brandpulse.model.config import EncoderConfig, ModelConfig, from_dict, to_dict
from brandpulse.model.network import TextNetwork

DEFAULT_ARCHITECTURE = "charcnn"
NAME_KEY = "architecture"  # the model_config key that names a network other than the default


@dataclass(frozen=True)
class Architecture:
    """A registered network: its name, its class and the config dataclass it is built from."""

    name: str
    network: type[TextNetwork]
    config: type


_registry: dict[str, Architecture] = {}


def register_architecture(name: str, network: type[TextNetwork], config: type) -> Architecture:
    """Register `network` (built as `network(config, encoder_config)`) under `name`.

    Registering the same pair again is harmless; a name already taken by another network, a class
    that is not a `TextNetwork`, or a config without `n_classes` is a ValueError.
    """
    if not (isinstance(network, type) and issubclass(network, TextNetwork)):
        raise ValueError(f"{network!r} is not a TextNetwork subclass")
    if not dataclasses.is_dataclass(config) or "n_classes" not in {
        f.name for f in dataclasses.fields(config)
    }:
        raise ValueError(f"{config!r} is not a dataclass with an n_classes field")
    entry = Architecture(name, network, config)
    known = _registry.get(name)
    if known is not None and known != entry:
        raise ValueError(f"architecture {name!r} is already registered for {known.network.__name__}")
    _registry[name] = entry
    return entry


def registered() -> tuple[str, ...]:
    """The registered architecture names, sorted."""
    return tuple(sorted(_registry))


def architecture(name: str) -> Architecture:
    """The architecture registered under `name`; ValueError naming the registered ones if none is."""
    try:
        return _registry[name]
    except KeyError:
        raise ValueError(
            f"unknown architecture {name!r} (registered: {', '.join(registered())}); "
            "register it (architectures.register_architecture) before loading its checkpoints"
        ) from None


def architecture_of(model: TextNetwork) -> Architecture:
    """The registered architecture of a network (by its exact class)."""
    for entry in _registry.values():
        if type(model) is entry.network:
            return entry
    raise ValueError(f"{type(model).__name__} is not a registered architecture: register it to save it")


def network_config(model: TextNetwork) -> dict[str, Any]:
    """The `model_config` a checkpoint stores for `model`: its config, and its name unless default."""
    name = architecture_of(model).name
    config = to_dict(model.config)
    return config if name == DEFAULT_ARCHITECTURE else {NAME_KEY: name, **config}


def build_network(model_config: Mapping[str, Any], encoder_config: EncoderConfig) -> TextNetwork:
    """A new network from a stored `model_config` (randomly initialised; load weights after).

    Raises:
        ValueError: an unregistered name, or a config its architecture does not accept.
        TypeError: a config value of the wrong kind.
    """
    values = dict(model_config)
    entry = architecture(str(values.pop(NAME_KEY, DEFAULT_ARCHITECTURE)))
    return entry.network(from_dict(entry.config, values), encoder_config)


def rebuild(model: TextNetwork, **changes: Any) -> TextNetwork:
    """A new network of `model`'s architecture and encoding, its config with `changes` (e.g.
    another `n_classes`: pretraining); the weights start fresh."""
    return type(model)(dataclasses.replace(model.config, **changes), model.encoder_config)


# The built-in architectures: a new one is its module and one line here.
BUILT_IN = (Architecture(DEFAULT_ARCHITECTURE, CharCNN, ModelConfig),)
for _entry in BUILT_IN:
    register_architecture(_entry.name, _entry.network, _entry.config)
