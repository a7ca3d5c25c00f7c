"""Prompt files: a broken one names each problem with its line, through the course's YAML loader."""

from __future__ import annotations

from pathlib import Path

import pytest

from rightsize.prompting import (
    Prompt,
    PromptError,
    PromptFileError,
    _load_task,
    get_prompt,
)
from rightsize.yamlconfig import ConfigError

_GOOD = """\
task: demo
versions:
  - version: 1
    changes: First version.
    variants:
      - provider: default
        style: plain
        system: "Answer briefly."
        user: "{text}"
"""


def _load(tmp_path: Path, text: str) -> dict[int, list[Prompt]]:
    (tmp_path / "demo.yaml").write_text(text)
    return _load_task("demo", str(tmp_path))


def _problems(tmp_path: Path, text: str) -> list[tuple[int | None, str, str]]:
    with pytest.raises(PromptFileError) as info:
        _load(tmp_path, text)
    assert isinstance(info.value, PromptError) and isinstance(info.value, ConfigError)
    return [(p.line, p.path, p.message) for p in info.value.problems]


def test_a_good_file_gives_its_prompts(tmp_path: Path) -> None:
    [prompt] = _load(tmp_path, _GOOD)[1]
    assert (prompt.id, prompt.system, prompt.user, prompt.notes) == ("demo/v1/default/plain", "Answer briefly.",
                                                                     "{text}", "First version.")
    assert prompt.example_separator == "\n\n" and prompt.examples == ()


def test_a_misspelled_key_gets_did_you_mean_and_its_line(tmp_path: Path) -> None:
    problems = _problems(tmp_path, _GOOD.replace("        system:", "        sytem:"))
    assert problems == [(8, "versions[0].variants[0].sytem", "unknown key (did you mean 'system'?)")]


def test_a_variant_without_user_names_the_variant_and_its_line(tmp_path: Path) -> None:
    problems = _problems(tmp_path, _GOOD.replace('        user: "{text}"\n', ""))
    assert problems == [(6, "versions[0].variants[0]", "missing key 'user'")]


def test_every_problem_is_listed(tmp_path: Path) -> None:
    text = _GOOD.replace("version: 1", "version: one").replace("        style: plain\n", "        stile: plain\n")
    problems = _problems(tmp_path, text)
    assert [(line, path) for line, path, _ in problems] == [(3, "versions[0].version"),
                                                           (7, "versions[0].variants[0].stile")]
    assert "did you mean 'style'?" in problems[1][2]


def test_a_repeated_version_and_a_wrong_task_name_are_problems_with_lines(tmp_path: Path) -> None:
    second = _GOOD.split("versions:\n", 1)[1]
    problems = _problems(tmp_path, _GOOD.replace("task: demo", "task: other") + second)
    assert [(line, path) for line, path, _ in problems] == [(1, "task"), (10, "versions[1].version")]
    assert "write task: demo" in problems[0][2]
    assert "version 1 appears twice (first on line 3)" in problems[1][2]


def test_a_duplicate_key_is_a_problem(tmp_path: Path) -> None:
    problems = _problems(tmp_path, _GOOD + '        user: "again {text}"\n')
    assert problems == [(10, "versions[0].variants[0].user", "duplicate key (first given on line 9); keep one")]


def test_an_unknown_task_is_still_a_prompt_error() -> None:
    with pytest.raises(PromptError, match="no prompts for the task 'nope'; known tasks: .*triage"):
        get_prompt("nope")
