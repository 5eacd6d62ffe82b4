"""Labelled text data: reading CSV/JSONL files, mapping labels to classes, balancing, splitting.

Label schemes (`LABEL_SCHEMES`), each with its classes ordered from most negative to most
positive, which is what the score of `scoring.py` relies on:

- ``binary``: labels 0/1 (or negative/positive) -> negative, positive.
- ``stars5``: 1-5 stars, one class per star count.
- ``stars3``: 1-5 stars grouped as bad (1-2), average (3), good (4-5).
- ``stars2``: 1-5 stars made binary, negative (1-2) and positive (4-5); 3 stars are dropped.
- ``names``: labels are class names, ordered as the ``classes`` argument lists them.

With a star scheme the rows also keep their stars, so a model of any classes can be measured in
stars (`metrics.star_metrics`).

Splits (`split_for_training`): rows of held-out groups (a whole source, the "unseen domain") go
to the test set; of the rest, a share is held out by label and group strata, or, with a company
column, by company (no company on both sides), then validation is taken the same way.
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

from brandpulse.model.checkpoint_info import DataRecord
from brandpulse.model.paths import file_sha256
from brandpulse.model.scoring import bands_of

logger = logging.getLogger(__name__)

BINARY_CLASSES = ("negative", "positive")
STARS3_CLASSES = ("bad", "average", "good")
STARS5_CLASSES = ("1 star", "2 stars", "3 stars", "4 stars", "5 stars")
STAR_SCHEMES = ("stars5", "stars3", "stars2")
LABEL_SCHEMES = ("binary", *STAR_SCHEMES, "names")


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
    companies: list[str] = field(default_factory=list)  # who was reviewed, per row ("" unknown)
    stars: np.ndarray | None = None  # 1-5 per row, when the labels are star ratings

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
            companies=[self.companies[i] for i in indices] if self.companies else [],
            stars=self.stars[indices] if self.stars is not None else None,
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

    @property
    def has_stars(self) -> bool:
        """Whether labels are 1-5 star ratings (kept per row beside the class)."""
        return self.name in STAR_SCHEMES

    def map(self, raw: str) -> int | None | str:
        """Class index, `None` for an invalid label, or "drop" for a valid label left out."""
        if self.name == "binary":
            return _map_binary(raw)
        if self.has_stars:
            stars = _parse_star(raw.strip())
            return None if stars is None else self.class_of_stars(stars)
        value = raw.strip()
        return self.classes.index(value) if value in self.classes else None

    def class_of_stars(self, stars: int) -> int | str:
        """The class of a 1-5 star rating under a star scheme, or "drop"."""
        if self.name == "stars5":
            return stars - 1
        if self.name == "stars3":
            return int(bands_of(stars))
        return "drop" if stars == 3 else (0 if stars <= 2 else 1)


def label_scheme(name: str, classes: Sequence[str] | None = None) -> LabelScheme:
    """The label scheme called `name` (see the module docstring)."""
    if name == "binary":
        return LabelScheme(name, BINARY_CLASSES)
    if name == "stars5":
        return LabelScheme(name, STARS5_CLASSES)
    if name == "stars3":
        return LabelScheme(name, STARS3_CLASSES)
    if name == "stars2":
        return LabelScheme(name, BINARY_CLASSES)
    if name == "names":
        if not classes or len(classes) < 2:
            raise ValueError("the 'names' label scheme needs at least two classes, most negative first")
        return LabelScheme(name, classes)
    raise ValueError(f"unknown label scheme {name!r}; choose one of {', '.join(LABEL_SCHEMES)}")


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
    company_column: str | None = None,
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
    companies: list[str] = []
    stars: list[int] = []
    dropped = 0
    try:
        for row_id, (line, row) in enumerate(_read_rows(path)):
            if max_rows is not None and len(texts) >= max_rows:
                break
            for column in (text_column, label_column, group_column, company_column):
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
            if company_column:
                companies.append(row[company_column].strip())
            if scheme.has_stars:
                stars.append(_parse_star(row[label_column].strip()))
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
        companies=companies,
        stars=np.asarray(stars, dtype=np.int64) if scheme.has_stars else None,
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


def _check_fraction(fraction: float) -> None:
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"split fraction must be in (0, 1), got {fraction}")


def stratified_split(strata: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Split row positions into (kept, held out), holding out `fraction` of every stratum.

    `strata` gives each row's stratum (its label, or label and source combined). Seeded and
    deterministic: the same strata, fraction and seed give the same split.
    """
    _check_fraction(fraction)
    rng = np.random.default_rng(seed)
    kept, held_out = [], []
    for stratum in np.unique(strata):
        members = rng.permutation(np.flatnonzero(strata == stratum))
        n_out = int(round(len(members) * fraction))
        held_out.append(members[:n_out])
        kept.append(members[n_out:])
    return np.sort(np.concatenate(kept)), np.sort(np.concatenate(held_out))


