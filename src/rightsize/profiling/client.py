"""A lean streaming HTTP client for the OpenAI and Anthropic wire protocols, for load generation.

The official SDKs build a pydantic object for every streamed event, and their HTTP stack
(``httpx``) spends milliseconds of CPU per request; at hundreds of requests per second on two
cores that costs more than the latency being measured. These adapters speak the same two
protocols over a minimal kept-alive HTTP/1.1 client (:mod:`._http`; server-sent events parsed by hand)
and return the very same :class:`~rightsize.providers.base.Response` objects as the SDK adapters,
with the same clock and the same error mapping (both come from
:class:`~rightsize.providers.base.Provider`), and the same protocol code: the body sent and the
reading of each event are :mod:`rightsize.protocols`'s, as for the SDK adapters; only the transport
is this module's. ``benchmarks/bench_profiler.py`` measures the difference.

Get one with ``rightsize.connect(model, client="lean")`` (or ``client="auto"``, the profiler's
default: lean over HTTP, in-process for the local model).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any, ClassVar

import httpx

from ..errors import ProviderError, ProviderTimeoutError, StreamCutError
from ..protocols import chat_completions, messages, retry_after_seconds, status_error
from ..providers.base import Delta, Provider, Request
from ..registry import ModelInfo
from ._http import HttpPool, Watchdog

__all__ = ["LeanAnthropicProvider", "LeanOpenAIProvider"]

_json_decode = json.JSONDecoder().decode


class _SSEParser:
    """Splits a server-sent-events byte stream into the ``data`` payload of each event."""

    def __init__(self) -> None:
        self._pending = b""
        self._data: list[bytes] = []

    def feed(self, raw: bytes) -> list[bytes]:
        events: list[bytes] = []
        lines = (self._pending + raw).split(b"\n")
        self._pending = lines.pop()
        for line in lines:
            if line.endswith(b"\r"):
                line = line[:-1]
            if not line:
                if self._data:
                    events.append(b"\n".join(self._data))
                    self._data = []
            elif line.startswith(b"data:"):
                self._data.append(line[5:].lstrip(b" "))
            # event:, id:, retry: and comments carry nothing these protocols need
        return events

    def close(self) -> list[bytes]:
        """Whatever a stream that did not end with a blank line left behind."""
        tail = self.feed(b"\n\n") if (self._pending or self._data) else []
        return tail


class _LeanProvider(Provider):
    """Shared part of the lean adapters: URL, shared clients, status errors, the read loop."""

    api: ClassVar[str]
    #: the protocol's default base URL, and where requests go under it
    default_root: ClassVar[str]
    endpoint: ClassVar[str]

    def __init__(self, model: ModelInfo, **kwargs: Any) -> None:
        super().__init__(model, **kwargs)
        self._root: str | None = None
        self._sync_client: httpx.Client | None = None
        self._pool: HttpPool | None = None
        self._pool_loop: asyncio.AbstractEventLoop | None = None

    # -- set-up -----------------------------------------------------------------------------
    def root(self) -> str:
        """The base URL requests go to (``lab`` starts the lab server on first use)."""
        if self._root is None:
            self._root = (self.resolved_base_url() or self.default_root).rstrip("/")
        return self._root

    def prepare(self) -> None:
        self.root()

    def pool(self) -> HttpPool:
        """The connection pool of the running event loop (one per loop: connections are loop-bound)."""
        loop = asyncio.get_running_loop()
        if self._pool is None or self._pool_loop is not loop:
            self._pool = HttpPool()
            self._pool_loop = loop
        return self._pool

    async def aclose(self) -> None:
        """Close the kept-alive connections (the load generator does this at the end of a run)."""
        if self._pool is not None and self._pool_loop is asyncio.get_running_loop():
            self._pool.close()
        self._pool = self._pool_loop = None

    def close(self) -> None:
        if self._sync_client is not None:
            self._sync_client.close()
            self._sync_client = None

    # -- the protocol's part (rightsize.protocols): a subclass binds its module's functions ---
    def _headers(self) -> dict[str, str]:
        raise NotImplementedError

    def _body(self, request: Request) -> dict[str, Any]:
        raise NotImplementedError

    def _event(self, data: dict[str, Any]) -> Delta | None:
        raise NotImplementedError

    def _reply(self, data: dict[str, Any]) -> Delta:
        raise NotImplementedError

    def _status_error(self, status: int, headers: Any, body: bytes) -> ProviderError:
        return status_error(status, body, provider=self.model.provider, retry_after=retry_after_seconds(headers))

    def _prepared(self, request: Request) -> tuple[str, dict[str, str], bytes, float | None]:
        body = json.dumps(self._body(request), separators=(",", ":")).encode()
        headers = {"content-type": "application/json", **self._headers(), **self.headers}
        return self.root() + self.endpoint, headers, body, request.options.timeout

    def _decode(self, payload: bytes) -> tuple[Delta | None, bool]:
        """One event's delta and whether the stream is over."""
        if payload == b"[DONE]":
            return None, True
        try:
            data = _json_decode(payload.decode())
        except ValueError as exc:
            raise StreamCutError(f"{self.model.provider}: unreadable event in the stream: {payload[:80]!r}",
                                 provider=self.model.provider) from exc
        return self._event(data), False

    async def _astream_timed(self, request: Request) -> AsyncIterator[tuple[Delta, float]]:
        """The stream's deltas, each with the time its bytes were read off the socket."""
        url, headers, body, timeout = self._prepared(request)
        watchdog = Watchdog(timeout or self.timeout)
        response = None
        try:
            response = await self.pool().post(url, headers, body, watchdog)
            if response.status >= 400:
                raise self._status_error(response.status, response.headers, await response.aread())
            if not request.stream:
                reply = await response.aread()
                yield self._reply(json.loads(reply)), time.perf_counter()
                return
            parser = _SSEParser()
            done = False
            async for raw, arrived in response.iter_timed():
                watchdog.touch()
                if done:
                    continue  # read the body to its end so the connection can be kept alive
                for payload in parser.feed(raw):
                    delta, done = self._decode(payload)
                    if delta is not None:
                        yield delta, arrived
                    if done:
                        break
            for payload in parser.close():
                delta, _ = self._decode(payload)
                if delta is not None:
                    yield delta, time.perf_counter()
        except asyncio.CancelledError:
            if not watchdog.fired:
                raise
            watchdog.absorb()
            raise ProviderTimeoutError(f"{self.model.provider}: no answer from {url} for {timeout or self.timeout:g} s",
                                       provider=self.model.provider) from None
        finally:
            watchdog.cancel()
            if response is not None:
                response.release()

    async def _astream(self, request: Request) -> AsyncIterator[Delta]:
        async for delta, _ in self._astream_timed(request):
            yield delta

    def _stream(self, request: Request) -> Iterator[Delta]:
        url, headers, body, timeout = self._prepared(request)
        if self._sync_client is None:
            self._sync_client = httpx.Client(timeout=self.timeout)
        with self._sync_client.stream("POST", url, content=body, headers=headers,
                                      timeout=self.timeout if timeout is None else timeout) as response:
            if response.status_code >= 400:
                raise self._status_error(response.status_code, response.headers, response.read())
            if not request.stream:
                yield self._reply(json.loads(response.read()))
                return
            parser = _SSEParser()
            for raw in response.iter_raw():
                for payload in parser.feed(raw):
                    delta, done = self._decode(payload)
                    if delta is not None:
                        yield delta
                    if done:
                        return


