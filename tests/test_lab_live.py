"""The lab server with the real local model, through the official SDKs and rightsize's adapters."""

from __future__ import annotations

import asyncio

import anthropic
import httpx
import openai
import pytest

import rightsize as rs
from rightsize.local_model import MODEL_ID

pytestmark = pytest.mark.slow
ASK = [{"role": "user", "content": "What is the capital of France?"}]


def test_openai_sdk_real_answer_streaming_and_not(lab_server: str) -> None:
    client = openai.OpenAI(base_url=lab_server + "/v1", api_key="x")
    reply = client.chat.completions.create(model=MODEL_ID, messages=ASK, max_tokens=20)
    text = reply.choices[0].message.content
    assert text.strip() and reply.usage.completion_tokens > 0 and reply.usage.prompt_tokens > 5
    stream = client.chat.completions.create(model=MODEL_ID, messages=ASK, max_tokens=20, stream=True,
                                            stream_options={"include_usage": True})
    chunks = list(stream)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == text
    assert chunks[-1].usage.completion_tokens == reply.usage.completion_tokens


def test_anthropic_sdk_real_answer_streaming_and_not(lab_server: str) -> None:
    client = anthropic.Anthropic(base_url=lab_server, api_key="x")
    message = client.messages.create(model=MODEL_ID, max_tokens=20, messages=ASK)
    text = message.content[0].text
    assert text.strip() and message.usage.output_tokens > 0 and message.usage.input_tokens > 5
    with client.messages.stream(model=MODEL_ID, max_tokens=20, messages=ASK) as stream:
        assert "".join(stream.text_stream) == text
        assert stream.get_final_message().usage.output_tokens == message.usage.output_tokens


def test_same_answer_in_process_and_over_both_protocols(lab_server: str) -> None:
    answers = {name: rs.connect(name).complete(ASK, max_tokens=16).text
               for name in ("local", "lab", "lab-anthropic")}
    assert len(set(answers.values())) == 1, answers


def test_adapter_records_timing_and_usage(lab_server: str) -> None:
    response = rs.connect("lab").complete(ASK, max_tokens=12)
    assert response.chunks[0].text == ""  # the role-only first chunk is kept, and not a token
    assert response.time_to_first_token > 0
    assert response.end_to_end >= response.time_to_first_token
    arrivals = [c.arrived for c in response.chunks]
    assert arrivals == sorted(arrivals)
    assert response.usage.output_tokens == 12 and response.usage.source == "server"
    assert response.finish_reason == "length"


def test_grammar_and_logprobs_over_the_wire(lab_server: str) -> None:
    schema = {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]}
    response = rs.connect("lab").complete(ASK, max_tokens=30, json_schema=schema, logprobs=True)
    import json

    assert "answer" in json.loads(response.text)
    assert len(response.token_logprobs) == response.usage.output_tokens


def test_async_adapter_and_queueing(lab_server: str) -> None:
    model = rs.connect("lab")

    async def many() -> list[rs.Response]:
        return await asyncio.gather(*(model.acomplete(ASK, max_tokens=8) for _ in range(4)))

    responses = asyncio.run(many())
    assert all(r.ok and r.usage.output_tokens == 8 for r in responses)
    ttfts = sorted(r.time_to_first_token for r in responses)
    # one model, one request at a time: the last in line waits for the three before it
    assert ttfts[-1] > 3 * (ttfts[0] * 0.5)


def test_faults_become_rightsize_errors_and_server_keeps_serving(lab_server: str) -> None:
    model = rs.connect("lab")
    faulty = rs.connect("lab", headers={"X-Rightsize-Faults": "unavailable_rate=1"})
    with pytest.raises(rs.OverloadedError) as info:
        faulty.complete(ASK, max_tokens=5)
    assert info.value.status == 503 and info.value.retryable
    cut = rs.connect("lab-anthropic", headers={"X-Rightsize-Faults": "cut_rate=1,cut_after_tokens=2"})
    response = cut.complete(ASK, max_tokens=10, raise_errors=False)
    assert isinstance(response.error, rs.StreamCutError) and response.text
    assert model.complete(ASK, max_tokens=5).ok
    assert httpx.get(lab_server + "/health").json()["status"] == "ok"
