"""Contract tests for the core of a Messages-protocol adapter: request in, answer out, errors mapped.

Lesson 05 asks learners to write the two small functions at the heart of an adapter for
Anthropic's Messages protocol, the part that differs from OpenAI's Chat Completions:

``build_request(messages, max_tokens, temperature=None) -> dict``
    the wire body from the course's neutral message list (``[{"role", "content"}]``, a system
    message allowed first);
``parse_response(status, body) -> dict``
    a decoded HTTP answer to ``{"text", "input_tokens", "output_tokens", "finish"}`` (``finish`` is
    ``"complete"``, ``"truncated"`` or ``"other"``), or, for an error status, raise the course's
    exception for it (:mod:`rightsize.errors`).

:func:`run_contract` checks any such pair against fixed cases in the shapes the Messages API and
the course's lab server use (system prompt as a top-level field, ``max_tokens`` required, content
as a list of blocks, ``input_tokens``/``output_tokens``, ``stop_reason``, error bodies with a
``type``), and returns one :class:`ContractResult` per check. The course's own adapter passes them
(``tests/test_provider_contract.py``); a learner's passes them when it is right.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..errors import (
    AuthError,
    BadRequestError,
    OverloadedError,
    ProviderError,
    RateLimitedError,
)

__all__ = ["ContractResult", "reference_build_request", "reference_parse_response", "run_contract"]

BuildRequest = Callable[..., dict[str, Any]]
ParseResponse = Callable[[int, dict[str, Any]], dict[str, Any]]

_CONVERSATION = [
    {"role": "system", "content": "You sort support tickets."},
    {"role": "user", "content": "My card was charged twice."},
    {"role": "assistant", "content": "billing"},
    {"role": "user", "content": "And the parcel is late."},
]

_OK_BODY = {
    "id": "msg_1", "type": "message", "role": "assistant", "model": "smollm2-135m-instruct",
    "content": [{"type": "text", "text": "ship"}, {"type": "text", "text": "ping"}],
    "stop_reason": "end_turn", "stop_sequence": None, "usage": {"input_tokens": 31, "output_tokens": 2},
}


def _error_body(kind: str, message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": kind, "message": message}}


@dataclass(frozen=True)
class ContractResult:
    """One check: its name, whether it passed, and what was wrong."""

    check: str
    passed: bool
    detail: str = ""


def _run(name: str, test: Callable[[], str | None]) -> ContractResult:
    try:
        problem = test()
    except Exception as exc:  # noqa: BLE001 - a learner's code may raise anything: report it, never crash
        return ContractResult(name, False, f"raised {type(exc).__name__}: {exc}")
    return ContractResult(name, problem is None, problem or "")


def run_contract(build_request: BuildRequest, parse_response: ParseResponse) -> list[ContractResult]:
    """Check an adapter core against the Messages protocol; one result per check."""

    def system_is_top_level() -> str | None:
        body = build_request(_CONVERSATION, max_tokens=20)
        if body.get("system") != "You sort support tickets.":
            return "the system message must go in the top-level 'system' field"
        if any(m.get("role") == "system" for m in body.get("messages", [])):
            return "'messages' may hold only user and assistant turns"
        if [m.get("content") for m in body["messages"]] != [m["content"] for m in _CONVERSATION[1:]]:
            return "the user and assistant turns must be kept, in order"
        return None

    def no_system_no_field() -> str | None:
        body = build_request(_CONVERSATION[1:2], max_tokens=5)
        if "system" in body:
            return "without a system message, send no 'system' field"
        return None

    def max_tokens_required() -> str | None:
        body = build_request(_CONVERSATION[1:2], max_tokens=7)
        if body.get("max_tokens") != 7:
            return "'max_tokens' must be sent as given"
        try:
            build_request(_CONVERSATION[1:2], max_tokens=None)
        except ValueError:
            return None
        return "the Messages API requires max_tokens: raise ValueError when it is None"

    def temperature_only_when_given() -> str | None:
        if "temperature" in build_request(_CONVERSATION[1:2], max_tokens=5):
            return "send 'temperature' only when one is given"
        if build_request(_CONVERSATION[1:2], max_tokens=5, temperature=0.0).get("temperature") != 0.0:
            return "a temperature of 0.0 is a value: send it"
        return None

    def text_blocks_joined() -> str | None:
        got = parse_response(200, _OK_BODY)
        return None if got.get("text") == "shipping" else "join the text of every 'text' content block, in order"

    def usage_fields() -> str | None:
        got = parse_response(200, _OK_BODY)
        if (got.get("input_tokens"), got.get("output_tokens")) != (31, 2):
            return "read usage from 'input_tokens' and 'output_tokens' (not OpenAI's prompt/completion names)"
        return None

    def finish_mapped() -> str | None:
        expected = {"end_turn": "complete", "stop_sequence": "complete", "max_tokens": "truncated",
                    "refusal": "other", "tool_use": "other"}
        for reason, finish in expected.items():
            got = parse_response(200, {**_OK_BODY, "stop_reason": reason}).get("finish")
            if got != finish:
                return f"stop_reason {reason!r} should give finish {finish!r}, not {got!r}"
        return None

    def errors_mapped() -> str | None:
        cases: list[tuple[int, dict[str, Any], type[ProviderError]]] = [
            (429, _error_body("rate_limit_error", "slow down"), RateLimitedError),
            (529, _error_body("overloaded_error", "busy"), OverloadedError),
            (503, _error_body("api_error", "unavailable"), OverloadedError),
            (400, _error_body("invalid_request_error", "max_tokens: field required"), BadRequestError),
            (404, _error_body("not_found_error", "unknown model"), BadRequestError),
            (401, _error_body("authentication_error", "bad key"), AuthError),
        ]
        for status, body, error in cases:
            try:
                parse_response(status, body)
            except error:
                continue
            except Exception as exc:  # noqa: BLE001 - the wrong exception is the finding
                return f"status {status} should raise {error.__name__}, not {type(exc).__name__}"
            return f"status {status} should raise {error.__name__}, but nothing was raised"
        return None

    checks = [system_is_top_level, no_system_no_field, max_tokens_required, temperature_only_when_given,
              text_blocks_joined, usage_fields, finish_mapped, errors_mapped]
    return [_run(check.__name__.replace("_", " "), check) for check in checks]


# -- the course's own answer, which the contract tests run against ------------------------------------
def reference_build_request(messages: list[dict[str, str]], max_tokens: int | None,
                            temperature: float | None = None) -> dict[str, Any]:
    """A Messages request body (the model name is added by the caller)."""
    if max_tokens is None:
        raise ValueError("the Messages API requires max_tokens")
    system = [m["content"] for m in messages if m["role"] == "system"]
    body: dict[str, Any] = {"max_tokens": max_tokens,
                            "messages": [m for m in messages if m["role"] != "system"]}
    if system:
        body["system"] = "\n\n".join(system)
    if temperature is not None:
        body["temperature"] = temperature
    return body


_ERRORS: dict[int, type[ProviderError]] = {429: RateLimitedError, 529: OverloadedError, 503: OverloadedError,
                                           500: OverloadedError, 401: AuthError, 403: AuthError}


def reference_parse_response(status: int, body: dict[str, Any]) -> dict[str, Any]:
    """Text, usage and finish of a Messages answer; the course's exception for an error status."""
    if status >= 400:
        message = str((body.get("error") or {}).get("message", body))
        raise _ERRORS.get(status, BadRequestError)(message, status=status)
    text = "".join(block.get("text", "") for block in body.get("content", []) if block.get("type") == "text")
    reason = str(body.get("stop_reason"))
    finish = {"end_turn": "complete", "stop_sequence": "complete", "max_tokens": "truncated"}.get(reason, "other")
    usage = body.get("usage") or {}
    return {"text": text, "input_tokens": usage.get("input_tokens"), "output_tokens": usage.get("output_tokens"),
            "finish": finish}
