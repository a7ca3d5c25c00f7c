"""Adapter for the OpenAI Chat Completions protocol, through the official ``openai`` SDK.

Serves OpenAI itself and any compatible server (vLLM, Ollama, the llama.cpp server, Gemini's
compatibility endpoint, the course's lab server) by ``base_url``. Which sampling options go out,
and the name of the token limit, come from the model's registry entry
(:meth:`~rightsize.providers.base.Provider.generation_options`); the body and the reading of the
answer are the protocol's (:mod:`rightsize.protocols.chat_completions`), shared with the lean client.
"""

from __future__ import annotations

from typing import Any

import openai

from .. import errors
from ..protocols import chat_completions
from ._sdk import ErrorTable, SdkProvider
from .base import Request

#: every exception class the openai SDK exports, and what it becomes (None: by HTTP status)
OPENAI_ERRORS: ErrorTable = {
    "OpenAIError": errors.ProviderError,
    "APIError": errors.ProviderError,
    "APIStatusError": None,
    "APIConnectionError": errors.OverloadedError,
    "APITimeoutError": errors.ProviderTimeoutError,
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


class OpenAIProvider(SdkProvider):
    """Chat Completions over the ``openai`` SDK (sync and async clients)."""

    api = "openai"
    lab_path = chat_completions.BASE_URL_PATH
    sdk_clients = (openai.OpenAI, openai.AsyncOpenAI)
    sdk_error = openai.OpenAIError
    sdk_errors = OPENAI_ERRORS
    _read_event = staticmethod(chat_completions.read_chunk)
    _read_reply = staticmethod(chat_completions.read_reply)

    def _kwargs(self, request: Request) -> dict[str, Any]:
        kwargs = chat_completions.request_body(request, self.generation_options(request))
        if request.options.timeout:
            kwargs["timeout"] = request.options.timeout
        return kwargs

    def _create(self, client: Any, request: Request) -> Any:
        return client.chat.completions.create(**self._kwargs(request))
