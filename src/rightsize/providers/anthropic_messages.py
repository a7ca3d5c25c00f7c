"""Adapter for the Anthropic Messages protocol, through the official ``anthropic`` SDK.

Serves Anthropic itself and the course's lab server. Messages differs from Chat Completions in
ways lesson 05 shows: the system prompt is a top-level field, ``max_tokens`` is required, the
answer comes as content blocks, usage is ``input_tokens``/``output_tokens``, and an overloaded
service answers 529.

The anthropic SDK 2.x has no ``temperature`` (nor ``seed``) parameter. Anthropic's models are
registered as taking neither, so neither is sent to them; the lab server's entry takes a
temperature, which goes in ``extra_body`` (what the SDK adds to the JSON body as given).

The body and the reading of the answer are the protocol's (:mod:`rightsize.protocols.messages`),
shared with the lean client.
"""

from __future__ import annotations

from typing import Any

import anthropic

from .. import errors
from ..protocols import messages
from ._sdk import ErrorTable, SdkProvider
from .base import Request

#: every exception class the anthropic SDK exports, and what it becomes (None: by HTTP status)
ANTHROPIC_ERRORS: ErrorTable = {
    "AnthropicError": errors.ProviderError,
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
    "RequestTooLargeError": errors.BadRequestError,
    "RateLimitError": errors.RateLimitedError,
    "InternalServerError": None,
    "ServiceUnavailableError": errors.OverloadedError,
    "OverloadedError": errors.OverloadedError,
    "DeadlineExceededError": errors.ProviderTimeoutError,
    "GatewayTimeoutError": errors.ProviderTimeoutError,
    "RequestTimeoutError": errors.ProviderTimeoutError,
    "ClientClosedRequestError": errors.ProviderTimeoutError,  # 499: the client gave up waiting
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


class AnthropicProvider(SdkProvider):
    """Messages over the ``anthropic`` SDK (sync and async clients)."""

    api = "anthropic"
    lab_path = messages.BASE_URL_PATH
    sdk_clients = (anthropic.Anthropic, anthropic.AsyncAnthropic)
    sdk_error = anthropic.AnthropicError
    sdk_errors = ANTHROPIC_ERRORS
    _read_event = staticmethod(messages.read_event)
    _read_reply = staticmethod(messages.read_reply)

    #: options the SDK has no parameter for: sent in the JSON body as they are, when the model takes them
    BODY_ONLY = ("temperature", "seed")

    def _kwargs(self, request: Request) -> dict[str, Any]:
        kwargs = messages.request_body(request, self.generation_options(request))
        extra_body = {name: kwargs.pop(name) for name in self.BODY_ONLY if name in kwargs}
        if extra_body:
            kwargs["extra_body"] = extra_body
        if request.options.timeout:
            kwargs["timeout"] = request.options.timeout
        return kwargs

    def _create(self, client: Any, request: Request) -> Any:
        return client.messages.create(**self._kwargs(request))
