"""The %%live and %%cloud cell magics, run in a real kernel the way a lesson uses them."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager

import nbformat
import pytest
from nbclient import NotebookClient

import rightsize.notebook as magics
from rightsize.notebook import MachineLoad, grading, has_key, machine_load, missing_keys

pytestmark = pytest.mark.slow

# The line every %%live cell ends with; the busy line comes first, only on a busy machine.
WALL_LINE = r"\[live: \d+\.\d s wall time; (load average \d+\.\d on )?\d+ cores? over the last minute\]\n"
BUSY_LINE = r"\[live: the machine is busy \(load average \d+\.\d on \d+ cores?\): timings taken now will be inflated\]\n"

CELLS = [
    # the threshold as the test wants it (set below), so the result does not hang on the machine's real load
    "%load_ext rightsize.notebook\nimport rightsize.notebook\nrightsize.notebook.BUSY_LOAD_PER_CORE = {threshold}",
    "%%live\nx = 20\nx + 1",
    "%%live\nprint('before')\n1 / 0",
    "%%cloud openai\nprint('called openai')",
    "print('still running', x if 'x' in dir() else 'no x')",
]


@contextmanager
def _env(**values: str | None) -> Iterator[None]:
    old = {k: os.environ.get(k) for k in values}
    for k, v in values.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _run(threshold: float = float("inf"), **env: str | None) -> list[list[dict]]:  # type: ignore[type-arg]
    """Run CELLS in a real kernel; ``threshold`` is BUSY_LOAD_PER_CORE there (inf: never busy, -1: always)."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source.format(threshold=f"float({str(threshold)!r})") if i == 0 else source)
                for i, source in enumerate(CELLS)]
    with _env(**env):
        NotebookClient(nb, timeout=60, allow_errors=True).execute()
    return [cell.outputs for cell in nb.cells]


def _text(outputs: list[dict]) -> str:  # type: ignore[type-arg]
    parts = []
    for o in outputs:
        if o["output_type"] == "stream":
            parts.append(o["text"])
        elif o["output_type"] == "execute_result":
            parts.append(o["data"]["text/plain"])
        elif o["output_type"] == "error":
            parts.append(f"ERROR {o['ename']}")
    return "".join(parts)


def test_live_cells_run_and_fail_like_ordinary_cells_cloud_cells_name_the_missing_key() -> None:
    out = _run(NBGRADER_EXECUTION=None, OPENAI_API_KEY=None)
    # a quiet machine: one line after the cell (wall time and load), then the cell's own value
    assert re.fullmatch(WALL_LINE + "21", _text(out[1])), _text(out[1])
    # a failing cell still reports its time, and fails once
    assert re.fullmatch("before\n" + WALL_LINE + "ERROR ZeroDivisionError", _text(out[2])), _text(out[2])
    assert "no OPENAI_API_KEY" in _text(out[3]) and "called openai" not in _text(out[3])
    assert "still running 20" in _text(out[4])


@pytest.mark.skipif(not hasattr(os, "getloadavg"), reason="the busy warning needs a load average (not on Windows)")
def test_on_a_busy_machine_a_live_cell_says_its_timings_will_be_inflated_before_it_runs() -> None:
    out = _run(threshold=-1.0, NBGRADER_EXECUTION=None, OPENAI_API_KEY=None)
    assert re.fullmatch(BUSY_LINE + WALL_LINE + "21", _text(out[1])), _text(out[1])
    assert re.fullmatch(BUSY_LINE + "before\n" + WALL_LINE + "ERROR ZeroDivisionError", _text(out[2])), _text(out[2])
    assert "busy" not in _text(out[3])  # %%cloud cells measure nothing locally: no load lines


def test_under_the_autograder_live_and_cloud_cells_are_skipped_with_a_note() -> None:
    out = _run(threshold=-1.0, NBGRADER_EXECUTION="autograde", OPENAI_API_KEY="sk-test-not-used")
    for index in (1, 2, 3):
        assert "skipped under the autograder" in _text(out[index])
        assert "[live:" not in _text(out[index])  # skipped cells measure nothing, so no load report
    assert "ERROR" not in "".join(_text(o) for o in out)
    assert "no x" in _text(out[4])


def test_the_plain_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "x")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    assert not grading() and has_key("anthropic") and not has_key("openai")
    assert missing_keys(["openai", "anthropic"]) == ["OPENAI_API_KEY"]
    with pytest.raises(ValueError, match="unknown cloud provider"):
        missing_keys(["gemini-native"])


def test_the_machine_load_reading(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(magics, "BUSY_LOAD_PER_CORE", 0.5)
    assert MachineLoad(1.1, 2).busy and not MachineLoad(1.0, 2).busy and not MachineLoad(None, 2).busy
    assert MachineLoad(3.14, 2).describe() == "load average 3.1 on 2 cores"
    assert MachineLoad(None, 1).describe() == "1 core"
    monkeypatch.setattr(os, "getloadavg", lambda: (7.25, 5.0, 1.0))
    reading = machine_load()
    assert reading.load_average == 7.25 and reading.cores >= 1
    monkeypatch.delattr(os, "getloadavg")  # as on Windows
    assert machine_load().load_average is None