class LeanOpenAIProvider(_LeanProvider):
    """Chat Completions (OpenAI, vLLM, Ollama, llama.cpp server, the lab server), lean."""

    api = "openai"
    lab_path = chat_completions.BASE_URL_PATH
    default_root = chat_completions.DEFAULT_BASE_URL
    endpoint = chat_completions.ENDPOINT

    def _headers(self) -> dict[str, str]:
        return chat_completions.headers(self.wire_key())

    def _body(self, request: Request) -> dict[str, Any]:
        return chat_completions.request_body(request, self.generation_options(request))

    def _event(self, data: dict[str, Any]) -> Delta | None:
        return chat_completions.read_chunk(data, self.model.provider)

    def _reply(self, data: dict[str, Any]) -> Delta:
        return chat_completions.read_reply(data)


class LeanAnthropicProvider(_LeanProvider):
    """Anthropic Messages (Anthropic, the lab server), lean."""

    api = "anthropic"
    lab_path = messages.BASE_URL_PATH
    default_root = messages.DEFAULT_BASE_URL
    endpoint = messages.ENDPOINT

    def _headers(self) -> dict[str, str]:
        return messages.headers(self.wire_key())

    def _body(self, request: Request) -> dict[str, Any]:
        return messages.request_body(request, self.generation_options(request))

    def _event(self, data: dict[str, Any]) -> Delta | None:
        return messages.read_event(data, self.model.provider)

    def _reply(self, data: dict[str, Any]) -> Delta:
        return messages.read_reply(data)
