"""The golden datasets load, validate their labels and schemas, and fail clearly on bad input."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest
import yaml

from rightsize.datasets import (
    DatasetError,
    check_answer,
    data_path,
    extraction_schema,
    load_extraction,
    load_routing,
    load_triage,
    triage_labels,
)

LABELS = ["billing", "technical", "account", "shipping", "refund", "feedback"]


# -- triage ----------------------------------------------------------------------------------------


def test_triage_labels_come_from_labels_yaml_in_order() -> None:
    assert triage_labels() == LABELS


def test_triage_splits_match_the_sizes_labels_yaml_declares() -> None:
    declared = yaml.safe_load(data_path("triage", "labels.yaml").read_text())["splits"]
    for split, size in declared.items():
        data = load_triage(split)
        assert len(data) == size and data.split == split
        assert {item.category for item in data} == set(LABELS)  # every split has every label
    everything = load_triage()
    assert len(everything) == sum(declared.values()) and len(set(everything.ids)) == len(everything)


def test_items_are_frozen_and_the_hash_is_stable() -> None:
    item = load_triage("dev")[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        item.category = "billing"  # type: ignore[misc]
    assert load_triage("dev").content_hash == load_triage("test").content_hash  # one file, one hash
    assert load_triage("test").key.startswith("triage:test@")


def _copy_triage(tmp_path: Path, edit: callable) -> Path:  # type: ignore[valid-type]
    folder = tmp_path / "triage"
    folder.mkdir()
    shutil.copy(data_path("triage", "labels.yaml"), folder / "labels.yaml")
    rows = [json.loads(line) for line in data_path("triage", "tickets.jsonl").read_text().splitlines() if line.strip()]
    rows = edit(rows)
    (folder / "tickets.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return folder / "tickets.jsonl"


def test_content_hash_changes_when_the_data_changes(tmp_path: Path) -> None:
    def edit(rows: list[dict]) -> list[dict]:
        rows[0]["text"] += " (edited)"
        return rows

    path = _copy_triage(tmp_path, edit)
    assert load_triage(path=path).content_hash != load_triage().content_hash


def test_unknown_label_names_the_item_and_the_file(tmp_path: Path) -> None:
    def edit(rows: list[dict]) -> list[dict]:
        rows[5]["category"] = "complaints"
        return rows

    path = _copy_triage(tmp_path, edit)
    bad_id = json.loads(path.read_text().splitlines()[5])["id"]
    with pytest.raises(DatasetError, match=rf"tickets.jsonl, item '{bad_id}': unknown category 'complaints'"):
        load_triage(path=path)


def test_duplicate_ids_and_bad_splits_are_errors(tmp_path: Path) -> None:
    dup = _copy_triage(tmp_path, lambda rows: rows + [rows[0]])
    with pytest.raises(DatasetError, match="appears twice"):
        load_triage(path=dup)
    with pytest.raises(DatasetError, match="unknown split 'validation'"):
        load_triage("validation")


def test_empty_dataset_is_a_clear_error(tmp_path: Path) -> None:
    path = _copy_triage(tmp_path, lambda rows: [])
    with pytest.raises(DatasetError, match="holds no items"):
        load_triage(path=path)
    with pytest.raises(DatasetError, match="not found"):
        load_triage(path=tmp_path / "nowhere.jsonl")


def test_missing_field_and_broken_json_name_the_line(tmp_path: Path) -> None:
    def edit(rows: list[dict]) -> list[dict]:
        del rows[2]["text"]
        return rows

    with pytest.raises(DatasetError, match="the field 'text' is missing"):
        load_triage(path=_copy_triage(tmp_path, edit))
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"id": "t1"}\n{not json\n')
    with pytest.raises(DatasetError, match="line 2: not valid JSON"):
        load_routing(path=broken)


# -- extraction ------------------------------------------------------------------------------------


def test_extraction_loads_and_every_expected_object_is_schema_valid() -> None:
    data = load_extraction()
    assert len(data) == 114 and len(load_extraction("dev")) == 30 and len(load_extraction("test")) == 84
    assert set(extraction_schema()["required"]) == set(data[0].expected)
    with pytest.raises(TypeError, match="read-only"):
        data[0].expected["quantity"] = 99  # type: ignore[index]


def test_extraction_schema_mismatch_is_a_clear_error(tmp_path: Path) -> None:
    rows = [json.loads(line) for line in data_path("extraction", "orders.jsonl").read_text().splitlines()]
    rows[3]["expected"]["quantity"] = "four"
    path = tmp_path / "orders.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    shutil.copy(data_path("extraction", "schema.json"), tmp_path / "schema.json")
    with pytest.raises(DatasetError, match=r"item 'x004': the expected object does not match schema.json: quantity"):
        load_extraction(path=path)


# -- routing and its checks --------------------------------------------------------------------------


def test_routing_loads_and_every_reference_passes_its_own_check() -> None:
    data = load_routing()
    assert len(data) == 90 and len(load_routing("test")) == 60
    for item in data:
        assert check_answer(item.check, item.reference), item.id
        assert not check_answer(item.check, "I don't know."), item.id


@pytest.mark.parametrize(("check", "text", "expected"), [
    ({"type": "contains", "any": ["Paris"]}, "The capital is paris.", True),
    ({"type": "contains", "any": ["Paris"]}, "Lyon", False),
    ({"type": "contains_all", "all": ["Japan", "Tokyo"]}, "tokyo is in JAPAN", True),
    ({"type": "contains_all", "all": ["Japan", "Tokyo"]}, "Japan, Kyoto", False),
    ({"type": "number", "value": 1234, "tolerance": 0}, "It is 1,234 units.", True),
    ({"type": "number", "value": 12, "tolerance": 0}, "120", False),
    ({"type": "number", "value": 2.5, "tolerance": 0.1}, "about 2.45", True),
    ({"type": "number", "value": -3, "tolerance": 0}, "minus: -3", True),
    ({"type": "regex", "pattern": r"ANSWER:\s*48\b"}, "so... answer: 48", True),
    ({"type": "regex", "pattern": r"(?-i:\bLANTERN\b)"}, "lantern", False),
    ({"type": "choice", "value": "B", "options": ["A", "B", "C", "D"]}, "I think it is a trick: B.", True),
    ({"type": "choice", "value": "B", "options": ["A", "B", "C", "D"]}, "C, or maybe B", False),
    ({"type": "choice", "value": "B", "options": ["A", "B", "C", "D"]}, "no letter here", False),
])
def test_check_answer_semantics(check: dict, text: str, expected: bool) -> None:
    assert check_answer(check, text) is expected


def test_unknown_check_type_is_an_error() -> None:
    with pytest.raises(DatasetError, match="unknown check type 'fuzzy'"):
        check_answer({"type": "fuzzy"}, "x")
    with pytest.raises(DatasetError, match="needs the key 'pattern'"):
        check_answer({"type": "regex"}, "x")
