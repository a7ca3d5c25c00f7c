"""The Messages-adapter contract: the reference passes every check, and each check catches its mistake."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from rightsize.providers.contract import (
    reference_build_request,
    reference_parse_response,
    run_contract,
)


def test_the_reference_adapter_core_passes_every_check() -> None:
    results = run_contract(reference_build_request, reference_parse_response)
    assert len(results) == 8
    assert [r.check for r in results if not r.passed] == []


def _openai_style_usage(status: int, body: dict[str, Any]) -> dict[str, Any]:
    got = reference_parse_response(status, body)
    usage = body.get("usage") or {}
    return {**got, "input_tokens": usage.get("prompt_tokens", 0)}


def _system_in_messages(messages: list[dict[str, str]], max_tokens: int | None,
                        temperature: float | None = None) -> dict[str, Any]:
    return {"max_tokens": max_tokens, "messages": list(messages)}


def _raises_everything(status: int, body: dict[str, Any]) -> dict[str, Any]:
    raise RuntimeError("boom")


@pytest.mark.parametrize(("build", "parse", "failing"), [
    (reference_build_request, _openai_style_usage, {"usage fields"}),
    (_system_in_messages, reference_parse_response,
     {"system is top level", "max tokens required", "temperature only when given"}),
    (reference_build_request, _raises_everything, {"text blocks joined", "usage fields", "finish mapped", "errors mapped"}),
])
def test_each_mistake_fails_its_own_checks(build: Any, parse: Any, failing: set[str]) -> None:
    results = {r.check: r for r in run_contract(build, parse)}
    assert {name for name, r in results.items() if not r.passed} == failing
    assert all(results[name].detail for name in failing)


@pytest.mark.slow
def test_the_reference_reads_the_lab_servers_real_messages_answers(lab_server: str) -> None:
    body = reference_build_request([{"role": "system", "content": "Answer briefly."},
                                    {"role": "user", "content": "Say OK."}], max_tokens=5, temperature=0.0)
    reply = httpx.post(lab_server + "/v1/messages", json={"model": "smollm2-135m-instruct", **body},
                       headers={"x-api-key": "contract", "anthropic-version": "2023-06-01"}, timeout=60)
    got = reference_parse_response(reply.status_code, reply.json())
    assert got["text"] and got["output_tokens"] >= 1 and got["finish"] in ("complete", "truncated")
    missing = httpx.post(lab_server + "/v1/messages", json={"model": "smollm2-135m-instruct",
                                                            "messages": [{"role": "user", "content": "x"}]},
                         headers={"x-api-key": "contract"}, timeout=60)
    with pytest.raises(Exception) as err:
        reference_parse_response(missing.status_code, missing.json())
    assert type(err.value).__name__ == "BadRequestError" and missing.status_code == 400
