"""OpenAI's Chat Completions protocol (``POST /v1/chat/completions``), client side and server side.

Client side, for the SDK adapter and the lean client: :func:`request_body` for a
:class:`~rightsize.providers.base.Request`, :func:`read_chunk` for one streamed chunk,
:func:`read_reply` for a whole reply, :func:`usage_counts` for the token counts (hidden reasoning
included).

Server side, for the lab server: :func:`parse_request` checks a request body and turns it into a
:class:`~rightsize.providers.base.Request`; :func:`reply`, :func:`role_chunk`, :func:`text_chunk`,
:func:`finish_chunk` and :func:`usage_chunk` build what it answers; :func:`error_body` shapes an
error. Readers take plain dicts: the lean client's decoded JSON or an SDK object's ``model_dump()``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..errors import ProviderError, error_for_status
from ..providers.base import Delta, Options, Request
from . import (
    ProtocolError,
    optional_number,
    required,
    stop_list,
    text_content,
    token_limit,
)

if TYPE_CHECKING:
    from ..local_model import Finished

__all__ = [
    "BASE_URL_PATH",
    "DEFAULT_BASE_URL",
    "DEFAULT_MAX_TOKENS",
    "ENDPOINT",
    "ERROR_TYPES",
    "error_body",
    "error_type",
    "finish_chunk",
    "finish_reason",
    "headers",
    "logprobs",
    "parse_request",
    "read_chunk",
    "read_reply",
    "reply",
    "reply_fields",
    "request_body",
    "role_chunk",
    "stream_error",
    "text_chunk",
    "usage",
    "usage_chunk",
    "usage_counts",
]

DEFAULT_BASE_URL = "https://api.openai.com/v1"
#: a Chat Completions base URL ends in /v1 by convention (OpenAI's, vLLM's, the lab server's)
BASE_URL_PATH = "/v1"
#: where requests go, under the base URL
ENDPOINT = "/chat/completions"
#: the lab server's token limit for a request that names none (Chat Completions does not require one)
DEFAULT_MAX_TOKENS = 256

#: the error ``type`` a server answers for each HTTP status
ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 404: "invalid_request_error",
               413: "invalid_request_error", 429: "rate_limit_exceeded", 500: "server_error",
               503: "service_unavailable", 529: "overloaded"}
_TYPE_STATUS: dict[str, int] = {}
for _status, _kind in ERROR_TYPES.items():
    _TYPE_STATUS.setdefault(_kind, _status)  # a type several statuses share reads back as the first


# -- client side -------------------------------------------------------------------------------
def headers(key: str) -> dict[str, str]:
    """The authentication header for ``key``."""
    return {"authorization": f"Bearer {key}"}


def request_body(request: Request, generation_options: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON body for ``request``.

    ``generation_options`` are the token limit and sampling options this model takes, under its
    own names (:meth:`~rightsize.providers.base.Provider.generation_options`); Chat Completions
    uses those names as they are. The system prompt becomes the first message.
    """
    opts = request.options
    messages = list(request.messages)
    if request.system:
        messages.insert(0, {"role": "system", "content": request.system})
    body: dict[str, Any] = {"model": request.model, "messages": messages, "stream": request.stream,
                            **generation_options}
    if opts.json_schema is not None:
        body["response_format"] = {"type": "json_schema",
                                   "json_schema": {"name": "answer", "schema": opts.json_schema}}
    if opts.logprobs:
        body["logprobs"] = True
    if request.stream:
        body["stream_options"] = {"include_usage": True}  # the last chunk then carries the usage
    return body


def usage_counts(usage: Mapping[str, Any] | None) -> tuple[int | None, int | None, int | None]:
    """Input, output and reasoning tokens of a ``usage`` object (all None without one).

    Output counts every output token billed, hidden reasoning included.
    """
    if not usage:
        return None, None, None
    prompt, output, total = usage.get("prompt_tokens"), usage.get("completion_tokens"), usage.get("total_tokens")
    details = usage.get("completion_tokens_details") or {}
    reasoning = details.get("reasoning_tokens")
    # OpenAI counts reasoning inside completion_tokens (and bills it as output). A compatible
    # server that counts it apart gives itself away: its total is prompt + completion + reasoning.
    if reasoning and prompt is not None and output is not None and total == prompt + output + reasoning:
        output += reasoning
    return prompt, output, reasoning


