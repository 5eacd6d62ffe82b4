"""Labelled text data: reading CSV/JSONL files, mapping labels to classes, balancing, splitting.

Label schemes (`LABEL_SCHEMES`), each with its classes ordered from most negative to most
positive, which is what the score of `scoring.py` relies on:

- ``binary``: labels 0/1 (or negative/positive) -> negative, positive.
- ``stars3``: 1-5 stars grouped as bad (1-2), average (3), good (4-5).
- ``stars2``: 1-5 stars made binary, negative (1-2) and positive (4-5); 3 stars are dropped.
- ``names``: labels are class names, ordered as the ``classes`` argument lists them.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import math
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

BINARY_CLASSES = ("negative", "positive")
STARS3_CLASSES = ("bad", "average", "good")


class DataError(ValueError):
    """A data file that cannot be used, with the file, row and column named in the message."""


@dataclass
class Dataset:
    """Texts with integer labels indexing `classes`, and the file rows they came from."""

    texts: list[str]
    labels: np.ndarray
    classes: tuple[str, ...]
    row_ids: np.ndarray
    groups: list[str] = field(default_factory=list)  # e.g. the "source" column, per row

    def __len__(self) -> int:
        return len(self.texts)

    def subset(self, indices: Sequence[int] | np.ndarray) -> Dataset:
        """The rows at `indices`, in that order."""
        indices = np.asarray(indices, dtype=np.int64)
        return Dataset(
            texts=[self.texts[i] for i in indices],
            labels=self.labels[indices],
            classes=self.classes,
            row_ids=self.row_ids[indices],
            groups=[self.groups[i] for i in indices] if self.groups else [],
        )

    def class_counts(self) -> dict[str, int]:
        """How many rows each class has."""
        counts = np.bincount(self.labels, minlength=len(self.classes))
        return {name: int(count) for name, count in zip(self.classes, counts, strict=True)}


def _parse_star(raw: str) -> int | None:
    try:
        value = float(raw)
    except ValueError:
        return None
    if not math.isfinite(value) or value != int(value) or not 1 <= value <= 5:
        return None
    return int(value)


def _map_binary(raw: str) -> int | None:
    value = raw.strip().lower()
    if value in ("0", "0.0", "negative", "neg", "false"):
        return 0
    if value in ("1", "1.0", "positive", "pos", "true"):
        return 1
    return None


class LabelScheme:
    """Maps raw label strings to class indices; `None` from `map` means "not a valid label"."""

    def __init__(self, name: str, classes: Sequence[str]) -> None:
        self.name = name
        self.classes = tuple(classes)

    def map(self, raw: str) -> int | None | str:
        """Class index, `None` for an invalid label, or "drop" for a valid label left out."""
        if self.name == "binary":
            return _map_binary(raw)
        if self.name in ("stars3", "stars2"):
            stars = _parse_star(raw.strip())
            if stars is None:
                return None
            if self.name == "stars3":
                return 0 if stars <= 2 else 1 if stars == 3 else 2
            return "drop" if stars == 3 else (0 if stars <= 2 else 1)
        value = raw.strip()
        return self.classes.index(value) if value in self.classes else None


def label_scheme(name: str, classes: Sequence[str] | None = None) -> LabelScheme:
    """The label scheme called `name` (see the module docstring)."""
    if name == "binary":
        return LabelScheme(name, BINARY_CLASSES)
    if name == "stars3":
        return LabelScheme(name, STARS3_CLASSES)
    if name == "stars2":
        return LabelScheme(name, BINARY_CLASSES)
    if name == "names":
        if not classes or len(classes) < 2:
            raise ValueError("the 'names' label scheme needs at least two classes, most negative first")
        return LabelScheme(name, classes)
    raise ValueError(f"unknown label scheme {name!r}; choose binary, stars3, stars2 or names")


def _read_rows(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield (1-based line or record number, row) from a CSV or JSONL file."""
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        with path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as error:
                    raise DataError(f"{path}: line {number}: not valid JSON ({error.msg})") from None
                if not isinstance(record, dict):
                    raise DataError(f"{path}: line {number}: expected a JSON object")
                yield number, {key: "" if value is None else str(value) for key, value in record.items()}
        return
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        if not reader.fieldnames:
            raise DataError(f"{path}: the file is empty (no header row)")
        for row in reader:
            # reader.line_num is the physical line the row ended on; rows may span lines.
            yield reader.line_num, {key: value or "" for key, value in row.items() if key is not None}


def load_dataset(
    path: str | Path,
    *,
    text_column: str = "text",
    label_column: str = "label",
    scheme: LabelScheme | None = None,
    group_column: str | None = None,
    max_rows: int | None = None,
) -> Dataset:
    """Read a labelled CSV or JSONL file.

    Raises:
        DataError: missing file or columns, an empty file, or an unparsable label; the message
            names the file, the line and the column.
    """
    path = Path(path)
    scheme = scheme or label_scheme("binary")
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    texts: list[str] = []
    labels: list[int] = []
    row_ids: list[int] = []
    groups: list[str] = []
    dropped = 0
    try:
        for row_id, (line, row) in enumerate(_read_rows(path)):
            if max_rows is not None and len(texts) >= max_rows:
                break
            for column in (text_column, label_column, group_column):
                if column and column not in row:
                    raise DataError(
                        f"{path}: line {line}: no column {column!r} (columns: {', '.join(sorted(row))})"
                    )
            label = scheme.map(row[label_column])
            if label is None:
                raise DataError(
                    f"{path}: line {line}: column {label_column!r}: cannot read label "
                    f"{row[label_column][:40]!r} as {scheme.name} ({', '.join(scheme.classes)})"
                )
            if label == "drop":
                dropped += 1
                continue
            texts.append(row[text_column])
            labels.append(int(label))
            row_ids.append(row_id)
            if group_column:
                groups.append(row[group_column])
    except UnicodeDecodeError as error:
        raise DataError(f"{path}: not UTF-8 text ({error.reason} at byte {error.start})") from None
    except csv.Error as error:
        raise DataError(f"{path}: malformed CSV ({error})") from None
    if not texts:
        raise DataError(f"{path}: no labelled rows")
    if dropped:
        logger.info("%s: dropped %d rows whose label the %s scheme leaves out", path, dropped, scheme.name)
    return Dataset(
        texts=texts,
        labels=np.asarray(labels, dtype=np.int64),
        classes=scheme.classes,
        row_ids=np.asarray(row_ids, dtype=np.int64),
        groups=groups,
    )


