"""The lab server's wire protocols, faults and error shapes, with a scripted backend (no model).

The official SDKs are the clients, as learners use them.
"""

from __future__ import annotations

import time

import anthropic
import httpx
import openai
import pytest

from rightsize.server.faults import FaultConfig


def oa(server, **kw) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.url + "/v1", api_key="x", max_retries=0, **kw)


def an(server, **kw) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=server.url, api_key="x", max_retries=0, **kw)


def test_openai_non_streaming_and_streaming(scripted_server) -> None:
    server = scripted_server(["Hello", ",", " world"])
    client = oa(server)
    reply = client.chat.completions.create(model="scripted", messages=[{"role": "user", "content": "hi there"}])
    assert reply.choices[0].message.content == "Hello, world"
    assert reply.choices[0].finish_reason == "stop"
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (2, 3)

    chunks = list(client.chat.completions.create(
        model="scripted", messages=[{"role": "user", "content": "hi"}], stream=True,
        stream_options={"include_usage": True}))
    assert chunks[0].choices[0].delta.role == "assistant" and not chunks[0].choices[0].delta.content
    texts = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert texts == ["Hello", ",", " world"]
    assert chunks[-1].usage.completion_tokens == 3 and chunks[-1].choices == []


def test_openai_max_tokens_gives_length(scripted_server) -> None:
    server = scripted_server(["a", "b", "c", "d"])
    reply = oa(server).chat.completions.create(model="scripted", max_tokens=2,
                                               messages=[{"role": "user", "content": "x"}])
    assert reply.choices[0].finish_reason == "length"
    assert reply.choices[0].message.content == "ab"


def test_anthropic_non_streaming_and_streaming(scripted_server) -> None:
    server = scripted_server(["Hi", " there"])
    client = an(server)
    msg = client.messages.create(model="scripted", max_tokens=50, system="Be brief.",
                                 messages=[{"role": "user", "content": "hello you"}])
    assert msg.content[0].text == "Hi there"
    assert msg.stop_reason == "end_turn"
    assert (msg.usage.input_tokens, msg.usage.output_tokens) == (2, 2)
    assert server.backend.requests[-1].system == "Be brief."

    with client.messages.stream(model="scripted", max_tokens=1,
                                messages=[{"role": "user", "content": "hello"}]) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "Hi" and final.stop_reason == "max_tokens" and final.usage.output_tokens == 1


def test_models_listing_in_both_shapes(scripted_server) -> None:
    server = scripted_server()
    assert [m.id for m in oa(server).models.list()] == ["scripted"]
    assert [m.id for m in an(server).models.list()] == ["scripted"]


@pytest.mark.parametrize(("body", "status", "fragment"), [
    ({"messages": [{"role": "user", "content": "x"}]}, 400, "model"),
    ({"model": "nope", "messages": [{"role": "user", "content": "x"}]}, 404, "does not exist"),
    ({"model": "scripted", "messages": []}, 400, "messages"),
    ({"model": "scripted", "messages": [{"role": "wizard", "content": "x"}]}, 400, "role"),
    ({"model": "scripted", "messages": [{"role": "user", "content": "x"}], "max_tokens": 0}, 400, "max_tokens"),
    ({"model": "scripted", "messages": [{"role": "user", "content": "x"}], "temperature": 9}, 400, "temperature"),
    ({"model": "scripted", "messages": [{"role": "user", "content": "word " * 600}]}, 400, "context length"),
    ({"model": "scripted", "messages": [{"role": "system", "content": "x"}]}, 400, "user message"),
    ({"model": "scripted", "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}]},
     400, "text content"),
    ({"model": "scripted", "messages": [{"role": "user", "content": "x"}], "seed": "7"}, 400, "seed"),
    ({"model": "scripted", "messages": [{"role": "user", "content": "x"}], "top_logprobs": 3}, 400, "top_logprobs"),
    ({"model": "scripted", "messages": [{"role": "user", "content": "x"}], "response_format": {"type": "yaml"}},
     400, "response_format"),
])
def test_openai_bad_requests_get_openai_errors(scripted_server, body, status, fragment) -> None:
    server = scripted_server()
    reply = httpx.post(server.url + "/v1/chat/completions", json=body)
    assert reply.status_code == status
    error = reply.json()["error"]
    assert fragment in error["message"] and {"message", "type", "param", "code"} <= set(error)


@pytest.mark.parametrize(("body", "status", "kind", "fragment"), [
    ({"model": "scripted", "messages": [{"role": "user", "content": "x"}]}, 400, "invalid_request_error", "max_tokens"),
    ({"model": "gone", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]}, 404, "not_found_error", "gone"),
    ({"model": "scripted", "max_tokens": 5, "messages": [{"role": "system", "content": "x"}]}, 400,
     "invalid_request_error", "system"),
    ({"model": "scripted", "max_tokens": 5, "messages": [{"role": "assistant", "content": "x"}]}, 400,
     "invalid_request_error", "first message"),
    ({"model": "scripted", "max_tokens": 5, "temperature": 1.5, "messages": [{"role": "user", "content": "x"}]},
     400, "invalid_request_error", "temperature"),
    ({"model": "scripted", "max_tokens": 5, "stop_sequences": 5, "messages": [{"role": "user", "content": "x"}]},
     400, "invalid_request_error", "stop_sequences"),
    ({"model": "scripted", "max_tokens": 5, "messages": [{"role": "user", "content": "x" * 2_100_000}]}, 413,
     "request_too_large", "limit"),
])
def test_anthropic_bad_requests_get_anthropic_errors(scripted_server, body, status, kind, fragment) -> None:
    server = scripted_server()
    reply = httpx.post(server.url + "/v1/messages", json=body, headers={"anthropic-version": "2023-06-01"})
    assert reply.status_code == status
    data = reply.json()
    assert data["type"] == "error" and data["error"]["type"] == kind and fragment in data["error"]["message"]


