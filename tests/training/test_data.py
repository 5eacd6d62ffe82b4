"""Reading labelled files: label schemes, balancing, splits and clear errors for bad files."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from brandpulse.training.data import (
    SELECTION_DEFAULTS,
    SELECTION_KEYS,
    STARS5_CLASSES,
    DataError,
    balance,
    data_record,
    grouped_split,
    label_scheme,
    load_dataset,
    select_rows,
    selection_of,
    split_for_training,
    split_record,
    stratified_split,
    training_data,
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


def test_five_star_classes_keep_the_stars(tmp_path):
    data = load_dataset(
        write(tmp_path, "s.csv", "text,stars\na,1\nb,3\nc,5\n"),
        label_column="stars",
        scheme=label_scheme("stars5"),
    )
    assert data.classes == STARS5_CLASSES and data.labels.tolist() == [0, 2, 4]
    assert data.stars.tolist() == [1, 3, 5]
    grouped = load_dataset(
        write(tmp_path, "g.csv", "text,stars\na,1\nb,3\nc,5\n"),
        label_column="stars",
        scheme=label_scheme("stars3"),
    )
    assert grouped.labels.tolist() == [0, 1, 2] and grouped.stars.tolist() == [1, 3, 5]


def companies_csv(tmp_path, companies: int = 40, rows_each: int = 5):
    lines = ["text,stars,source,company"]
    for c in range(companies):
        source = "shops" if c % 2 else "apps"
        for r in range(rows_each):
            lines.append(f"review {c}-{r},{1 + (c + r) % 5},{source},company {c}")
    lines += [f"no company {i},{1 + i % 5},shops," for i in range(20)]  # unknown companies
    return write(tmp_path, "companies.csv", "\n".join(lines) + "\n")


def companies_dataset(tmp_path):
    return load_dataset(
        companies_csv(tmp_path),
        label_column="stars",
        scheme=label_scheme("stars5"),
        group_column="source",
        company_column="company",
    )


def test_company_split_puts_no_company_on_both_sides(tmp_path):
    data = companies_dataset(tmp_path)
    train, val, test = split_for_training(data, test_fraction=0.2, split_seed=3, val_fraction=0.1, seed=4)
    named = [set(c for c in part.companies if c) for part in (train, val, test)]
    assert named[0].isdisjoint(named[2]) and named[0].isdisjoint(named[1]) and named[1].isdisjoint(named[2])
    assert len(train) + len(val) + len(test) == len(data)
    # Every source gives about its share of held-out rows (each company has 5 rows).
    for source in ("shops", "apps"):
        share = test.groups.count(source) / data.groups.count(source)
        assert 0.1 <= share <= 0.3, (source, share)
    again = split_for_training(data, test_fraction=0.2, split_seed=3, val_fraction=0.1, seed=9)[2]
    assert again.row_ids.tolist() == test.row_ids.tolist()  # seeded, and independent of validation


def test_grouped_split_treats_unknown_companies_as_their_own():
    kept, held = grouped_split(["", "", "", "", "a", "a"], ["s"] * 6, 0.5, seed=0)
    assert len(kept) + len(held) == 6 and set(kept).isdisjoint(held)
    assert {4, 5} <= set(kept) or {4, 5} <= set(held)


def test_held_out_groups_are_all_test_rows(tmp_path):
    data = companies_dataset(tmp_path)
    train, val, test = split_for_training(
        data, test_fraction=0.2, split_seed=3, val_fraction=0.1, seed=4, holdout_groups=["apps"]
    )
    assert "apps" not in train.groups and "apps" not in val.groups
    assert test.groups.count("apps") == data.groups.count("apps")
    with pytest.raises(ValueError, match="do not occur"):
        split_for_training(
            data, test_fraction=0.2, split_seed=3, val_fraction=0.1, seed=4, holdout_groups=["x"]
        )


def test_split_record_names_the_file_by_its_sha256(tmp_path):
    path = companies_csv(tmp_path)
    selection = {
        "labels": "stars5",
        "text_column": "text",
        "label_column": "stars",
        "group_column": "source",
        "company_column": "company",
        "holdout_groups": ["apps"],
        "max_rows": None,
        "balance": False,
        "test_fraction": 0.2,
        "split_seed": 3,
        "val_fraction": 0.1,
        "seed": 4,
    }
    _, _, _, test = training_data(path, selection)
    record = split_record(path, selection, test)
    assert record["data_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert record["holdout_groups"] == ["apps"] and "by 'company'" in record["method"]
    assert record["test_row_ids"] == test.row_ids.tolist()
    assert data_record(path, selection).sha256 == record["data_sha256"]


def test_recorded_selections_from_before_new_keys_still_read():
    old = {key: None for key in SELECTION_KEYS if key not in SELECTION_DEFAULTS}
    assert selection_of(old)["holdout_groups"] == [] and selection_of(old)["company_column"] is None
    with pytest.raises(DataError, match="misses"):
        selection_of({"labels": "binary"})
