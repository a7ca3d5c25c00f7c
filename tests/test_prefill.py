"""The prompt-cache experiment of lesson 02: the shipped run and a fresh one on the local model."""

from __future__ import annotations

import numpy as np
import pytest

from rightsize import recordfile
from rightsize.errors import RightsizeError
from rightsize.profiling import prefill
from rightsize.providers import connect


def _slope(table, series: str) -> float:
    rows = table[table["series"] == series]
    return float(np.polyfit(rows["input_tokens"], rows["ttft_ms"], 1)[0])


def test_the_shipped_run_shows_what_a_shared_prefix_hides() -> None:
    head, table = prefill.read(prefill.shipped_path())
    assert head["model"] == "smollm2-135m-instruct" and head["machine"]["cores"] >= 1
    assert list(table["series"].unique()) == list(prefill.SERIES)
    for series in prefill.SERIES:
        rows = table[table["series"] == series]
        assert list(rows["repeats"]) == list(prefill.REPEATS) and (rows["runs"] >= 3).all()
        assert rows["input_tokens"].is_monotonic_increasing
    unique, shared = _slope(table, "unique"), _slope(table, "shared")
    assert 0 < shared < unique * 0.75  # the flawed design hides a large share of the real per-token cost
    longest = table[table["repeats"] == max(prefill.REPEATS)].set_index("series")["ttft_ms"]
    assert longest["repeated"] < longest["shared"] < longest["unique"]


def test_a_fresh_run_on_the_local_model_gives_every_row(tmp_path) -> None:
    local_provider = connect("local")
    rows = prefill.measure(local_provider, repeats=(1, 16), runs=1, max_tokens=1)
    assert [(r["series"], r["repeats"]) for r in rows] == [
        ("unique", 1), ("unique", 16), ("shared", 1), ("repeated", 1), ("shared", 16), ("repeated", 16)]
    by = {(r["series"], r["repeats"]): r for r in rows}
    assert by["unique", 16]["input_tokens"] > by["shared", 16]["input_tokens"] > by["shared", 1]["input_tokens"]
    assert by["repeated", 16]["ttft_ms"] < by["unique", 16]["ttft_ms"]  # the whole prompt came from the cache
    path = prefill.write(tmp_path / "run.jsonl", rows, local_provider)
    head, table = prefill.read(path)
    assert head["experiment"] == "prefill-cache" and len(table) == 6 and set(table["runs"]) == {1}


def test_a_file_without_the_experiment_says_how_to_make_one(tmp_path) -> None:
    path = recordfile.write(tmp_path / "other.jsonl", recordfile.header("experiment", experiment="other"), [])
    with pytest.raises(RightsizeError, match="python -m rightsize.profiling.prefill"):
        prefill.read(path)
    with pytest.raises(RightsizeError, match="at least one run"):
        prefill.measure(None, runs=0)  # type: ignore[arg-type]
