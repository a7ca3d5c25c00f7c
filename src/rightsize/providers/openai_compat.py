"""Adapter for the OpenAI Chat Completions protocol, through the official ``openai`` SDK.

Serves OpenAI itself and any compatible server (vLLM, Ollama, the llama.cpp server, Gemini's
compatibility endpoint, the course's lab server) by ``base_url``. Which sampling options go out,
and the name of the token limit, come from the model's registry entry
(:meth:`~rightsize.providers.base.Provider.generation_options`).
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Iterator
from typing import Any

import openai

from .. import errors
from .base import Delta, Provider, Request
from ._sdk_errors import ErrorTable, map_sdk_error

#: every exception class the openai SDK exports, and what it becomes (None: by HTTP status)
OPENAI_ERRORS: ErrorTable = {
    "OpenAIError": errors.ProviderError,
    "APIError": errors.ProviderError,
    "APIStatusError": None,
    "APIConnectionError": errors.OverloadedError,
    "APITimeoutError": errors.TimeoutError,
    "APIResponseValidationError": errors.ProviderError,
    "BadRequestError": errors.BadRequestError,
    "AuthenticationError": errors.AuthError,
    "PermissionDeniedError": errors.AuthError,
    "NotFoundError": errors.BadRequestError,
    "ConflictError": errors.BadRequestError,
    "UnprocessableEntityError": errors.BadRequestError,
    "RateLimitError": errors.RateLimitedError,
    "InternalServerError": None,  # 500/502/503 all mean "overloaded or unavailable"
    "LengthFinishReasonError": errors.BadRequestError,
    "ContentFilterFinishReasonError": errors.BadRequestError,
    "InvalidWebhookSignatureError": errors.AuthError,
    "OAuthError": errors.AuthError,
    "WebSocketConnectionClosedError": errors.StreamCutError,
    "WebSocketQueueFullError": errors.OverloadedError,
}


class OpenAIProvider(Provider):
    """Chat Completions over the ``openai`` SDK (sync and async clients)."""

    api = "openai"

    def _base_url(self) -> str | None:
        if self.base_url == "lab":
            from ..lab import lab_url

            return lab_url() + "/v1"
        return self.base_url or None

    def _client_args(self) -> dict[str, Any]:
        # A compatible server without keys still needs a non-empty api_key for the SDK.
        key = self.key() or "not-needed"
        return {"api_key": key, "base_url": self._base_url(), "timeout": self.timeout, "max_retries": 0,
                "default_headers": self.headers or None}

    @functools.cached_property
    def client(self) -> openai.OpenAI:
        return openai.OpenAI(**self._client_args())

    @functools.cached_property
    def async_client(self) -> openai.AsyncOpenAI:
        return openai.AsyncOpenAI(**self._client_args())

    def prepare(self) -> None:
        # build both clients now (this may start the lab server) so no request pays for it
        self.client, self.async_client  # noqa: B018

    def _kwargs(self, request: Request) -> dict[str, Any]:
        opts = request.options
        messages = list(request.messages)
        if request.system:
            messages.insert(0, {"role": "system", "content": request.system})
        kwargs: dict[str, Any] = {"model": request.model, "messages": messages, "stream": request.stream}
        kwargs.update(self.generation_options(request))  # Chat Completions names: temperature, seed, stop
        if opts.json_schema is not None:
            kwargs["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "answer", "schema": opts.json_schema},
            }
        if opts.logprobs:
            kwargs["logprobs"] = True
        if opts.timeout:
            kwargs["timeout"] = opts.timeout
        if request.stream:
            kwargs["stream_options"] = {"include_usage": True}
        return kwargs

    @staticmethod
    def _usage_counts(usage: Any) -> tuple[int | None, int | None, int | None]:
        """Input, output and reasoning tokens of a Chat Completions ``usage`` (all None without one)."""
        if usage is None:
            return None, None, None
        details = getattr(usage, "completion_tokens_details", None)
        reasoning = getattr(details, "reasoning_tokens", None) if details is not None else None
        prompt, output = usage.prompt_tokens, usage.completion_tokens
        total = getattr(usage, "total_tokens", None)
        # OpenAI counts reasoning inside completion_tokens (and bills it as output). A compatible
        # server that counts it apart gives itself away: its total is prompt + completion + reasoning.
        if reasoning and None not in (prompt, output, total) and total == prompt + output + reasoning:
            output += reasoning
        return prompt, output, reasoning

    @classmethod
    def _chunk_delta(cls, chunk: Any) -> Delta:
        text, logprobs, finish = "", (), None
        if chunk.choices:
            choice = chunk.choices[0]
            text = choice.delta.content or ""
            finish = choice.finish_reason
            if choice.logprobs is not None and choice.logprobs.content:
                logprobs = tuple(t.logprob for t in choice.logprobs.content)
        input_tokens, output_tokens, reasoning_tokens = cls._usage_counts(getattr(chunk, "usage", None))
        return Delta(text=text, logprobs=logprobs, finish_reason=finish, input_tokens=input_tokens,
                     output_tokens=output_tokens, reasoning_tokens=reasoning_tokens)

    @classmethod
    def _reply_delta(cls, reply: Any) -> Delta:
        choice = reply.choices[0]
        logprobs: tuple[float, ...] = ()
        if choice.logprobs is not None and choice.logprobs.content:
            logprobs = tuple(t.logprob for t in choice.logprobs.content)
        input_tokens, output_tokens, reasoning_tokens = cls._usage_counts(reply.usage)
        return Delta(text=choice.message.content or "", logprobs=logprobs, finish_reason=choice.finish_reason,
                     input_tokens=input_tokens, output_tokens=output_tokens, reasoning_tokens=reasoning_tokens)

    def _stream(self, request: Request) -> Iterator[Delta]:
        result = self.client.chat.completions.create(**self._kwargs(request))
        if not request.stream:
            yield self._reply_delta(result)
            return
        with result as stream:
            for chunk in stream:
                yield self._chunk_delta(chunk)

    async def _astream(self, request: Request) -> AsyncIterator[Delta]:
        result = await self.async_client.chat.completions.create(**self._kwargs(request))
        if not request.stream:
            yield self._reply_delta(result)
            return
        async with result as stream:
            async for chunk in stream:
                yield self._chunk_delta(chunk)

    def map_error(self, exc: BaseException) -> errors.ProviderError | None:
        return map_sdk_error(exc, OPENAI_ERRORS, openai.OpenAIError, self.model.provider)
