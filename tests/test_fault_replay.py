"""Recorded fault outcomes replay as the same errors, in order, and are never taken for model answers."""

from __future__ import annotations

from pathlib import Path

import pytest

import rightsize as rs
from rightsize.errors import RightsizeError
from rightsize.routing.fault_replay import (
    Outcome,
    ReplayedProvider,
    load_outcomes,
    save_outcomes,
    shipped_fault_outcomes,
)

OUTCOMES = [
    Outcome("p", "rate_limited", status=429, retry_after=12.5, message="slow down"),
    Outcome("p", "overloaded", status=529, retry_after=None),
    Outcome("p", "ok", text="OK", input_tokens=9, output_tokens=1),
    Outcome("q", "ok", text="other"),
]


def test_outcomes_replay_in_order_as_the_same_errors() -> None:
    provider = ReplayedProvider("p", OUTCOMES)
    with pytest.raises(rs.RateLimitedError) as first:
        provider.complete("x")
    assert first.value.retry_after == 12.5 and first.value.status == 429
    with pytest.raises(rs.OverloadedError) as second:
        provider.complete("x")
    assert second.value.status == 529
    answer = provider.complete("x")
    assert answer.text == "OK" and answer.usage.output_tokens == 1
    with pytest.raises(RightsizeError, match="all 3 recorded outcomes were used"):
        provider.complete("x")


def test_a_file_round_trips_and_the_shipped_recording_has_the_faults_lesson_09_needs(tmp_path: Path) -> None:
    path = save_outcomes(OUTCOMES, tmp_path / "f.jsonl", note="test")
    header, back = load_outcomes(path)
    assert header["note"] == "test" and back == OUTCOMES
    header, shipped = load_outcomes(shipped_fault_outcomes())
    assert "injected faults" in header["note"]
    kinds = {(o.provider, o.kind) for o in shipped}
    assert {("primary", "ok"), ("primary", "rate_limited"), ("secondary", "ok"), ("secondary", "overloaded")} <= kinds
    assert any(o.kind == "rate_limited" and (o.retry_after or 0) > 10 for o in shipped)


def test_replayed_answers_are_never_recorded_as_model_answers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RIGHTSIZE_RESPONSES", "record")
    monkeypatch.setenv("RIGHTSIZE_RESPONSES_DIR", str(tmp_path))
    ReplayedProvider("q", OUTCOMES).complete("x")
    assert not list(tmp_path.glob("*.jsonl"))
