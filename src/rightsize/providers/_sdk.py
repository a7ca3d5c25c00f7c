"""What the adapters over the official ``openai`` and ``anthropic`` SDKs share.

The two SDKs share one design: a client and an async client built from the same arguments, one
``create`` call that returns a reply or a stream of pydantic events, and an ``APIStatusError``
carrying the HTTP response (plus connection, timeout and response-validation errors).
:class:`SdkProvider` builds the clients, reads the stream (each event's ``model_dump()`` through
the protocol's reader in :mod:`rightsize.protocols`) and maps the errors, so an adapter only says
which SDK it is and what ``create`` gets.

:func:`map_sdk_error` takes a table naming every exception class the SDK exports; a test fails when
the SDK grows a class the table does not name, so no SDK error reaches a learner unwrapped.
"""

from __future__ import annotations

import functools
from abc import abstractmethod
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any, ClassVar

from .. import errors
from ..protocols import retry_after_seconds
from .base import Delta, Provider, Request

# what to use for an SDK class name; None means "decide from the HTTP status"
ErrorTable = Mapping[str, type[errors.ProviderError] | None]


def map_sdk_error(
    exc: BaseException, table: ErrorTable, sdk_base: type[BaseException], provider: str
) -> errors.ProviderError | None:
    """The rightsize error for ``exc``, or None when ``exc`` is not from this SDK."""
    if not isinstance(exc, sdk_base):
        return None
    status = getattr(exc, "status_code", None)
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None) if response is not None else None
    retry_after = retry_after_seconds(headers)
    message = f"{provider}: {exc}"
    for cls in type(exc).__mro__:
        if cls.__name__ in table:
            target = table[cls.__name__]
            if target is None and isinstance(status, int):
                return errors.error_for_status(
                    status, message, provider=provider, retry_after=retry_after
                )
            if target is not None:
                return target(message, status=status, provider=provider, retry_after=retry_after)
    return errors.ProviderError(message, status=status, provider=provider, retry_after=retry_after)


class SdkProvider(Provider):
    """Base of the SDK adapters: their clients, the read loop and the error mapping.

    A subclass names its SDK (``sdk_clients``, ``sdk_error``, ``sdk_errors``) and implements
    :meth:`_create` and the two readers.
    """

    #: the SDK's client classes, sync and async
    sdk_clients: ClassVar[tuple[type, type]]
    #: the base class of the SDK's exceptions, and what each of them becomes
    sdk_error: ClassVar[type[BaseException]]
    sdk_errors: ClassVar[ErrorTable]

    def _client_args(self) -> dict[str, Any]:
        # retries are the routing layer's decision (rightsize.routing.fallback), never the SDK's
        return {"api_key": self.wire_key(), "base_url": self.resolved_base_url(), "timeout": self.timeout,
                "max_retries": 0, "default_headers": self.headers or None}

    @functools.cached_property
    def client(self) -> Any:
        return self.sdk_clients[0](**self._client_args())

    @functools.cached_property
    def async_client(self) -> Any:
        return self.sdk_clients[1](**self._client_args())

    def prepare(self) -> None:
        # build both clients now (this may start the lab server) so no request pays for it
        self.client, self.async_client  # noqa: B018

    @abstractmethod
    def _create(self, client: Any, request: Request) -> Any:
        """Call the SDK's ``create`` on ``client`` (an awaitable with the async client)."""

    @staticmethod
    @abstractmethod
    def _read_event(data: dict[str, Any]) -> Delta | None:
        """A streamed event's ``model_dump()`` as a delta (None when it carries nothing)."""

    @staticmethod
    @abstractmethod
    def _read_reply(data: dict[str, Any]) -> Delta:
        """A whole reply's ``model_dump()`` as a delta."""

    def _stream(self, request: Request) -> Iterator[Delta]:
        result = self._create(self.client, request)
        if not request.stream:
            yield self._read_reply(result.model_dump())
            return
        with result as stream:
            for event in stream:
                delta = self._read_event(event.model_dump())
                if delta is not None:
                    yield delta

    async def _astream(self, request: Request) -> AsyncIterator[Delta]:
        result = await self._create(self.async_client, request)
        if not request.stream:
            yield self._read_reply(result.model_dump())
            return
        async with result as stream:
            async for event in stream:
                delta = self._read_event(event.model_dump())
                if delta is not None:
                    yield delta

    def map_error(self, exc: BaseException) -> errors.ProviderError | None:
        return map_sdk_error(exc, self.sdk_errors, self.sdk_error, self.model.provider)
