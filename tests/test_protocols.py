"""The two wire protocols, each written once (rightsize.protocols) and used by every client and the server.

What a client sends, read back by the server, must be the request it meant; what the server answers,
read back by a client, must be the answer it meant; the SDK adapter and the lean client must make
the same of the same bytes (reasoning tokens included); every error shape must come back as the
right exception.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest
from anthropic.types import (
    Message,
    RawContentBlockDeltaEvent,
    RawContentBlockStartEvent,
    RawMessageDeltaEvent,
    RawMessageStartEvent,
)
from openai.types import CompletionUsage
from openai.types.chat import ChatCompletion, ChatCompletionChunk, ChatCompletionTokenLogprob
from openai.types.chat.chat_completion_chunk import Choice, ChoiceDelta, ChoiceLogprobs

from rightsize import errors
from rightsize.local_model import Finished
from rightsize.protocols import ProtocolError, chat_completions, messages, status_error
from rightsize.providers import connect
from rightsize.providers.base import Delta, Options, Request
from rightsize.server.faults import FaultConfig

EVERY_OPTION = Options(max_tokens=40, temperature=0.5, stop=["\n\n"], seed=7,
                       json_schema={"type": "object", "properties": {"label": {"type": "string"}}}, logprobs=True,
                       timeout=9)


def _request(options: Options = EVERY_OPTION, *, stream: bool = True) -> Request:
    return Request(model="m", messages=[{"role": "user", "content": "Sort this ticket."},
                                        {"role": "assistant", "content": "billing"},
                                        {"role": "user", "content": "Sure?"}],
                   system="You sort tickets.", stream=stream, options=options)


# -- the request body, built once for both clients -------------------------------------------------
def test_chat_completions_body_carries_every_option() -> None:
    provider = connect("gpt-4o-mini", key="k")
    body = chat_completions.request_body(_request(), provider.generation_options(_request()))
    assert body == {
        "model": "m",
        "messages": [{"role": "system", "content": "You sort tickets."},
                     {"role": "user", "content": "Sort this ticket."},
                     {"role": "assistant", "content": "billing"},
                     {"role": "user", "content": "Sure?"}],
        "stream": True,
        "max_completion_tokens": 40,  # the registry's name for the limit on OpenAI's API
        "temperature": 0.5, "seed": 7, "stop": ["\n\n"],
        "response_format": {"type": "json_schema", "json_schema": {"name": "answer",
                                                                   "schema": EVERY_OPTION.json_schema}},
        "logprobs": True,
        "stream_options": {"include_usage": True},
    }
    assert "timeout" not in body  # a client setting, not part of the protocol
    unstreamed = chat_completions.request_body(_request(stream=False), provider.generation_options(_request()))
    assert "stream_options" not in unstreamed and unstreamed["stream"] is False


def test_chat_completions_body_follows_the_registry_rules_of_a_reasoning_model() -> None:
    # gpt-5-mini fixes its own temperature and refuses stop: an unset temperature is not sent at all
    options = Options(max_tokens=64, seed=3)
    request = _request(options)
    body = chat_completions.request_body(request, connect("gpt-5-mini", key="k").generation_options(request))
    assert body["max_completion_tokens"] == 64 and body["seed"] == 3
    assert not {"temperature", "stop", "max_tokens"} & set(body)


def test_messages_body_carries_every_option_the_protocol_has() -> None:
    options = Options(max_tokens=40, temperature=0.5, stop=["\n\n"])
    request = _request(options)
    body = messages.request_body(request, connect("lab-anthropic").generation_options(request))
    assert body == {"model": "m", "messages": request.messages, "stream": True, "max_tokens": 40,
                    "temperature": 0.5, "stop_sequences": ["\n\n"], "system": "You sort tickets."}
    # Anthropic's own models take no temperature through the 2.x SDK: it is dropped, not sent
    haiku = messages.request_body(request, connect("haiku", key="k").generation_options(request))
    assert "temperature" not in haiku and haiku["stop_sequences"] == ["\n\n"] and haiku["max_tokens"] == 40


@pytest.mark.parametrize(("model", "protocol"), [("gpt-4o-mini", None), ("lab-anthropic", None),
                                                  ("mine", "openai"), ("mine", "anthropic")])
def test_the_sdk_adapter_and_the_lean_client_send_the_same_body(model: str, protocol: str | None) -> None:
    base_url = "http://server.invalid" if protocol else None
    options = EVERY_OPTION if protocol != "anthropic" and model != "lab-anthropic" else \
        Options(max_tokens=40, temperature=0.5, stop=["."], timeout=9)
    sdk = connect(model, key="k", base_url=base_url, protocol=protocol, client="sdk")
    lean = connect(model, key="k", base_url=base_url, protocol=protocol, client="lean")
    request = _request(options)
    kwargs = sdk._kwargs(request)  # type: ignore[attr-defined]
    assert kwargs.pop("timeout") == 9  # the SDK takes the per-request timeout as a keyword
    kwargs.update(kwargs.pop("extra_body", {}))  # what the anthropic SDK cannot name, it sends as given
    assert kwargs == lean._body(request)  # type: ignore[attr-defined]


@pytest.mark.parametrize("stream", [True, False])
def test_a_chat_completions_body_parses_back_into_the_same_request(stream: bool) -> None:
    request = _request(EVERY_OPTION.model_copy(update={"timeout": None}), stream=stream)
    sender = connect("mine", base_url="http://server.invalid", protocol="openai")
    parsed, include_usage = chat_completions.parse_request(
        chat_completions.request_body(request, sender.generation_options(request)))
    assert parsed == request and include_usage is stream


def test_a_messages_body_parses_back_into_the_same_request() -> None:
    request = _request(Options(max_tokens=40, temperature=0.5, stop=["."]))
    sender = connect("mine", base_url="http://server.invalid", protocol="anthropic")
    assert messages.parse_request(messages.request_body(request, sender.generation_options(request))) == request


# -- what a server makes of a request --------------------------------------------------------------
def test_chat_completions_server_defaults_and_system_messages() -> None:
    request, include_usage = chat_completions.parse_request({
        "model": "m", "messages": [{"role": "developer", "content": "Be brief."},
                                   {"role": "system", "content": [{"type": "text", "text": "Be kind."}]},
                                   {"role": "user", "content": "hi"}],
        "response_format": {"type": "json_object"}, "stop": "END"})
    assert request.system == "Be brief.\n\nBe kind." and request.messages == [{"role": "user", "content": "hi"}]
    opts = request.options
    assert (opts.max_tokens, opts.temperature, opts.stop) == (chat_completions.DEFAULT_MAX_TOKENS, 0.0, ["END"])
    assert opts.json_schema == {"type": "object"} and not request.stream and not include_usage
    # the older name of the limit is read too, and max_completion_tokens wins when both are given
    assert chat_completions.parse_request({"model": "m", "messages": [{"role": "user", "content": "x"}],
                                           "max_tokens": 5})[0].options.max_tokens == 5
    assert chat_completions.parse_request({"model": "m", "messages": [{"role": "user", "content": "x"}],
                                           "max_tokens": 5, "max_completion_tokens": 6})[0].options.max_tokens == 6


def test_messages_server_requires_max_tokens_and_defaults_to_greedy() -> None:
    with pytest.raises(ProtocolError) as info:
        messages.parse_request({"model": "m", "messages": [{"role": "user", "content": "x"}]})
    assert info.value.status == 400 and "max_tokens" in info.value.message
    request = messages.parse_request({"model": "m", "max_tokens": 3, "messages": [{"role": "user", "content": "x"}],
                                      "system": [{"type": "text", "text": "Be brief."}]})
    assert request.options.temperature == 0.0 and request.system == "Be brief." and request.options.stop == []


@pytest.mark.parametrize(("parse", "body", "param", "fragment"), [
    (chat_completions.parse_request, {"model": "m", "messages": [{"role": "user", "content": "x"}], "seed": 1.5},
     "seed", "integer"),
    (chat_completions.parse_request, {"model": "m", "messages": [{"role": "user", "content": "x"}],
                                      "max_tokens": True}, "max_tokens", "integer"),
    (chat_completions.parse_request, {"model": "m", "messages": [{"role": "user", "content": "x"}],
                                      "stop": ["a", 1]}, "stop", "list of strings"),
    (chat_completions.parse_request, {"model": 3, "messages": []}, "model", "a string"),
    (messages.parse_request, {"model": "m", "max_tokens": 4, "temperature": 1.5,
                              "messages": [{"role": "user", "content": "x"}]}, "temperature", "from 0.0 to 1.0"),
    (messages.parse_request, {"model": "m", "max_tokens": 4, "messages": [{"role": "user", "content": [
        {"type": "image", "source": {}}]}]}, None, "only takes text content blocks"),
])
def test_the_shared_checks_name_the_field(parse: Any, body: dict[str, Any], param: str | None, fragment: str) -> None:
    with pytest.raises(ProtocolError) as info:
        parse(body)
    assert info.value.status == 400 and info.value.param == param and fragment in info.value.message


# -- the readers, on the dicts the SDKs' own types produce --------------------------------------------
def test_read_chunk_on_openai_sdk_chunks() -> None:
    token = ChatCompletionTokenLogprob(token="bill", logprob=-0.25, bytes=list(b"bill"), top_logprobs=[])
    text = ChatCompletionChunk(id="c", created=0, model="m", object="chat.completion.chunk", choices=[
        Choice(index=0, delta=ChoiceDelta(content="bill"), finish_reason=None, logprobs=ChoiceLogprobs(content=[token]))])
    assert chat_completions.read_chunk(text.model_dump()) == Delta(text="bill", logprobs=(-0.25,))
    role = ChatCompletionChunk(id="c", created=0, model="m", object="chat.completion.chunk", choices=[
        Choice(index=0, delta=ChoiceDelta(role="assistant"), finish_reason=None)])
    assert chat_completions.read_chunk(role.model_dump()) == Delta()  # content None: no text, no token
    end = ChatCompletionChunk(id="c", created=0, model="m", object="chat.completion.chunk", choices=[
        Choice(index=0, delta=ChoiceDelta(), finish_reason="length")])
    assert chat_completions.read_chunk(end.model_dump()).finish_reason == "length"
    usage = ChatCompletionChunk(id="c", created=0, model="m", object="chat.completion.chunk", choices=[],
                                usage=CompletionUsage(prompt_tokens=9, completion_tokens=2, total_tokens=11))
    assert usage.model_dump()["usage"]["completion_tokens_details"] is None  # what the reader must survive
    assert chat_completions.read_chunk(usage.model_dump()) == Delta(input_tokens=9, output_tokens=2)


def test_read_reply_on_an_openai_sdk_reply_with_reasoning() -> None:
    reply = ChatCompletion.model_validate({
        "id": "c", "object": "chat.completion", "created": 0, "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "billing"}, "finish_reason": "stop",
                     "logprobs": None}],
        "usage": {"prompt_tokens": 12, "completion_tokens": 530, "total_tokens": 542,
                  "completion_tokens_details": {"reasoning_tokens": 512}}})
    assert chat_completions.read_reply(reply.model_dump()) == Delta(
        text="billing", finish_reason="stop", input_tokens=12, output_tokens=530, reasoning_tokens=512)


def test_usage_counts_adds_reasoning_a_server_counted_apart() -> None:
    inside = {"prompt_tokens": 20, "completion_tokens": 430, "total_tokens": 450,
              "completion_tokens_details": {"reasoning_tokens": 400}}
    apart = {**inside, "completion_tokens": 30}  # total still 450: the 400 were left out of completion
    assert chat_completions.usage_counts(inside) == (20, 430, 400)
    assert chat_completions.usage_counts(apart) == (20, 430, 400)
    assert chat_completions.usage_counts(None) == (None, None, None)


def test_read_event_on_anthropic_sdk_events() -> None:
    start = RawMessageStartEvent.model_validate({"type": "message_start", "message": {
        "id": "m", "type": "message", "role": "assistant", "model": "m", "content": [], "stop_reason": None,
        "stop_sequence": None, "usage": {"input_tokens": 31, "output_tokens": 1}}})
    assert messages.read_event(start.model_dump()) == Delta(input_tokens=31)
    block = RawContentBlockStartEvent.model_validate({"type": "content_block_start", "index": 0,
                                                      "content_block": {"type": "text", "text": ""}})
    assert messages.read_event(block.model_dump()) is None
    text = RawContentBlockDeltaEvent.model_validate({"type": "content_block_delta", "index": 0,
                                                     "delta": {"type": "text_delta", "text": "ship"}})
    assert messages.read_event(text.model_dump()) == Delta(text="ship")
    thinking = RawContentBlockDeltaEvent.model_validate({"type": "content_block_delta", "index": 0,
                                                         "delta": {"type": "thinking_delta", "thinking": "hm"}})
    assert messages.read_event(thinking.model_dump()) is None  # hidden reasoning is not answer text
    end = RawMessageDeltaEvent.model_validate({"type": "message_delta",
                                               "delta": {"stop_reason": "max_tokens", "stop_sequence": None},
                                               "usage": {"output_tokens": 2}})
    assert end.model_dump()["usage"]["input_tokens"] is None
    assert messages.read_event(end.model_dump()) == Delta(finish_reason="max_tokens", output_tokens=2)


def test_read_reply_on_an_anthropic_sdk_message_with_thinking() -> None:
    reply = Message.model_validate({
        "id": "m", "type": "message", "role": "assistant", "model": "m", "stop_reason": "end_turn",
        "stop_sequence": None,
        "content": [{"type": "thinking", "thinking": "Charged twice: billing.", "signature": "s"},
                    {"type": "text", "text": "bill"}, {"type": "text", "text": "ing"}],
        "usage": {"input_tokens": 31, "output_tokens": 40, "output_tokens_details": {"thinking_tokens": 38}}})
    assert messages.read_reply(reply.model_dump()) == Delta(
        text="billing", finish_reason="end_turn", input_tokens=31, output_tokens=40, reasoning_tokens=38)


# -- the server's answers, read back by the client's readers -------------------------------------------
def test_chat_completions_answer_shapes_read_back() -> None:
    fields = chat_completions.reply_fields("r1", "m", "test")
    finished = Finished("length", 9, 2)
    lp = chat_completions.logprobs([-0.5, -0.25], ["ok"])
    streamed = [chat_completions.role_chunk(fields), chat_completions.text_chunk(fields, "ok", lp),
                chat_completions.finish_chunk(fields, finished), chat_completions.usage_chunk(fields, 9, 2)]
    deltas = [chat_completions.read_chunk(json.loads(json.dumps(chunk))) for chunk in streamed]
    assert deltas == [Delta(), Delta(text="ok", logprobs=(-0.5, -0.25)), Delta(finish_reason="length"),
                      Delta(input_tokens=9, output_tokens=2)]
    whole = chat_completions.reply(fields, "ok", finished, 9, lp)
    assert chat_completions.read_reply(whole) == Delta(text="ok", logprobs=(-0.5, -0.25), finish_reason="length",
                                                       input_tokens=9, output_tokens=2)
    assert whole["id"] == "chatcmpl-r1" and whole["usage"]["total_tokens"] == 11
    assert chat_completions.logprobs([], []) is None


def test_messages_answer_shapes_read_back() -> None:
    fields = messages.message_fields("r1", "m")
    finished = Finished("stop", 9, 2, stop_sequence="\n\n")
    events = [*messages.start_events(fields, 9), messages.text_event("ok"), *messages.end_events(finished)]
    assert [e["type"] for e in events] == ["message_start", "content_block_start", "ping", "content_block_delta",
                                           "content_block_stop", "message_delta", "message_stop"]
    deltas = [d for d in (messages.read_event(e) for e in events) if d is not None]
    assert deltas == [Delta(input_tokens=9), Delta(text="ok"), Delta(finish_reason="stop_sequence", output_tokens=2)]
    whole = messages.reply(fields, "ok", finished, 9)
    assert whole["stop_sequence"] == "\n\n"
    assert messages.read_reply(whole) == Delta(text="ok", finish_reason="stop_sequence", input_tokens=9,
                                               output_tokens=2)
    assert messages.stop(Finished("length", 9, 2)) == ("max_tokens", None)
    assert messages.stop(Finished("stop", 9, 2)) == ("end_turn", None)


# -- error shapes: what the server answers, the client reads back as the right exception ----------------
# every status each protocol names an error type for, and the lab server's 503 in Messages
ERROR_CASES = [(chat_completions, status) for status in sorted(chat_completions.ERROR_TYPES)] + \
    [(messages, status) for status in sorted({*messages.ERROR_STATUS.values(), 503})]


@pytest.mark.parametrize(("protocol", "status"), ERROR_CASES)
def test_error_bodies_read_back_as_the_right_exception(protocol: Any, status: int) -> None:
    body = protocol.error_body(ProtocolError(status, "test", "Something precise went wrong.", param="model"))
    expected = type(errors.error_for_status(status, "x"))
    # as an HTTP error reply: the status decides, and the message survives
    error = status_error(status, json.dumps(body).encode(), provider="lab", retry_after=2.0)
    assert type(error) is expected and error.status == status and error.retry_after == 2.0
    assert "Something precise went wrong." in str(error) and error.provider == "lab"
    # as an error inside a stream (no HTTP status to go by): the error's type decides
    streamed = protocol.stream_error(body["error"], "lab")
    assert type(streamed) is expected, (status, body["error"]["type"], streamed.status)
    assert "Something precise went wrong." in str(streamed)


def test_messages_error_types_name_their_status_exactly() -> None:
    for kind, status in messages.ERROR_STATUS.items():
        assert messages.error_type(status) == kind
        assert messages.stream_error({"type": kind, "message": "x"}).status == status


def test_stream_errors_in_each_protocol_raise_from_the_readers() -> None:
    with pytest.raises(errors.OverloadedError, match="lab: error in the stream: busy") as info:
        messages.read_event({"type": "error", "error": {"type": "overloaded_error", "message": "busy"}}, "lab")
    assert info.value.status == 529
    with pytest.raises(errors.RateLimitedError) as info2:
        chat_completions.read_chunk({"error": {"message": "slow down", "type": "rate_limit_exceeded"}})
    assert info2.value.status == 429
    with pytest.raises(errors.BadRequestError) as info3:  # vLLM puts the status in the code
        chat_completions.read_chunk({"error": {"message": "bad", "type": "BadRequestError", "code": 400}})
    assert info3.value.status == 400


def test_an_error_reply_that_is_not_json_is_quoted() -> None:
    error = status_error(502, b"<html>Bad Gateway</html>", provider="proxy")
    assert isinstance(error, errors.OverloadedError) and "Bad Gateway" in str(error)


# -- over HTTP: the SDK adapter and the lean client agree, and errors come back alike ----------------
class CannedChat:
    """A Chat Completions server that answers every request with the same bytes, for both clients."""

    def __init__(self, usage: dict[str, Any]) -> None:
        from starlette.applications import Starlette
        from starlette.requests import Request as HttpRequest
        from starlette.responses import JSONResponse, Response
        from starlette.routing import Route

        chunk = {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "m"}
        stream = [{**chunk, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""},
                                         "finish_reason": None}]},
                  {**chunk, "choices": [{"index": 0, "delta": {"content": "billing"}, "finish_reason": None}]},
                  {**chunk, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
                  {**chunk, "choices": [], "usage": usage}]
        reply = {"id": "c", "object": "chat.completion", "created": 0, "model": "m", "usage": usage,
                 "choices": [{"index": 0, "message": {"role": "assistant", "content": "billing"},
                              "finish_reason": "stop", "logprobs": None}]}

        async def answer(request: HttpRequest) -> Response:
            if (await request.json()).get("stream"):
                sse = "".join(f"data: {json.dumps(c)}\n\n" for c in stream) + "data: [DONE]\n\n"
                return Response(sse, media_type="text/event-stream")
            return JSONResponse(reply)

        self.app = Starlette(routes=[Route("/v1/chat/completions", answer, methods=["POST"])])


@pytest.fixture
def canned_chat() -> Iterator[Any]:
    from conftest import ThreadServer  # type: ignore[import-not-found]

    servers: list[Any] = []

    def start(usage: dict[str, Any]) -> str:
        server = ThreadServer(CannedChat(usage).app).__enter__()
        servers.append(server)
        return str(server.url)

    yield start
    for server in servers:
        server.__exit__()


@pytest.mark.parametrize(("usage", "expected"), [
    ({"prompt_tokens": 12, "completion_tokens": 530, "total_tokens": 542,
      "completion_tokens_details": {"reasoning_tokens": 512}}, (12, 530, 512)),  # OpenAI: inside completion
    ({"prompt_tokens": 20, "completion_tokens": 30, "total_tokens": 450,
      "completion_tokens_details": {"reasoning_tokens": 400}}, (20, 430, 400)),  # counted apart: added
])
def test_reasoning_tokens_count_the_same_through_the_lean_client_and_the_sdk(
        canned_chat: Any, usage: dict[str, Any], expected: tuple[int, int, int]) -> None:
    url = canned_chat(usage) + "/v1"
    lean = connect("gpt-5", base_url=url, key="k", client="lean")
    sdk = connect("gpt-5", base_url=url, key="k", client="sdk")
    answers = [lean.complete("hi"), lean.complete("hi", stream=False), asyncio.run(lean.acomplete("hi")),
               sdk.complete("hi"), sdk.complete("hi", stream=False), asyncio.run(sdk.acomplete("hi"))]
    for answer in answers:
        assert answer.text == "billing" and answer.finish_reason == "stop"
        assert (answer.usage.input_tokens, answer.usage.output_tokens, answer.usage.reasoning_tokens) == expected


@pytest.mark.parametrize("client", ["lean", "sdk"])
@pytest.mark.parametrize("protocol", ["openai", "anthropic"])
def test_the_lab_servers_errors_come_back_alike_through_both_clients(
        scripted_server: Any, protocol: str, client: str) -> None:
    server = scripted_server(["a", "b"], faults=FaultConfig(rpm=1))
    url = server.url + ("/v1" if protocol == "openai" else "")

    def ask(model: str = "scripted", prompt: str = "hi", headers: dict[str, str] | None = None,
            key: str = "limited") -> Any:
        provider = connect(model, base_url=url, protocol=protocol, client=client, key=key, headers=headers,
                           timeout=10)
        return provider.complete(prompt, max_tokens=2, raise_errors=False)

    missing = ask("nope").error
    assert type(missing) is errors.BadRequestError and missing.status == 404 and "does not exist" in str(missing)
    too_long = ask(prompt="word " * 600).error
    assert type(too_long) is errors.BadRequestError and too_long.status == 400 and "context length" in str(too_long)
    # (a key of its own: a refused request still takes its place in the rate-limit window)
    overloaded = ask(headers={"X-Rightsize-Faults": "overloaded_rate=1"}, key="overloaded").error
    assert type(overloaded) is errors.OverloadedError and overloaded.status == 529
    assert ask().ok  # the one request a minute the server allows
    limited = ask().error
    assert type(limited) is errors.RateLimitedError and limited.status == 429
    assert limited.retry_after is not None and 0 < limited.retry_after <= 60


# -- the one factory ---------------------------------------------------------------------------------
def test_connect_builds_every_client_and_keeps_registry_entries() -> None:
    from rightsize.profiling.client import LeanAnthropicProvider, LeanOpenAIProvider
    from rightsize.providers.anthropic_messages import AnthropicProvider
    from rightsize.providers.local import LocalProvider
    from rightsize.providers.openai_compat import OpenAIProvider

    assert type(connect("gpt-4o-mini", key="k")) is OpenAIProvider
    assert type(connect("gpt-4o-mini", key="k", client="lean")) is LeanOpenAIProvider
    assert type(connect("haiku", key="k", client="auto")) is LeanAnthropicProvider
    assert type(connect("haiku", key="k", client="sdk")) is AnthropicProvider
    assert type(connect("local", client="auto")) is LocalProvider  # in-process: nothing to be lean about
    with pytest.raises(errors.RightsizeError, match="runs in-process"):
        connect("local", client="lean")
    with pytest.raises(errors.RightsizeError, match="client must be sdk, lean or auto"):
        connect("gpt-4o-mini", key="k", client="fast")
    # with a base_url: a registry model keeps its entry (price, options), an unknown name is an OpenAI endpoint
    kept = connect("gpt-4o-mini", key="k", base_url="http://proxy.invalid/v1", client="lean")
    assert kept.model.price.output_per_mtok > 0 and kept.model.parameters.token_limit == "max_completion_tokens"
    mine = connect("my-llama", base_url="http://gpu.invalid/v1")
    assert type(mine) is OpenAIProvider and mine.model.provider == "endpoint"
    with pytest.raises(errors.RightsizeError, match="only applies with a base_url"):
        connect("gpt-4o-mini", key="k", protocol="anthropic")
