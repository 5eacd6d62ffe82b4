"""Reading labelled files: label schemes, balancing, splits and clear errors for bad files."""

from __future__ import annotations

import numpy as np
import pytest

from brandpulse.training.data import (
    DataError,
    balance,
    label_scheme,
    load_dataset,
    select_rows,
    split_for_training,
    stratified_split,
)


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_binary_csv(tmp_path):
    path = write(tmp_path, "a.csv", 'text,label\n"good, really",1\nbad,0\n"multi\nline",1\n')
    data = load_dataset(path)
    assert data.texts == ["good, really", "bad", "multi\nline"]
    assert data.labels.tolist() == [1, 0, 1]
    assert data.classes == ("negative", "positive")
    assert data.row_ids.tolist() == [0, 1, 2]


def test_stars_grouped_into_bad_average_good(tmp_path):
    path = write(tmp_path, "s.csv", "review,stars\na,1\nb,2\nc,3\nd,4\ne,5\n")
    data = load_dataset(path, text_column="review", label_column="stars", scheme=label_scheme("stars3"))
    assert data.classes == ("bad", "average", "good")
    assert data.labels.tolist() == [0, 0, 1, 2, 2]


def test_stars_made_binary_drop_three(tmp_path):
    path = write(tmp_path, "s.csv", "text,label\na,1\nb,3\nc,5\nd,4.0\n")
    data = load_dataset(path, scheme=label_scheme("stars2"))
    assert data.texts == ["a", "c", "d"]
    assert data.labels.tolist() == [0, 1, 1]
    assert data.row_ids.tolist() == [0, 2, 3]  # ids are file rows, dropped ones included


def test_class_names(tmp_path):
    path = write(tmp_path, "n.jsonl", '{"text": "x", "label": "meh"}\n\n{"text": "y", "label": "wow"}\n')
    data = load_dataset(path, scheme=label_scheme("names", ["ugh", "meh", "wow"]))
    assert data.labels.tolist() == [1, 2]


def test_group_column_and_max_rows(tmp_path):
    path = write(tmp_path, "g.csv", "text,label,source\na,0,x\nb,1,y\nc,1,x\n")
    data = load_dataset(path, group_column="source", max_rows=2)
    assert data.groups == ["x", "y"]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("missing.csv", None, "no such file"),
        ("empty.csv", "", "empty"),
        ("header.csv", "text,label\n", "no labelled rows"),
        ("nocol.csv", "body,label\nhi,1\n", "line 2: no column 'text'"),
        ("badstar.csv", "text,label\nok,1\nhm,six\n", "line 3: column 'label': cannot read label 'six'"),
        ("badjson.jsonl", '{"text": "a", "label": 1}\n{oops\n', "line 2: not valid JSON"),
        ("list.jsonl", "[1, 2]\n", "line 1: expected a JSON object"),
    ],
)
def test_bad_files_name_file_line_and_column(tmp_path, name, content, message):
    path = tmp_path / name if content is None else write(tmp_path, name, content)
    scheme = label_scheme("stars3") if name == "badstar.csv" else label_scheme("binary")
    with pytest.raises(DataError, match=message) as caught:
        load_dataset(path, scheme=scheme)
    assert name in str(caught.value)


@pytest.mark.parametrize("value", ["0", "6", "2.5", "nan", "inf", ""])
def test_out_of_range_stars_are_errors(tmp_path, value):
    path = write(tmp_path, "s.csv", f"text,label\nx,{value}\n")
    with pytest.raises(DataError, match="line 2"):
        load_dataset(path, scheme=label_scheme("stars3"))


def test_non_utf8_file(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes("text,label\ncaf\xe9,1\n".encode("latin-1"))
    with pytest.raises(DataError, match="not UTF-8"):
        load_dataset(path)


def test_balance_downsamples_to_the_smallest_class(tmp_path):
    rows = "".join(f"t{i},{int(i < 8)}\n" for i in range(10))
    data = balance(load_dataset(write(tmp_path, "b.csv", "text,label\n" + rows)), seed=0)
    assert data.class_counts() == {"negative": 2, "positive": 2}
    assert balance(data, seed=0).texts == data.texts  # deterministic


def test_stratified_split_is_seeded_and_stratified():
    strata = np.array([0] * 80 + [1] * 20)
    kept, held = stratified_split(strata, 0.2, seed=5)
    assert len(held) == 20 and (strata[held] == 1).sum() == 4
    assert set(kept).isdisjoint(held) and len(kept) + len(held) == 100
    again_kept, again_held = stratified_split(strata, 0.2, seed=5)
    assert again_held.tolist() == held.tolist()
    assert stratified_split(strata, 0.2, seed=6)[1].tolist() != held.tolist()


def test_split_for_training_and_select_rows(tmp_path):
    rows = "".join(f"t{i},{i % 2},{'ab'[i % 3 == 0]}\n" for i in range(200))
    data = load_dataset(write(tmp_path, "d.csv", "text,label,source\n" + rows), group_column="source")
    train, val, test = split_for_training(data, test_fraction=0.2, split_seed=1, val_fraction=0.1, seed=2)
    assert len(train) + len(val) + len(test) == 200
    assert len(test) == 40
    assert set(train.row_ids).isdisjoint(test.row_ids) and set(val.row_ids).isdisjoint(test.row_ids)
    assert select_rows(data, test.row_ids).texts == test.texts
    # The test split does not depend on the validation seed.
    other = split_for_training(data, test_fraction=0.2, split_seed=1, val_fraction=0.3, seed=9)[2]
    assert other.row_ids.tolist() == test.row_ids.tolist()
