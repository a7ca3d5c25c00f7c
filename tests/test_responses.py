"""Recorded answers: record a real run, replay it by request key, miss falls back to the model."""

from __future__ import annotations

import pytest

import rightsize as rs
from rightsize import responses

pytestmark = pytest.mark.slow
ASK = [{"role": "user", "content": "Name a primary colour."}]


@pytest.fixture
def folder(tmp_path, monkeypatch):
    monkeypatch.setenv("RIGHTSIZE_RESPONSES_DIR", str(tmp_path))
    responses._stores.clear()
    yield tmp_path
    responses._stores.clear()


def test_record_then_replay_same_request(folder, monkeypatch) -> None:
    monkeypatch.setenv("RIGHTSIZE_RESPONSES", "record")
    live = rs.connect("local").complete(ASK, max_tokens=12)
    assert not live.replayed and (folder / "responses.jsonl").exists()

    monkeypatch.setenv("RIGHTSIZE_RESPONSES", "replay")
    responses._stores.clear()
    again = rs.connect("local").complete(ASK, max_tokens=12)
    assert again.replayed and again.text == live.text and again.usage == live.usage
    offsets = [c.arrived - again.sent for c in again.chunks]
    assert offsets == pytest.approx([c.arrived - live.sent for c in live.chunks], abs=1e-5)
    assert again.time_to_first_token == pytest.approx(live.time_to_first_token, abs=1e-5)

    other = rs.connect("local").complete(ASK, max_tokens=5)  # different options: a miss
    assert not other.replayed
    store = responses.active_store()
    assert (store.hits, store.misses) == (1, 1)


def test_nbgrader_execution_turns_replay_on(folder, monkeypatch) -> None:
    monkeypatch.delenv("RIGHTSIZE_RESPONSES", raising=False)
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    assert responses.active_store().mode == "replay"
    monkeypatch.delenv("NBGRADER_EXECUTION")
    responses._stores.clear()
    assert responses.active_store() is None


def test_unknown_mode_is_a_clear_error(folder, monkeypatch) -> None:
    monkeypatch.setenv("RIGHTSIZE_RESPONSES", "sometimes")
    with pytest.raises(ValueError, match="record, replay or off"):
        responses.active_store()
