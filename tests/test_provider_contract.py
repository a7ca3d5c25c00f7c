"""The Messages-adapter contract: the reference passes every check, and each check catches its mistake."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import anthropic
import httpx
import httpx2
import openai
import pytest

from rightsize import connect
from rightsize.providers.base import Provider
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


# -- what each adapter sends, by the model's registry entry ------------------------------------------
# The adapters' SDK clients are given an HTTP transport that records each request body and answers
# with a canned reply, so these tests see the exact JSON the SDK would send, with no network.



def _chat_reply(usage: dict[str, Any]) -> dict[str, Any]:
    return {"id": "c1", "object": "chat.completion", "created": 0, "model": "m",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "billing"},
                         "finish_reason": "stop", "logprobs": None}], "usage": usage}


def _chat_stream(usage: dict[str, Any]) -> bytes:
    def chunk(choices: list[Any], usage: Any = None) -> str:
        body = {"id": "c1", "object": "chat.completion.chunk", "created": 0, "model": "m", "choices": choices,
                "usage": usage}
        return "data: " + json.dumps(body) + "\n\n"

    return (chunk([{"index": 0, "delta": {"role": "assistant", "content": "bill"}, "finish_reason": None}])
            + chunk([{"index": 0, "delta": {"content": "ing"}, "finish_reason": "stop"}])
            + chunk([], usage) + "data: [DONE]\n\n").encode()


_MESSAGE_REPLY = {"id": "msg_1", "type": "message", "role": "assistant", "model": "m",
                  "content": [{"type": "text", "text": "billing"}], "stop_reason": "end_turn",
                  "stop_sequence": None, "usage": {"input_tokens": 9, "output_tokens": 2}}

_PLAIN_USAGE = {"prompt_tokens": 9, "completion_tokens": 2, "total_tokens": 11}


class Wire:
    """The requests an adapter's SDK made, and the reply each one gets."""

    def __init__(self, reply: dict[str, Any] | bytes) -> None:
        self.reply = reply
        self.bodies: list[dict[str, Any]] = []
        self.urls: list[str] = []

    def handle(self, request: httpx2.Request) -> httpx2.Response:
        self.urls.append(str(request.url))
        self.bodies.append(json.loads(request.content))
        if isinstance(self.reply, bytes):
            return httpx2.Response(200, content=self.reply, headers={"content-type": "text/event-stream"})
        return httpx2.Response(200, json=self.reply)

    @property
    def body(self) -> dict[str, Any]:
        assert len(self.bodies) == 1, f"expected one request, saw {len(self.bodies)}"
        return self.bodies[0]


def wired(provider: Provider, reply: dict[str, Any] | bytes) -> Wire:
    """Give ``provider`` SDK clients built from its own arguments, over a recording transport."""
    wire = Wire(reply)
    sdk = {"openai": (openai.OpenAI, openai.AsyncOpenAI), "anthropic": (anthropic.Anthropic, anthropic.AsyncAnthropic)}
    sync_cls, async_cls = sdk[provider.api]
    args = provider._client_args()  # type: ignore[attr-defined]
    transport = httpx2.MockTransport(wire.handle)
    provider.client = sync_cls(**args, http_client=httpx2.Client(transport=transport))  # type: ignore[attr-defined]
    provider.async_client = async_cls(  # type: ignore[attr-defined]
        **args, http_client=httpx2.AsyncClient(transport=transport))
    return wire


@pytest.fixture
def fake_lab(monkeypatch: pytest.MonkeyPatch) -> None:
    """Lab entries resolve to an address nothing listens on (the transport answers instead)."""
    import rightsize.lab

    monkeypatch.setattr(rightsize.lab, "lab_url", lambda start=True: "http://lab.invalid")


SAMPLING = ("temperature", "top_p", "seed", "stop")


def test_gpt5_unset_options_send_no_temperature_and_the_completion_token_limit() -> None:
    provider = connect("gpt-5-mini", key="test-key")
    wire = wired(provider, _chat_reply(_PLAIN_USAGE))
    answer = provider.complete("hi", stream=False)
    assert answer.text == "billing"
    body = wire.body
    assert wire.urls == ["https://api.openai.com/v1/chat/completions"]
    assert body["model"] == "gpt-5-mini" and body["max_completion_tokens"] == 256
    assert "max_tokens" not in body
    assert not set(SAMPLING) & set(body), body


def test_gpt5_takes_its_own_default_temperature_and_a_seed() -> None:
    provider = connect("gpt-5-mini", key="test-key")
    wire = wired(provider, _chat_reply(_PLAIN_USAGE))
    provider.complete("hi", stream=False, temperature=1, seed=7, max_tokens=40)
    assert "temperature" not in wire.body  # the default needs no saying
    assert wire.body["seed"] == 7 and wire.body["max_completion_tokens"] == 40


def test_gpt5_streamed_usage_keeps_the_reasoning_tokens() -> None:
    usage = {"prompt_tokens": 12, "completion_tokens": 530, "total_tokens": 542,
             "completion_tokens_details": {"reasoning_tokens": 512}}
    provider = connect("gpt-5", key="test-key")
    wire = wired(provider, _chat_stream(usage))
    answer = provider.complete("hi")
    assert answer.text == "billing" and answer.finish_reason == "stop"
    # OpenAI counts reasoning inside completion_tokens: nothing to add
    assert (answer.usage.input_tokens, answer.usage.output_tokens, answer.usage.reasoning_tokens) == (12, 530, 512)
    assert wire.body["stream_options"] == {"include_usage": True} and "temperature" not in wire.body