def grouped_split(
    units: Sequence[str], strata: Sequence[str], fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Split row positions into (kept, held out) so that no unit (company) is on both sides.

    Units are visited in a seeded random order; a unit is held out when, counting half of its
    rows, the held-out rows of its stratum (its rows' most common stratum, e.g. the source) stay
    within `fraction` of the stratum, so every source gives about its share, even a source of
    a few large companies. An empty unit name means "unknown": such rows are units of their own.
    """
    _check_fraction(fraction)
    keys = [unit or f"\0row {position}" for position, unit in enumerate(units)]
    members: dict[str, list[int]] = {}
    for position, key in enumerate(keys):
        members.setdefault(key, []).append(position)
    stratum_sizes = Counter(strata)
    quota = {stratum: fraction * size for stratum, size in stratum_sizes.items()}
    taken: Counter[str] = Counter()
    rng = np.random.default_rng(seed)
    held_out: list[int] = []
    ordered = sorted(members)
    for index in rng.permutation(len(ordered)):
        rows = members[ordered[index]]
        stratum = Counter(strata[i] for i in rows).most_common(1)[0][0]
        if taken[stratum] + len(rows) / 2 <= quota[stratum]:
            taken[stratum] += len(rows)
            held_out.extend(rows)
    held = np.zeros(len(keys), dtype=bool)
    held[held_out] = True
    return np.flatnonzero(~held), np.flatnonzero(held)


def strata_of(dataset: Dataset) -> np.ndarray:
    """Stratum per row: the label, combined with the group when the dataset has groups."""
    if not dataset.groups:
        return dataset.labels.copy()
    names = sorted(set(dataset.groups))
    lookup = {name: index for index, name in enumerate(names)}
    group_index = np.asarray([lookup[g] for g in dataset.groups], dtype=np.int64)
    return group_index * len(dataset.classes) + dataset.labels


# The settings that select and split a data file's rows, as `train` and `train-ngram` record
# them beside the data fingerprint: the same keys and values give the same rows. Keys added
# later have defaults, so a model recorded before them still rebuilds its rows.
SELECTION_KEYS = (
    "labels",
    "classes",
    "text_column",
    "label_column",
    "group_column",
    "company_column",
    "holdout_groups",
    "max_rows",
    "balance",
    "test_fraction",
    "split_seed",
    "val_fraction",
    "seed",
)
SELECTION_DEFAULTS: dict[str, object] = {"classes": None, "company_column": None, "holdout_groups": []}


def selection_of(recorded: Mapping[str, object]) -> dict[str, object]:
    """The SELECTION_KEYS of a recorded data selection, defaults filled in for keys added later.

    Raises:
        DataError: a key without a default is missing.
    """
    missing = [key for key in SELECTION_KEYS if key not in recorded and key not in SELECTION_DEFAULTS]
    if missing:
        raise DataError(f"the recorded data selection misses {missing}")
    return {key: recorded.get(key, SELECTION_DEFAULTS.get(key)) for key in SELECTION_KEYS}


def fingerprint(path: str | Path, **settings: object) -> str:
    """SHA-256 of the file's SHA-256 and the settings that select rows from it."""
    digest = hashlib.sha256(file_sha256(path).encode())
    digest.update(json.dumps(settings, sort_keys=True, default=str).encode())
    return digest.hexdigest()


def split_for_training(
    dataset: Dataset,
    *,
    test_fraction: float,
    split_seed: int,
    val_fraction: float,
    seed: int,
    holdout_groups: Sequence[str] = (),
) -> tuple[Dataset, Dataset, Dataset]:
    """(train, validation, test) rows.

    Rows whose group is in `holdout_groups` are all test rows (a domain never trained on). Of
    the rest, `test_fraction` is held out: by company when the dataset has companies (no
    company on both sides), else stratified by label and group. Validation is taken from what
    remains the same way. The test split depends only on the data and `split_seed`, so every
    model trained with the same split seed is tested on the same rows.
    """
    held_groups = set(holdout_groups)
    unknown = held_groups - set(dataset.groups)
    if unknown:
        raise ValueError(f"held-out groups {sorted(unknown)} do not occur in the data")
    in_domain = np.asarray([group not in held_groups for group in dataset.groups] or [True] * len(dataset))
    rest, unseen = dataset.subset(np.flatnonzero(in_domain)), dataset.subset(np.flatnonzero(~in_domain))
    test = dataset.subset([])
    if test_fraction:
        kept, held_out = _split(rest, test_fraction, split_seed)
        rest, test = rest.subset(kept), rest.subset(held_out)
    if len(unseen):
        test = concatenate(test, unseen)
    kept, held_out = _split(rest, val_fraction, seed)
    return rest.subset(kept), rest.subset(held_out), test


def _split(dataset: Dataset, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    if dataset.companies:
        return grouped_split(dataset.companies, dataset.groups or [""] * len(dataset), fraction, seed)
    return stratified_split(strata_of(dataset), fraction, seed)


def concatenate(first: Dataset, second: Dataset) -> Dataset:
    """The rows of `first`, then those of `second` (same classes)."""
    if first.classes != second.classes:
        raise ValueError(f"cannot join rows of classes {first.classes} and {second.classes}")
    stars = None
    if first.stars is not None and second.stars is not None:
        stars = np.concatenate([first.stars, second.stars])
    return Dataset(
        texts=first.texts + second.texts,
        labels=np.concatenate([first.labels, second.labels]),
        classes=first.classes,
        row_ids=np.concatenate([first.row_ids, second.row_ids]),
        groups=first.groups + second.groups,
        companies=first.companies + second.companies,
        stars=stars,
    )


def training_data(
    path: str | Path, selection: Mapping[str, object]
) -> tuple[Dataset, Dataset, Dataset, Dataset]:
    """All rows of `path` as `selection` (the SELECTION_KEYS) picks them, then (train, validation, test).

    `train`, `train-ngram` and `combine-models` all read their rows through here, so the same
    recorded selection always gives the same rows. DataError or ValueError for bad data or settings.
    """
    selection = selection_of(selection)
    dataset = load_dataset(
        path,
        text_column=selection["text_column"],
        label_column=selection["label_column"],
        scheme=label_scheme(selection["labels"], selection["classes"]),
        group_column=selection["group_column"],
        company_column=selection["company_column"],
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
        holdout_groups=selection["holdout_groups"] or (),
    )
    return dataset, train, validation, test


def data_record(path: str | Path, selection: Mapping[str, object]) -> DataRecord:
    """How a model's rows were chosen, as its file records them: file name, fingerprint, selection."""
    selection = selection_of(selection)
    return DataRecord(Path(path).name, file_sha256(path), fingerprint(path, **selection), selection=selection)


def select_rows(dataset: Dataset, row_ids: Sequence[int]) -> Dataset:
    """The rows whose `row_ids` are listed (e.g. a recorded held-out split)."""
    wanted = np.isin(dataset.row_ids, np.asarray(row_ids, dtype=np.int64))
    return dataset.subset(np.flatnonzero(wanted))


def split_record(path: str | Path, selection: Mapping[str, object], test: Dataset) -> dict[str, object]:
    """The held-out rows of a training run and how they were chosen, as a JSON-able record."""
    selection = selection_of(selection)
    if selection["company_column"]:
        method = (
            f"held out by {selection['company_column']!r} (no company on both sides): companies in "
            "numpy default_rng(seed).permutation order, each held out while its source's held-out "
            "share stays within fraction; rows without a company count as companies of their own"
        )
    else:
        method = (
            "stratified by label and group: numpy default_rng(seed).permutation of each stratum's "
            "row positions, the first round(fraction * size) held out"
        )
    return {
        "data_file": Path(path).name,
        "data_sha256": file_sha256(path),
        "method": method,
        "fraction": selection["test_fraction"],
        "seed": selection["split_seed"],
        "group_column": selection["group_column"],
        "company_column": selection["company_column"],
        "holdout_groups": list(selection["holdout_groups"] or []),
        "selection": selection,
        "test_row_ids": test.row_ids.tolist(),
    }
