"""Adapter for the Anthropic Messages protocol, through the official ``anthropic`` SDK.

Serves Anthropic itself and the course's lab server. Messages differs from Chat Completions in
ways lesson 05 shows: the system prompt is a top-level field, ``max_tokens`` is required, the
answer comes as content blocks, usage is ``input_tokens``/``output_tokens``, and an overloaded
service answers 529.

The anthropic SDK 2.x has no ``temperature`` (nor ``seed``) parameter. Anthropic's models are
registered as taking neither, so neither is sent to them; the lab server's entry takes a
temperature, which goes in ``extra_body`` (what the SDK adds to the JSON body as given).
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anthropic

from .. import errors
from .base import Delta, Provider, Request
from ._sdk_errors import ErrorTable, map_sdk_error

#: every exception class the anthropic SDK exports, and what it becomes (None: by HTTP status)
ANTHROPIC_ERRORS: ErrorTable = {
    "AnthropicError": errors.ProviderError,
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
    "RequestTooLargeError": errors.BadRequestError,
    "RateLimitError": errors.RateLimitedError,
    "InternalServerError": None,
    "ServiceUnavailableError": errors.OverloadedError,
    "OverloadedError": errors.OverloadedError,
    "DeadlineExceededError": errors.TimeoutError,
    "GatewayTimeoutError": errors.TimeoutError,
    "RequestTimeoutError": errors.TimeoutError,
    "ClientClosedRequestError": errors.TimeoutError,  # 499: the client gave up waiting
    "HTTPNotImplementedError": errors.BadRequestError,  # 501: asking again will not help
    "ContentTooLargeError": errors.BadRequestError,
    "RequestBodyTooLargeAfterDecodingError": errors.BadRequestError,
    "RequestHeaderFieldsTooLargeError": errors.BadRequestError,
    "RequestBodyEncodingInvalidError": errors.BadRequestError,
    "RequestBodyEncodingUnsupportedError": errors.BadRequestError,
    "PreconditionFailedError": errors.BadRequestError,
    "OrganizationTypeNotSupportedError": errors.BadRequestError,
    "ClaudeCodeVersionTooOldError": errors.BadRequestError,
    "WorkspaceHumanReviewDisabledError": errors.BadRequestError,  # a workspace setting, not a transient
    # account and key problems: retrying the same provider will not help
    "CredentialsError": errors.AuthError,
    "IdentityTokenFileError": errors.AuthError,
    "WorkloadIdentityError": errors.AuthError,
    "PaymentRequiredError": errors.AuthError,
    "LinkedOrganizationBillingUnavailableError": errors.AuthError,
    "LinkedOrganizationSpendLimitReachedError": errors.AuthError,
    "OrganizationOnHoldError": errors.AuthError,
    "ParentOrganizationRequiredError": errors.AuthError,
    "ClaudeCodeKeyCreatorNotMemberError": errors.AuthError,
    "SandboxEgressRestrictedError": errors.AuthError,
    "CMEKKeyDisabledError": errors.AuthError,
    "CMEKKeyNetworkBlockedError": errors.AuthError,
    # 429s: a spend or ramp limit is a rate limit that another provider can absorb
    "ContractSpendLimitReachedError": errors.RateLimitedError,
    "EnforcedSpendLimitReachedError": errors.RateLimitedError,
    "RampLimitExceededError": errors.RateLimitedError,
    "CMEKContextUnavailableError": errors.OverloadedError,
    "CMEKKeyUnreachableError": errors.OverloadedError,
    "RetryableError": errors.OverloadedError,
    "APIWebhookValidationError": errors.AuthError,
}


class AnthropicProvider(Provider):
    """Messages over the ``anthropic`` SDK (sync and async clients)."""

    api = "anthropic"

    def _client_args(self) -> dict[str, Any]:
        base_url = self.base_url
        if base_url == "lab":
            from ..lab import lab_url

            base_url = lab_url()
        key = self.key() or "not-needed"
        return {"api_key": key, "base_url": base_url or None, "timeout": self.timeout, "max_retries": 0,
                "default_headers": self.headers or None}

    @functools.cached_property
    def client(self) -> anthropic.Anthropic:
        return anthropic.Anthropic(**self._client_args())

    @functools.cached_property
    def async_client(self) -> anthropic.AsyncAnthropic:
        return anthropic.AsyncAnthropic(**self._client_args())

    def prepare(self) -> None:
        # build both clients now (this may start the lab server) so no request pays for it
        self.client, self.async_client  # noqa: B018

    #: options the SDK has no parameter for: sent in the JSON body as they are, when the model takes them
    BODY_ONLY = ("temperature", "seed")

    def _kwargs(self, request: Request) -> dict[str, Any]:
        opts = request.options
        sent = self.generation_options(request)  # the token limit is max_tokens (the registry checks it)
        extra_body = {name: sent.pop(name) for name in self.BODY_ONLY if name in sent}
        if "stop" in sent:
            sent["stop_sequences"] = sent.pop("stop")
        kwargs: dict[str, Any] = {"model": request.model, "messages": request.messages, "stream": request.stream,
                                  **sent}
        if extra_body:
            kwargs["extra_body"] = extra_body
        if request.system:
            kwargs["system"] = request.system
        if opts.timeout:
            kwargs["timeout"] = opts.timeout
        return kwargs

    @staticmethod
    def _event_delta(event: Any) -> Delta | None:
        kind = event.type
        if kind == "message_start":
            usage = event.message.usage
            return Delta(input_tokens=usage.input_tokens)
        if kind == "content_block_delta" and getattr(event.delta, "type", "") == "text_delta":
            return Delta(text=event.delta.text)
        if kind == "message_delta":
            return Delta(finish_reason=event.delta.stop_reason, output_tokens=event.usage.output_tokens)
        return None

    @staticmethod
    def _reply_delta(reply: Any) -> Delta:
        text = "".join(block.text for block in reply.content if block.type == "text")
        return Delta(
            text=text,
            finish_reason=reply.stop_reason,
            input_tokens=reply.usage.input_tokens,
            output_tokens=reply.usage.output_tokens,
        )

    def _stream(self, request: Request) -> Iterator[Delta]:
        result = self.client.messages.create(**self._kwargs(request))
        if not request.stream:
            yield self._reply_delta(result)
            return
        with result as stream:
            for event in stream:
                delta = self._event_delta(event)
                if delta is not None:
                    yield delta

    async def _astream(self, request: Request) -> AsyncIterator[Delta]:
        result = await self.async_client.messages.create(**self._kwargs(request))
        if not request.stream:
            yield self._reply_delta(result)
            return
        async with result as stream:
            async for event in stream:
                delta = self._event_delta(event)
                if delta is not None:
                    yield delta

    def map_error(self, exc: BaseException) -> errors.ProviderError | None:
        return map_sdk_error(exc, ANTHROPIC_ERRORS, anthropic.AnthropicError, self.model.provider)