def balance(dataset: Dataset, seed: int) -> Dataset:
    """Downsample every class to the size of the smallest one (seeded)."""
    rng = np.random.default_rng(seed)
    counts = Counter(dataset.labels.tolist())
    smallest = min(counts.values())
    keep = []
    for label in sorted(counts):
        members = np.flatnonzero(dataset.labels == label)
        keep.append(rng.choice(members, size=smallest, replace=False))
    return dataset.subset(np.sort(np.concatenate(keep)))


def stratified_split(strata: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Split row positions into (kept, held out), holding out `fraction` of every stratum.

    `strata` gives each row's stratum (its label, or label and source combined). Seeded and
    deterministic: the same strata, fraction and seed give the same split.
    """
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"split fraction must be in (0, 1), got {fraction}")
    rng = np.random.default_rng(seed)
    kept, held_out = [], []
    for stratum in np.unique(strata):
        members = rng.permutation(np.flatnonzero(strata == stratum))
        n_out = int(round(len(members) * fraction))
        held_out.append(members[:n_out])
        kept.append(members[n_out:])
    return np.sort(np.concatenate(kept)), np.sort(np.concatenate(held_out))


def strata_of(dataset: Dataset) -> np.ndarray:
    """Stratum per row: the label, combined with the group when the dataset has groups."""
    if not dataset.groups:
        return dataset.labels.copy()
    names = sorted(set(dataset.groups))
    lookup = {name: index for index, name in enumerate(names)}
    group_index = np.asarray([lookup[g] for g in dataset.groups], dtype=np.int64)
    return group_index * len(dataset.classes) + dataset.labels


# The settings that select and split a data file's rows, as `train` and `train-baseline` record
# them beside the data fingerprint: the same keys and values give the same rows.
SELECTION_KEYS = (
    "labels",
    "text_column",
    "label_column",
    "group_column",
    "max_rows",
    "balance",
    "test_fraction",
    "split_seed",
    "val_fraction",
    "seed",
)


def fingerprint(path: str | Path, **settings: object) -> str:
    """SHA-256 of the file's bytes and the settings that select rows from it."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    digest.update(json.dumps(settings, sort_keys=True, default=str).encode())
    return digest.hexdigest()


def split_for_training(
    dataset: Dataset, *, test_fraction: float, split_seed: int, val_fraction: float, seed: int
) -> tuple[Dataset, Dataset, Dataset]:
    """(train, validation, test): a stratified held-out test share, then validation from the rest.

    With `test_fraction` 0 the test set is empty. The test split depends only on the data and
    `split_seed`, so every model trained with the same split seed is tested on the same rows.
    """
    rest, test = dataset, dataset.subset([])
    if test_fraction:
        kept, held_out = stratified_split(strata_of(dataset), test_fraction, split_seed)
        rest, test = dataset.subset(kept), dataset.subset(held_out)
    kept, held_out = stratified_split(strata_of(rest), val_fraction, seed)
    return rest.subset(kept), rest.subset(held_out), test


def training_data(
    path: str | Path, selection: Mapping[str, object], classes: Sequence[str] | None = None
) -> tuple[Dataset, Dataset, Dataset, Dataset]:
    """All rows of `path` as `selection` (the SELECTION_KEYS) picks them, then (train, validation, test).

    `train`, `train-baseline` and `combine-models` all read their rows through here, so the same
    recorded selection always gives the same rows. DataError or ValueError for bad data or settings.
    """
    dataset = load_dataset(
        path,
        text_column=selection["text_column"],
        label_column=selection["label_column"],
        scheme=label_scheme(selection["labels"], classes),
        group_column=selection["group_column"],
        max_rows=selection["max_rows"],
    )
    if selection["balance"]:
        dataset = balance(dataset, selection["seed"])
    train, validation, test = split_for_training(
        dataset,
        test_fraction=selection["test_fraction"],
        split_seed=selection["split_seed"],
        val_fraction=selection["val_fraction"],
        seed=selection["seed"],
    )
    return dataset, train, validation, test


def data_record(path: str | Path, selection: Mapping[str, object]) -> dict[str, object]:
    """How a model's rows were chosen, as its file records them: file name, fingerprint, selection."""
    return {"file": Path(path).name, "fingerprint": fingerprint(path, **selection), **selection}


def select_rows(dataset: Dataset, row_ids: Sequence[int]) -> Dataset:
    """The rows whose `row_ids` are listed (e.g. a recorded held-out split)."""
    wanted = np.isin(dataset.row_ids, np.asarray(row_ids, dtype=np.int64))
    return dataset.subset(np.flatnonzero(wanted))
