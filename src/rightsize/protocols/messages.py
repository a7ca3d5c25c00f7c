"""Anthropic's Messages protocol (``POST /v1/messages``), client side and server side.

How it differs from Chat Completions (lesson 05): the system prompt is a top-level field,
``max_tokens`` is required, stop strings are ``stop_sequences``, the answer comes as content
blocks, usage is ``input_tokens``/``output_tokens``, a stream is typed events
(``message_start``, ``content_block_delta``, ``message_delta``...), and errors carry a ``type``
that names the status (``overloaded_error`` is 529).

Client side: :func:`request_body`, :func:`read_event`, :func:`read_reply`. Server side:
:func:`parse_request`, :func:`reply`, :func:`start_events`, :func:`text_event`, :func:`end_events`,
:func:`error_body`. Readers take plain dicts: the lean client's decoded JSON or an SDK object's
``model_dump()``.
"""

from __future__ import annotations

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
    "ENDPOINT",
    "ERROR_STATUS",
    "VERSION",
    "end_events",
    "error_body",
    "error_type",
    "headers",
    "message_fields",
    "parse_request",
    "read_event",
    "read_reply",
    "reply",
    "request_body",
    "start_events",
    "stop",
    "stream_error",
    "text_event",
]

DEFAULT_BASE_URL = "https://api.anthropic.com"
#: a Messages base URL is the bare host: the version is part of the endpoint's path
BASE_URL_PATH = ""
ENDPOINT = "/v1/messages"
#: the ``anthropic-version`` header
VERSION = "2023-06-01"

#: the HTTP status each error ``type`` stands for: a client reads an ``error`` event by it, and a
#: server names its errors by it
ERROR_STATUS = {"invalid_request_error": 400, "authentication_error": 401, "permission_error": 403,
                "not_found_error": 404, "request_too_large": 413, "rate_limit_error": 429, "api_error": 500,
                "timeout_error": 504, "overloaded_error": 529}
_STATUS_TYPE = {status: kind for kind, status in ERROR_STATUS.items()}


# -- client side -------------------------------------------------------------------------------
def headers(key: str) -> dict[str, str]:
    """The authentication and version headers for ``key``."""
    return {"x-api-key": key, "anthropic-version": VERSION}


