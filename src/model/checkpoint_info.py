"""What a checkpoint says about how its model was made: `CheckpointInfo`, its `info` header.

Written and read here only (`to_dict`, `from_dict`), so every file keeps one layout and every
reader one rule. The layout is the JSON every checkpoint has carried:

- `architecture`: the model's name in its version ("small-bn", "small-bn+ngram" for a pair);
- `data`: the rows it learnt from (`DataRecord`): file name, SHA-256, the fingerprint of the
  rows, the selection settings (`training.data.SELECTION_KEYS`) and, for a model the learning
  loop trained, `base_fingerprint`, the corpus rows its data descends from;
- `train` (`train`: the training settings and results), `init_from`, `hardware`;
- `combination` (`combine-models`: how the pair was pooled);
- `parent`, `retrain`, `created` (the learning loop: the champion it came from, how, when).

Keys this code does not know are kept as they were (`extra`), so a file read and written again
loses nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

DEFAULT_ARCHITECTURE_NAME = "charcnn"
_DATA_KEYS = ("file", "sha256", "fingerprint", "base_fingerprint")


@dataclass(frozen=True)
class DataRecord:
    """Which rows a model learnt from, as its file records them."""

    file: str | None = None
    sha256: str | None = None
    fingerprint: str | None = None  # these very rows (a retrained model: corpus and stored reviews)
    base_fingerprint: str | None = None  # the corpus rows they descend from (the learning loop)
    selection: Mapping[str, Any] = field(default_factory=dict)  # how rows were selected and split

    @property
    def corpus_fingerprint(self) -> str | None:
        """The fingerprint of the corpus rows this model's data descends from: the one rule.

        A model trained on a corpus records that corpus's rows as `fingerprint`; a model the
        learning loop trained records its own mix as `fingerprint` and the corpus's as
        `base_fingerprint`.
        """
        return self.base_fingerprint or self.fingerprint

    @property
    def labels(self) -> str | None:
        """The label scheme of the rows ("stars5", "binary", ...), if recorded."""
        labels = self.selection.get("labels")
        return None if labels is None else str(labels)

    @property
    def holdout_groups(self) -> list[str]:
        """The groups held out of training (unseen domains)."""
        return list(self.selection.get("holdout_groups") or [])

    def to_dict(self) -> dict[str, Any]:
        """The record as the file holds it: one flat object."""
        named = {key: getattr(self, key) for key in _DATA_KEYS}
        record = {key: named[key] for key in ("file", "sha256", "fingerprint") if named[key] is not None}
        record.update(self.selection)
        if self.base_fingerprint is not None:
            record["base_fingerprint"] = self.base_fingerprint
        return record

    @classmethod
    def from_dict(cls, record: Mapping[str, Any]) -> DataRecord:
        """Read `to_dict`'s layout: the named keys, and the rest as the selection."""
        if not isinstance(record, Mapping):
            raise ValueError(f"the data record is a {type(record).__name__}, not an object")
        named = {key: record[key] for key in _DATA_KEYS if record.get(key) is not None}
        selection = {key: value for key, value in record.items() if key not in _DATA_KEYS}
        return cls(**named, selection=selection)


@dataclass(frozen=True)
class CheckpointInfo:
    """How a checkpoint's model was made (module docstring); its version names `architecture`."""

    architecture: str = DEFAULT_ARCHITECTURE_NAME
    data: DataRecord | None = None
    train: Mapping[str, Any] | None = None
    init_from: str | None = None
    hardware: Mapping[str, Any] | None = None
    combination: Mapping[str, Any] | None = None
    parent: str | None = None
    retrain: Mapping[str, Any] | None = None
    created: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def corpus_fingerprint(self) -> str | None:
        """The corpus rows this model's data descends from (`DataRecord.corpus_fingerprint`)."""
        return self.data.corpus_fingerprint if self.data is not None else None

    @property
    def data_fingerprint(self) -> str | None:
        """The fingerprint of the very rows this model learnt from (the registry's)."""
        return self.data.fingerprint if self.data is not None else None

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of the checkpoint's `info` header (fields that are None left out)."""
        record: dict[str, Any] = {}
        for item in fields(self):
            value = getattr(self, item.name)
            if item.name == "extra" or value is None:
                continue
            record[item.name] = value.to_dict() if isinstance(value, DataRecord) else value
        return {**record, **self.extra}

    @classmethod
    def from_dict(cls, info: Mapping[str, Any] | None) -> CheckpointInfo:
        """Read a checkpoint's `info` object (None or {}: nothing recorded).

        Raises:
            ValueError: it is not an object, or a recorded field is of the wrong kind.
        """
        if info is None:
            return cls()
        if not isinstance(info, Mapping):
            raise ValueError(f"the info header is a {type(info).__name__}, not an object")
        known = {item.name for item in fields(cls)} - {"extra"}
        values: dict[str, Any] = {key: info[key] for key in known if info.get(key) is not None}
        for key in ("architecture", "init_from", "parent", "created"):
            if key in values and not isinstance(values[key], str):
                raise ValueError(f"info.{key} is a {type(values[key]).__name__}, not a string")
        for key in ("train", "hardware", "combination", "retrain"):
            if key in values and not isinstance(values[key], Mapping):
                raise ValueError(f"info.{key} is a {type(values[key]).__name__}, not an object")
        if "data" in values:
            values["data"] = DataRecord.from_dict(values["data"])
        extra = {key: value for key, value in info.items() if key not in known}
        return cls(**values, extra=extra)