def _token_logprobs(choice: Mapping[str, Any]) -> tuple[float, ...]:
    block = choice.get("logprobs")
    content = block.get("content") if block else None
    return tuple(token["logprob"] for token in content) if content else ()


def stream_error(error: Any, provider: str | None = None) -> ProviderError:
    """The rightsize exception for an ``error`` object sent inside a stream.

    Its status comes from a numeric ``code`` (vLLM sends one), else from its ``type``, else 500.
    """
    if not isinstance(error, dict):
        error = {"message": error}
    code = str(error.get("code") or "")
    status = int(code) if code.isdigit() else _TYPE_STATUS.get(str(error.get("type")), 500)
    prefix = f"{provider}: " if provider else ""
    return error_for_status(status, f"{prefix}error in the stream: {error.get('message')}", provider=provider)


def read_chunk(data: Mapping[str, Any], provider: str | None = None) -> Delta:
    """One streamed ``chat.completion.chunk`` as a :class:`Delta`; an ``error`` in it is raised."""
    error = data.get("error")
    if error is not None:
        raise stream_error(error, provider)
    text, finish, token_logprobs = "", None, ()
    choices = data.get("choices")
    if choices:
        choice = choices[0]
        text = (choice.get("delta") or {}).get("content") or ""
        finish = choice.get("finish_reason")
        token_logprobs = _token_logprobs(choice)
    usage = data.get("usage")
    if not usage:  # every chunk but the last: the lean client's hot path
        return Delta(text=text, logprobs=token_logprobs, finish_reason=finish)
    counts = usage_counts(usage)
    return Delta(text=text, logprobs=token_logprobs, finish_reason=finish, input_tokens=counts[0],
                 output_tokens=counts[1], reasoning_tokens=counts[2])


def read_reply(data: Mapping[str, Any]) -> Delta:
    """A whole (not streamed) ``chat.completion`` as one :class:`Delta`."""
    choice = data["choices"][0]
    counts = usage_counts(data.get("usage"))
    return Delta(text=(choice.get("message") or {}).get("content") or "", logprobs=_token_logprobs(choice),
                 finish_reason=choice.get("finish_reason"), input_tokens=counts[0], output_tokens=counts[1],
                 reasoning_tokens=counts[2])


# -- errors, as a server answers them -----------------------------------------------------------
def error_type(status: int) -> str:
    """The error ``type`` for an HTTP status."""
    return ERROR_TYPES.get(status, "invalid_request_error" if 400 <= status < 500 else "server_error")


def error_body(error: ProtocolError) -> dict[str, Any]:
    """The JSON body of an error reply."""
    return {"error": {"message": error.message, "type": error_type(error.status), "param": error.param,
                      "code": error.code}}


# -- server side: the request ------------------------------------------------------------------
_ROLES = ("system", "developer", "user", "assistant")


def _invalid(message: str, param: str) -> ProtocolError:
    return ProtocolError(400, "invalid_request", message, param=param)


def _json_schema(data: dict[str, Any]) -> dict[str, Any] | None:
    fmt = data.get("response_format")
    if not isinstance(fmt, dict):
        return None
    kind = fmt.get("type")
    if kind == "json_object":
        return {"type": "object"}
    if kind == "json_schema":
        inner = fmt.get("json_schema")
        if not isinstance(inner, dict) or not isinstance(inner.get("schema"), dict):
            raise _invalid("response_format.json_schema.schema: must be an object", "response_format")
        schema: dict[str, Any] = inner["schema"]
        return schema
    if kind not in (None, "text"):
        raise _invalid(f"response_format.type: unknown value {kind!r}", "response_format")
    return None