def request_body(request: Request, generation_options: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON body for ``request``.

    ``generation_options`` are the token limit (``max_tokens``, which Messages requires) and
    sampling options this model takes (:meth:`~rightsize.providers.base.Provider.generation_options`);
    ``stop`` goes out as ``stop_sequences`` and the system prompt as the top-level ``system``.
    """
    options = dict(generation_options)
    if "stop" in options:
        options["stop_sequences"] = options.pop("stop")
    body: dict[str, Any] = {"model": request.model, "messages": request.messages, "stream": request.stream,
                            **options}
    if request.system:
        body["system"] = request.system
    return body


def _thinking_tokens(usage: Mapping[str, Any]) -> int | None:
    # extended thinking's tokens, already counted in output_tokens
    details = usage.get("output_tokens_details")
    thinking: int | None = details.get("thinking_tokens") if details else None
    return thinking


def stream_error(error: Any, provider: str | None = None) -> ProviderError:
    """The rightsize exception for an ``error`` event (its status read from the error's ``type``)."""
    if not isinstance(error, dict):
        error = {"message": error}
    status = ERROR_STATUS.get(str(error.get("type")), 500)
    prefix = f"{provider}: " if provider else ""
    return error_for_status(status, f"{prefix}error in the stream: {error.get('message')}", provider=provider)


def read_event(data: Mapping[str, Any], provider: str | None = None) -> Delta | None:
    """One streamed event as a :class:`Delta`, or None for an event that carries nothing we keep
    (``ping``, ``content_block_start``...); an ``error`` event is raised."""
    kind = data.get("type")
    if kind == "content_block_delta":
        delta = data.get("delta") or {}
        return Delta(text=delta.get("text") or "") if delta.get("type") == "text_delta" else None
    if kind == "message_start":
        usage = (data.get("message") or {}).get("usage") or {}
        return Delta(input_tokens=usage.get("input_tokens"))  # its output_tokens is a placeholder
    if kind == "message_delta":
        usage = data.get("usage") or {}
        return Delta(finish_reason=(data.get("delta") or {}).get("stop_reason"),
                     output_tokens=usage.get("output_tokens"), reasoning_tokens=_thinking_tokens(usage))
    if kind == "error":
        raise stream_error(data.get("error"), provider)
    return None


def read_reply(data: Mapping[str, Any]) -> Delta:
    """A whole (not streamed) ``message`` as one :class:`Delta`: its text blocks joined."""
    text = "".join(block.get("text") or "" for block in data.get("content") or () if block.get("type") == "text")
    usage = data.get("usage") or {}
    return Delta(text=text, finish_reason=data.get("stop_reason"), input_tokens=usage.get("input_tokens"),
                 output_tokens=usage.get("output_tokens"), reasoning_tokens=_thinking_tokens(usage))


# -- errors, as a server answers them -----------------------------------------------------------
def error_type(status: int) -> str:
    """The error ``type`` for an HTTP status."""
    return _STATUS_TYPE.get(status, "invalid_request_error" if 400 <= status < 500 else "api_error")


def error_body(error: ProtocolError) -> dict[str, Any]:
    """The JSON body of an error reply."""
    return {"type": "error", "error": {"type": error_type(error.status), "message": error.message}}


# -- server side: the request ------------------------------------------------------------------
def _invalid(message: str) -> ProtocolError:
    return ProtocolError(400, "invalid_request", message)


def parse_request(data: dict[str, Any]) -> Request:
    """Check a request body and return it as a :class:`Request`.

    ``max_tokens`` is required, as on Anthropic's API; with no ``temperature`` the answer is
    greedy (0). Raises :class:`ProtocolError`.
    """
    model = required(data, "model", str, "a string")
    max_tokens = token_limit(required(data, "max_tokens", int, "an integer"), "max_tokens")
    raw_messages = required(data, "messages", list, "a list of messages")
    if not raw_messages:
        raise _invalid("messages: at least one message is required")
    messages = []
    for i, message in enumerate(raw_messages):
        if not isinstance(message, dict) or message.get("role") not in ("user", "assistant"):
            raise _invalid(f"messages.{i}.role: must be user or assistant "
                           "(the system prompt goes in the top-level system field)")
        messages.append({"role": message["role"],
                         "content": text_content(message.get("content"), f"messages.{i}.content")})
    if messages[0]["role"] != "user":
        raise _invalid("messages: the first message must use the user role")
    system = data.get("system")
    system_text = None if system is None else text_content(system, "system")
    options = Options(max_tokens=max_tokens, temperature=optional_number(data, "temperature", 0.0, 1.0, 0.0),
                      stop=stop_list(data.get("stop_sequences"), "stop_sequences"))
    return Request(model=model, messages=messages, system=system_text or None, stream=bool(data.get("stream")),
                   options=options)


# -- server side: the answer -------------------------------------------------------------------
def message_fields(request_id: str, model: str) -> dict[str, Any]:
    """The fields a reply and its ``message_start`` event share."""
    return {"id": f"msg_{request_id}", "type": "message", "role": "assistant", "model": model}


def stop(finished: Finished) -> tuple[str, str | None]:
    """``stop_reason`` and ``stop_sequence`` for how the answer ended."""
    if finished.finish_reason == "length":
        return "max_tokens", None
    if finished.stop_sequence is not None:
        return "stop_sequence", finished.stop_sequence
    return "end_turn", None


def reply(fields: dict[str, Any], text: str, finished: Finished, prompt_tokens: int) -> dict[str, Any]:
    """A whole ``message``: one text block."""
    reason, sequence = stop(finished)
    return {**fields, "content": [{"type": "text", "text": text}], "stop_reason": reason, "stop_sequence": sequence,
            "usage": {"input_tokens": prompt_tokens, "output_tokens": finished.completion_tokens}}


def start_events(fields: dict[str, Any], prompt_tokens: int) -> list[dict[str, Any]]:
    """The events that open a stream: ``message_start``, ``content_block_start``, ``ping``."""
    # like Anthropic's, message_start reports one output token before any is sent
    return [{"type": "message_start", "message": {**fields, "content": [], "stop_reason": None,
                                                  "stop_sequence": None,
                                                  "usage": {"input_tokens": prompt_tokens, "output_tokens": 1}}},
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
            {"type": "ping"}]


def text_event(text: str) -> dict[str, Any]:
    """A ``content_block_delta`` of answer text."""
    return {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}}


def end_events(finished: Finished) -> list[dict[str, Any]]:
    """The events that close a stream: ``content_block_stop``, ``message_delta``, ``message_stop``."""
    reason, sequence = stop(finished)
    return [{"type": "content_block_stop", "index": 0},
            {"type": "message_delta", "delta": {"stop_reason": reason, "stop_sequence": sequence},
             "usage": {"output_tokens": finished.completion_tokens}},
            {"type": "message_stop"}]