def test_malformed_json_and_oversize_body(scripted_server) -> None:
    server = scripted_server()
    reply = httpx.post(server.url + "/v1/chat/completions", content=b"{not json",
                       headers={"content-type": "application/json"})
    assert reply.status_code == 400 and "not valid JSON" in reply.json()["error"]["message"]
    reply = httpx.post(server.url + "/v1/messages", content=b"[" * 10, headers={"anthropic-version": "2023-06-01"})
    assert reply.status_code == 400 and reply.json()["type"] == "error"
    reply = httpx.post(server.url + "/v1/chat/completions", content=b" " * 2_100_000)
    assert reply.status_code == 413
    # and the server still serves
    assert oa(server).chat.completions.create(model="scripted", messages=[{"role": "user", "content": "x"}])


def test_sdk_missing_max_tokens_for_messages_is_a_bad_request(scripted_server) -> None:
    server = scripted_server()
    with pytest.raises(anthropic.BadRequestError, match="max_tokens"):
        an(server, timeout=10).messages.create(model="scripted", messages=[{"role": "user", "content": "x"}],
                                               max_tokens=anthropic.omit)  # type: ignore[arg-type]


def test_rate_limit_429_with_retry_after(scripted_server) -> None:
    server = scripted_server(faults=FaultConfig(rpm=2))
    client = oa(server)
    for _ in range(2):
        client.chat.completions.create(model="scripted", messages=[{"role": "user", "content": "x"}])
    with pytest.raises(openai.RateLimitError) as info:
        client.chat.completions.create(model="scripted", messages=[{"role": "user", "content": "x"}])
    retry_after = float(info.value.response.headers["retry-after"])
    assert 0 < retry_after <= 60
    # another key has its own window, like a real provider's per-key limits
    other = openai.OpenAI(base_url=server.url + "/v1", api_key="other-key", max_retries=0)
    assert other.chat.completions.create(model="scripted", messages=[{"role": "user", "content": "x"}])


def test_injected_503_and_529_in_each_protocol(scripted_server) -> None:
    server = scripted_server()
    with pytest.raises(openai.InternalServerError) as info:
        oa(server).chat.completions.create(model="scripted", messages=[{"role": "user", "content": "x"}],
                                           extra_headers={"X-Rightsize-Faults": "unavailable_rate=1"})
    assert info.value.status_code == 503
    with pytest.raises(anthropic.APIStatusError) as info2:
        an(server).messages.create(model="scripted", max_tokens=5, messages=[{"role": "user", "content": "x"}],
                                   extra_headers={"X-Rightsize-Faults": '{"overloaded_rate": 1}'})
    assert info2.value.status_code == 529
    assert info2.value.body["error"]["type"] == "overloaded_error"
    # no fault header: served normally
    assert an(server).messages.create(model="scripted", max_tokens=5, messages=[{"role": "user", "content": "x"}])


def test_cut_stream_has_no_final_event(scripted_server) -> None:
    server = scripted_server(["a", "b", "c", "d", "e"])
    chunks = list(oa(server).chat.completions.create(
        model="scripted", messages=[{"role": "user", "content": "x"}], stream=True,
        extra_headers={"X-Rightsize-Faults": "cut_rate=1,cut_after_tokens=2"}))
    texts = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert texts == ["a", "b"]
    assert all(c.choices[0].finish_reason is None for c in chunks if c.choices)


def test_hang_makes_the_client_time_out(scripted_server) -> None:
    server = scripted_server()
    started = time.monotonic()
    with pytest.raises(openai.APITimeoutError):
        oa(server, timeout=0.3).chat.completions.create(
            model="scripted", messages=[{"role": "user", "content": "x"}],
            extra_headers={"X-Rightsize-Faults": "hang_rate=1,hang_s=5"})
    assert time.monotonic() - started < 3


def test_injected_delays(scripted_server) -> None:
    server = scripted_server(["a", "b", "c"])
    started = time.perf_counter()
    arrivals = []
    for chunk in oa(server).chat.completions.create(
            model="scripted", messages=[{"role": "user", "content": "x"}], stream=True,
            extra_headers={"X-Rightsize-Faults": "ttft_ms=150,token_ms=60"}):
        if chunk.choices and chunk.choices[0].delta.content:
            arrivals.append(time.perf_counter() - started)
    assert arrivals[0] >= 0.15
    gaps = [b - a for a, b in zip(arrivals, arrivals[1:])]
    assert all(g >= 0.055 for g in gaps), gaps


def test_bad_fault_header_is_a_400(scripted_server) -> None:
    server = scripted_server()
    reply = httpx.post(server.url + "/v1/chat/completions", headers={"X-Rightsize-Faults": "rpm=-3"},
                       json={"model": "scripted", "messages": [{"role": "user", "content": "x"}]})
    assert reply.status_code == 400 and "X-Rightsize-Faults" in reply.json()["error"]["message"]


def test_unknown_route_is_a_404_in_shape(scripted_server) -> None:
    server = scripted_server()
    reply = httpx.get(server.url + "/v1/nothing-here")
    assert reply.status_code == 404 and "error" in reply.json()
