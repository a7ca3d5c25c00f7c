"""The two wire protocols the course speaks, each written once for both of its sides.

:mod:`.chat_completions` is OpenAI's Chat Completions, :mod:`.messages` is Anthropic's Messages.
Each module holds what a client sends and how it reads the answer (used by the SDK adapters in
:mod:`rightsize.providers` and by the lean client in :mod:`rightsize.profiling.client`), and what a
server accepts and answers (used by the lab server, :mod:`rightsize.server.app`). Nothing here does
any I/O: these are the shapes of the JSON on the wire and what they mean.

This module holds what the two share: :class:`ProtocolError`, a request a server rejects; the
checks both servers run on a request body; the ``retry-after`` hint, sent and read; and
:func:`status_error`, what a client makes of an error reply (both put its message at ``error.message``).
"""

from __future__ import annotations

import email.utils
import json
import time
from collections.abc import Mapping
from typing import Any

from ..errors import ProviderError, error_for_status

__all__ = [
    "ProtocolError",
    "optional_number",
    "required",
    "retry_after_headers",
    "retry_after_seconds",
    "status_error",
    "stop_list",
    "text_content",
    "token_limit",
]


class ProtocolError(Exception):
    """A request the protocol rejects, to be answered in the protocol's own error shape.

    ``status`` is the HTTP status; ``kind`` a short reason for the server's log (``invalid_request``,
    ``not_found``, ``fault``...); ``code`` and ``param`` fill the fields of the same name in a Chat
    Completions error; ``retry_after`` (seconds) becomes the ``retry-after`` headers.
    """

    def __init__(self, status: int, kind: str, message: str, *, code: str | None = None,
                 param: str | None = None, retry_after: float | None = None) -> None:
        self.status, self.kind, self.message = status, kind, message
        self.code, self.param, self.retry_after = code, param, retry_after
        super().__init__(message)


def _invalid(message: str, param: str | None = None) -> ProtocolError:
    return ProtocolError(400, "invalid_request", message, param=param)


# -- the checks both servers run on a request body ----------------------------------------------
def text_content(content: Any, where: str) -> str:
    """A message's text: a string, or a list of text blocks (Messages) or text parts (Chat Completions)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for block in content:
            if not (isinstance(block, dict) and block.get("type") == "text" and isinstance(block.get("text"), str)):
                raise _invalid(f"{where}: the lab server only takes text content blocks")
            parts.append(block["text"])
        return "".join(parts)
    raise _invalid(f"{where}: content must be a string or a list of text blocks")


def required(data: dict[str, Any], key: str, kind: type | tuple[type, ...], label: str) -> Any:
    """``data[key]``, which must be present and of type ``kind`` (described as ``label``)."""
    if key not in data:
        raise _invalid(f"{key}: Field required", key)
    value = data[key]
    # bool is an int to Python, never to a JSON schema
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise _invalid(f"{key}: must be {label}", key)
    return value


def optional_number(data: dict[str, Any], key: str, low: float, high: float, default: float) -> float:
    """``data[key]`` as a float from ``low`` to ``high``; ``default`` when absent or null."""
    value = data.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise _invalid(f"{key}: must be a number from {low} to {high}", key)
    return float(value)


def stop_list(value: Any, key: str) -> list[str]:
    """Stop strings given as nothing, one string or a list of strings, as a list."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    raise _invalid(f"{key}: must be a string or a list of strings", key)


def token_limit(value: Any, key: str) -> int:
    """A token limit (``max_tokens`` and its kin): an integer of at least 1."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise _invalid(f"{key}: must be an integer of at least 1", key)
    return value


# -- the server's retry hint, both ways ---------------------------------------------------------
def retry_after_headers(seconds: float | None) -> dict[str, str]:
    """The headers that tell a client to wait ``seconds`` (both protocols' clouds send both)."""
    if seconds is None:
        return {}
    return {"retry-after": f"{seconds:g}", "retry-after-ms": str(int(seconds * 1000))}


def retry_after_seconds(headers: Mapping[str, str] | None) -> float | None:
    """The server's retry hint in seconds, from ``retry-after-ms`` or ``retry-after`` (seconds or a date)."""
    if not headers:
        return None
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            return max(0.0, float(millis) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value) if value else None
        return None if parsed is None else max(0.0, parsed.timestamp() - time.time())


# -- what a client makes of an error reply ------------------------------------------------------
def status_error(status: int, body: bytes, *, provider: str | None = None,
                 retry_after: float | None = None) -> ProviderError:
    """The rightsize exception for an HTTP error reply of either protocol (both put the message at
    ``error.message``; a body that is not such JSON is quoted as it is)."""
    try:
        data = json.loads(body)
        error = data.get("error", data)
        message = str(error.get("message") or error)
    except (ValueError, AttributeError):
        message = body[:200].decode(errors="replace") or "no message"
    prefix = f"{provider}: " if provider else ""
    return error_for_status(status, f"{prefix}HTTP {status}: {message}", provider=provider, retry_after=retry_after)
