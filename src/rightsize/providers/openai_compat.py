"""Adapter for the OpenAI Chat Completions protocol, through the official ``openai`` SDK.

Serves OpenAI itself and any compatible server (vLLM, Ollama, the llama.cpp server, Gemini's
compatibility endpoint, the course's lab server) by ``base_url``.
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
        # OpenAI's own API wants max_completion_tokens; compatible servers know max_tokens.
        kwargs["max_completion_tokens" if self.base_url is None else "max_tokens"] = opts.max_tokens
        kwargs["temperature"] = opts.temperature
        if opts.stop:
            kwargs["stop"] = opts.stop
        if opts.seed is not None:
            kwargs["seed"] = opts.seed
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
    def _chunk_delta(chunk: Any) -> Delta:
        usage = getattr(chunk, "usage", None)
        text, logprobs, finish = "", (), None
        if chunk.choices:
            choice = chunk.choices[0]
            text = choice.delta.content or ""
            finish = choice.finish_reason
            if choice.logprobs is not None and choice.logprobs.content:
                logprobs = tuple(t.logprob for t in choice.logprobs.content)
        return Delta(
            text=text,
            logprobs=logprobs,
            finish_reason=finish,
            input_tokens=usage.prompt_tokens if usage else None,
            output_tokens=usage.completion_tokens if usage else None,
        )

    @staticmethod
    def _reply_delta(reply: Any) -> Delta:
        choice = reply.choices[0]
        logprobs: tuple[float, ...] = ()
        if choice.logprobs is not None and choice.logprobs.content:
            logprobs = tuple(t.logprob for t in choice.logprobs.content)
        usage = reply.usage
        return Delta(
            text=choice.message.content or "",
            logprobs=logprobs,
            finish_reason=choice.finish_reason,
            input_tokens=usage.prompt_tokens if usage else None,
            output_tokens=usage.completion_tokens if usage else None,
        )

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