def parse_request(data: dict[str, Any]) -> tuple[Request, bool]:
    """Check a request body and return it as a :class:`Request`, and whether the client asked for a
    usage chunk at the end of the stream (``stream_options.include_usage``).

    System and developer messages join into ``system``. With no ``temperature`` the answer is
    greedy (0); with no token limit it is :data:`DEFAULT_MAX_TOKENS`. Raises :class:`ProtocolError`.
    """
    model = required(data, "model", str, "a string")
    raw_messages = required(data, "messages", list, "a list of messages")
    if not raw_messages:
        raise _invalid("messages: must hold at least one message", "messages")
    system_parts, messages = [], []
    for i, message in enumerate(raw_messages):
        if not isinstance(message, dict) or message.get("role") not in _ROLES:
            raise _invalid(f"messages[{i}]: role must be system, developer, user or assistant", "messages")
        text = text_content(message.get("content"), f"messages[{i}].content")
        if message["role"] in ("system", "developer"):
            system_parts.append(text)
        else:
            messages.append({"role": message["role"], "content": text})
    if not messages:
        raise _invalid("messages: needs at least one user message", "messages")
    raw_max = data.get("max_completion_tokens", data.get("max_tokens"))
    max_tokens = DEFAULT_MAX_TOKENS if raw_max is None else token_limit(raw_max, "max_tokens")
    schema = _json_schema(data)
    if data.get("top_logprobs"):
        raise _invalid("top_logprobs: the lab server returns only the chosen token's logprob; "
                       "leave top_logprobs unset", "top_logprobs")
    seed = data.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise _invalid("seed: must be an integer", "seed")
    options = Options(max_tokens=max_tokens, temperature=optional_number(data, "temperature", 0.0, 2.0, 0.0),
                      stop=stop_list(data.get("stop"), "stop"), seed=seed, json_schema=schema,
                      logprobs=bool(data.get("logprobs")))
    request = Request(model=model, messages=messages, system="\n\n".join(system_parts) or None,
                      stream=bool(data.get("stream")), options=options)
    stream_options = data.get("stream_options") or {}
    include_usage = bool(stream_options.get("include_usage")) if isinstance(stream_options, dict) else False
    return request, include_usage


# -- server side: the answer -------------------------------------------------------------------
def reply_fields(request_id: str, model: str, fingerprint: str) -> dict[str, Any]:
    """The fields a reply and every chunk of one completion share."""
    return {"id": f"chatcmpl-{request_id}", "created": int(time.time()), "model": model,
            "system_fingerprint": fingerprint}


def finish_reason(finished: Finished) -> str:
    """``length`` when the token limit ended the answer, else ``stop``."""
    return "length" if finished.finish_reason == "length" else "stop"


def usage(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    """The ``usage`` object."""
    return {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens}


def logprobs(values: list[float], texts: list[str]) -> dict[str, Any] | None:
    """The ``logprobs`` object: one entry per token (None when there are none).

    A text that several tokens decoded to goes on the first of them; the others get "".
    """
    if not values:
        return None
    content = []
    for i, value in enumerate(values):
        text = texts[i] if i < len(texts) else ""
        content.append({"token": text, "logprob": value, "bytes": list(text.encode()), "top_logprobs": []})
    return {"content": content, "refusal": None}


def reply(fields: dict[str, Any], text: str, finished: Finished, prompt_tokens: int,
          token_logprobs: dict[str, Any] | None = None) -> dict[str, Any]:
    """A whole ``chat.completion``."""
    return {**fields, "object": "chat.completion", "choices": [{
        "index": 0, "message": {"role": "assistant", "content": text, "refusal": None},
        "logprobs": token_logprobs, "finish_reason": finish_reason(finished)}],
        "usage": usage(prompt_tokens, finished.completion_tokens)}


def _chunk(fields: dict[str, Any], delta: dict[str, Any], finish: str | None = None,
           token_logprobs: dict[str, Any] | None = None) -> dict[str, Any]:
    return {**fields, "object": "chat.completion.chunk",
            "choices": [{"index": 0, "delta": delta, "logprobs": token_logprobs, "finish_reason": finish}]}


def role_chunk(fields: dict[str, Any]) -> dict[str, Any]:
    """The first chunk: the role only (like OpenAI's, it holds no token)."""
    return _chunk(fields, {"role": "assistant", "content": ""})


def text_chunk(fields: dict[str, Any], text: str, token_logprobs: dict[str, Any] | None = None) -> dict[str, Any]:
    """A chunk of answer text."""
    return _chunk(fields, {"content": text}, token_logprobs=token_logprobs)


def finish_chunk(fields: dict[str, Any], finished: Finished) -> dict[str, Any]:
    """The chunk with the finish reason."""
    return _chunk(fields, {}, finish_reason(finished))


def usage_chunk(fields: dict[str, Any], prompt_tokens: int, completion_tokens: int) -> dict[str, Any]:
    """The last chunk when the client asked for usage: no choices, only the counts."""
    return {**fields, "object": "chat.completion.chunk", "choices": [],
            "usage": usage(prompt_tokens, completion_tokens)}
