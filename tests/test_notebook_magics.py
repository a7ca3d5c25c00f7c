"""The %%live and %%cloud cell magics, run in a real kernel the way a lesson uses them."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import nbformat
import pytest
from nbclient import NotebookClient

from rightsize.notebook import grading, has_key, missing_keys

pytestmark = pytest.mark.slow

CELLS = [
    "%load_ext rightsize.notebook",
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


def _run(**env: str | None) -> list[list[dict]]:  # type: ignore[type-arg]
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in CELLS]
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
    assert _text(out[1]) == "21"
    assert _text(out[2]) == "before\nERROR ZeroDivisionError"  # one error, not two
    assert "no OPENAI_API_KEY" in _text(out[3]) and "called openai" not in _text(out[3])
    assert "still running 20" in _text(out[4])


def test_under_the_autograder_live_and_cloud_cells_are_skipped_with_a_note() -> None:
    out = _run(NBGRADER_EXECUTION="autograde", OPENAI_API_KEY="sk-test-not-used")
    for index in (1, 2, 3):
        assert "skipped under the autograder" in _text(out[index])
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