def test_a_server_counting_reasoning_apart_has_it_added_to_the_output() -> None:
    # completion_tokens without the reasoning, which total_tokens does include
    usage = {"prompt_tokens": 20, "completion_tokens": 30, "total_tokens": 450,
             "completion_tokens_details": {"reasoning_tokens": 400}}
    provider = connect("gemini-2.5-flash", key="test-key")
    wire = wired(provider, _chat_reply(usage))
    answer = provider.complete("hi", stream=False)
    assert (answer.usage.output_tokens, answer.usage.reasoning_tokens) == (430, 400)
    assert wire.urls == ["https://generativelanguage.googleapis.com/v1beta/openai/chat/completions"]
    body = wire.body
    assert body["max_tokens"] == 256 and "max_completion_tokens" not in body and body["temperature"] == 0.0


def test_gpt4o_mini_sends_what_it_is_given() -> None:
    provider = connect("gpt-4o-mini", key="test-key")
    wire = wired(provider, _chat_reply(_PLAIN_USAGE))
    provider.complete("hi", stream=False)
    assert wire.bodies[-1]["temperature"] == 0.0 and wire.bodies[-1]["max_completion_tokens"] == 256
    assert "stop" not in wire.bodies[-1] and "seed" not in wire.bodies[-1]
    provider.complete("hi", stream=False, temperature=0.7, stop=["\n"], seed=3, max_tokens=9)
    last = wire.bodies[-1]
    assert (last["temperature"], last["stop"], last["seed"], last["max_completion_tokens"]) == (0.7, ["\n"], 3, 9)
    assert "max_tokens" not in last


@pytest.mark.usefixtures("fake_lab")
def test_the_lab_entry_takes_temperature_zero_and_max_tokens() -> None:
    provider = connect("lab")
    wire = wired(provider, _chat_reply(_PLAIN_USAGE))
    answer = provider.complete("hi", stream=False, temperature=0, max_tokens=6)
    assert wire.urls == ["http://lab.invalid/v1/chat/completions"]
    assert wire.body["temperature"] == 0 and wire.body["max_tokens"] == 6 and "max_completion_tokens" not in wire.body
    assert answer.usage.reasoning_tokens is None  # the server reported no breakdown


def test_anthropic_models_get_no_temperature_and_stop_sequences() -> None:
    provider = connect("haiku", key="test-key")
    wire = wired(provider, _MESSAGE_REPLY)
    answer = provider.complete("hi", stream=False, system="Be brief.", stop=["\n\n"])
    assert answer.text == "billing" and (answer.usage.input_tokens, answer.usage.output_tokens) == (9, 2)
    body = wire.body
    assert wire.urls == ["https://api.anthropic.com/v1/messages"]
    assert body["max_tokens"] == 256 and body["stop_sequences"] == ["\n\n"] and body["system"] == "Be brief."
    assert not {"temperature", "seed", "stop", "top_p"} & set(body), body


@pytest.mark.usefixtures("fake_lab")
def test_the_lab_anthropic_entry_gets_its_temperature_in_the_body() -> None:
    provider = connect("lab-anthropic")
    wire = wired(provider, _MESSAGE_REPLY)
    provider.complete("hi", stream=False, temperature=0, max_tokens=5)
    assert wire.urls == ["http://lab.invalid/v1/messages"]
    assert wire.body["temperature"] == 0 and wire.body["max_tokens"] == 5
    provider.complete("hi", stream=False)  # unset: the course's default, 0
    assert wire.bodies[-1]["temperature"] == 0.0 and "seed" not in wire.bodies[-1]


def test_the_async_path_sends_the_same_body() -> None:
    provider = connect("gpt-5-mini", key="test-key")
    wire = wired(provider, _chat_reply(_PLAIN_USAGE))
    answer = asyncio.run(provider.acomplete("hi", stream=False, max_tokens=64))
    assert answer.text == "billing"
    assert wire.body["max_completion_tokens"] == 64 and "temperature" not in wire.body


def test_the_local_adapter_passes_the_options_the_entry_takes(monkeypatch: pytest.MonkeyPatch) -> None:
    from rightsize.local_model import Finished, TokenEvent
    from rightsize.providers import local

    calls: list[dict[str, Any]] = []

    class FakeModel:
        def stream(self, messages: list[dict[str, str]], **kwargs: Any) -> Any:
            calls.append(kwargs)
            yield TokenEvent("ok", 1)
            yield Finished("stop", 3, 1)

    monkeypatch.setattr(local, "get_local_model", lambda: FakeModel())
    provider = connect("local")
    provider.complete("hi", temperature=0, max_tokens=6, seed=1, stop=["."])
    assert calls[-1] == {"system": None, "json_schema": None, "logprobs": False,
                         "max_tokens": 6, "temperature": 0, "seed": 1, "stop": ["."]}
    provider.complete("hi")
    assert calls[-1]["temperature"] == 0.0 and calls[-1]["max_tokens"] == 256
    assert "seed" not in calls[-1] and "stop" not in calls[-1]  # unset: LocalModel's own defaults


@pytest.mark.slow
def test_lessons_temperature_zero_calls_work_on_the_real_local_model_and_lab_entries(lab_server: str) -> None:
    for model in ("local", "lab", "lab-anthropic"):
        answer = connect(model).complete("Say OK.", max_tokens=3, temperature=0)
        assert answer.ok and answer.usage.output_tokens and answer.usage.output_tokens <= 3, model
