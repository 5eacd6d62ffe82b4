"""`CheckpointInfo`: the info header read and written in one place, with one fingerprint rule."""

from __future__ import annotations

import json

import pytest
from safetensors import safe_open

from brandpulse.model.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from brandpulse.model.checkpoint_info import CheckpointInfo, DataRecord
from tests.model.test_pooling import rewritten

DATA = {"file": "reviews.csv", "sha256": "ab" * 32, "fingerprint": "cd" * 32, "labels": "stars5", "seed": 13}


def test_the_bundled_info_reads_and_writes_back_as_it_is(bundled_checkpoint):
    with safe_open(str(bundled_checkpoint), framework="pt") as handle:
        raw = json.loads(handle.metadata()["info"])
    info = CheckpointInfo.from_dict(raw)
    assert info.architecture == "small-bn+ngram" and info.data is not None
    assert info.data.labels == "stars5" and info.data.holdout_groups == ["google_play_apps"]
    assert info.corpus_fingerprint == info.data_fingerprint == raw["data"]["fingerprint"]
    assert info.to_dict() == {key: value for key, value in raw.items() if value is not None}


def test_the_corpus_fingerprint_is_the_base_one_once_retrained():
    trained = CheckpointInfo.from_dict({"architecture": "small-bn", "data": DATA})
    assert trained.corpus_fingerprint == trained.data_fingerprint == "cd" * 32
    retrained = CheckpointInfo.from_dict(
        {"data": {**DATA, "fingerprint": "ef" * 32, "base_fingerprint": "cd" * 32}, "parent": "v1"}
    )
    assert retrained.corpus_fingerprint == "cd" * 32 and retrained.data_fingerprint == "ef" * 32
    assert retrained.data.selection == {"labels": "stars5", "seed": 13}
    assert CheckpointInfo.from_dict(retrained.to_dict()) == retrained
    assert CheckpointInfo().corpus_fingerprint is None and CheckpointInfo.from_dict(None) == CheckpointInfo()


def test_unknown_keys_are_kept_and_a_plain_mapping_is_read_the_same_way(tmp_path, tiny_model):
    written = {"architecture": "tiny", "data": DATA, "notes": {"by": "a plug-in"}}
    path = save_checkpoint(tmp_path / "m.safetensors", tiny_model, classes=("a", "b", "c"), info=written)
    loaded = load_checkpoint(path).info
    assert loaded.extra == {"notes": {"by": "a plug-in"}} and loaded.to_dict() == written
    assert loaded.data == DataRecord.from_dict(DATA)


@pytest.mark.parametrize(
    "info", [[1, 2], {"data": "reviews.csv"}, {"architecture": 5}, {"train": [1]}], ids=str
)
def test_an_info_header_of_the_wrong_shape_is_a_checkpoint_error(tmp_path, tiny_checkpoint, info):
    bad = rewritten(tiny_checkpoint, tmp_path / "bad.safetensors", info=json.dumps(info))
    with pytest.raises(CheckpointError, match="metadata is incomplete or corrupt"):
        load_checkpoint(bad)
