"""A lean streaming HTTP client for the OpenAI and Anthropic wire protocols, for load generation.

The official SDKs build a pydantic object for every streamed event, and their HTTP stack
(``httpx``) spends milliseconds of CPU per request; at hundreds of requests per second on two
cores that costs more than the latency being measured. These adapters speak the same two
protocols over a minimal kept-alive HTTP/1.1 client (:mod:`._http`; server-sent events parsed by hand)
and return the very same :class:`~rightsize.providers.base.Response` objects as the SDK adapters,
with the same clock and the same error mapping (both come from
:class:`~rightsize.providers.base.Provider`). ``benchmarks/bench_profiler.py`` measures the
difference. Single requests through the SDK adapters (:func:`rightsize.connect`) stay available.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any, ClassVar

import httpx

from ..errors import ProviderError, RightsizeError, StreamCutError, TimeoutError, error_for_status
from ..providers import adapter_class, endpoint_model
from ..providers._sdk_errors import retry_after_seconds
from ..providers.base import Delta, Provider, Request, Response
from ..registry import ModelInfo, get_model
from ._http import HttpPool, Watchdog

__all__ = ["LeanAnthropicProvider", "LeanOpenAIProvider", "make_provider"]

_ANTHROPIC_ERROR_STATUS = {"rate_limit_error": 429, "overloaded_error": 529, "api_error": 500,
                           "authentication_error": 401, "permission_error": 403,
                           "invalid_request_error": 400, "not_found_error": 404, "timeout_error": 504}


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
    default_root: ClassVar[str]

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
            base = self.base_url
            if base == "lab":
                from ..lab import lab_url

                base = lab_url() + ("/v1" if self.api == "openai" else "")
            self._root = (base or self.default_root).rstrip("/")
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

    # -- the protocol's part ----------------------------------------------------------------
    def _endpoint(self) -> str:
        raise NotImplementedError

    def _headers(self) -> dict[str, str]:
        raise NotImplementedError

    def _body(self, request: Request) -> dict[str, Any]:
        raise NotImplementedError

    def _event(self, data: dict[str, Any]) -> Delta | None:
        raise NotImplementedError

    def _reply(self, data: dict[str, Any]) -> Delta:
        raise NotImplementedError

    @staticmethod
    def _error_message(body: bytes) -> str:
        try:
            data = json.loads(body)
            error = data.get("error", data)
            return str(error.get("message") or error)
        except (ValueError, AttributeError):
            return body[:200].decode(errors="replace") or "no message"

    def _status_error(self, status: int, headers: Any, body: bytes) -> ProviderError:
        return error_for_status(status, f"{self.model.provider}: HTTP {status}: {self._error_message(body)}",
                                provider=self.model.provider, retry_after=retry_after_seconds(headers))

    def _prepared(self, request: Request) -> tuple[str, dict[str, str], bytes, float | None]:
        body = json.dumps(self._body(request), separators=(",", ":")).encode()
        headers = {"content-type": "application/json", **self._headers(), **self.headers}
        return self.root() + self._endpoint(), headers, body, request.options.timeout

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
            raise TimeoutError(f"{self.model.provider}: no answer from {url} for {timeout or self.timeout:g} s",
                               provider=self.model.provider) from None
        finally:
            watchdog.cancel()
            if response is not None:
                response.release()

    async def _astream(self, request: Request) -> AsyncIterator[Delta]:
        async for delta, _ in self._astream_timed(request):
            yield delta

    async def acomplete(
        self,
        prompt: str | list[dict[str, str]],
        *,
        system: str | None = None,
        stream: bool = True,
        raise_errors: bool = True,
        **options: Any,
    ) -> Response:
        """As :meth:`Provider.acomplete`, but each chunk keeps the time its bytes came off the socket
        rather than the time the event loop got round to it (which, with many streams at once,
        includes the other streams' work)."""
        request = self._request(prompt, system, stream, options)
        self.prepare()
        response = self._start(request)
        try:
            async for delta, arrived in self._astream_timed(request):
                self._take(response, delta, arrived)
        except Exception as exc:
            return self._finish(response, exc, raise_errors)
        return self._finish(response, None, raise_errors)

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
    default_root = "https://api.openai.com/v1"

    def _endpoint(self) -> str:
        return "/chat/completions"

    def _headers(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.key() or 'not-needed'}"}

    def _body(self, request: Request) -> dict[str, Any]:
        opts = request.options
        messages = list(request.messages)
        if request.system:
            messages.insert(0, {"role": "system", "content": request.system})
        body: dict[str, Any] = {"model": request.model, "messages": messages, "stream": request.stream}
        # what this model takes, by its registry entry (token-limit name, fixed temperature): one rule set
        body.update(self.generation_options(request))
        if opts.json_schema is not None:
            body["response_format"] = {"type": "json_schema",
                                       "json_schema": {"name": "answer", "schema": opts.json_schema}}
        if opts.logprobs:
            body["logprobs"] = True
        if request.stream:
            body["stream_options"] = {"include_usage": True}
        return body

    def _event(self, data: dict[str, Any]) -> Delta | None:
        if "error" in data:
            error = data["error"] if isinstance(data["error"], dict) else {"message": data["error"]}
            raise error_for_status(int(error.get("code") or 500) if str(error.get("code", "")).isdigit() else 500,
                                   f"{self.model.provider}: error in the stream: {error.get('message')}",
                                   provider=self.model.provider)
        usage = data.get("usage")
        text, finish, logprobs = "", None, ()
        choices = data.get("choices")
        if choices:
            choice = choices[0]
            text = (choice.get("delta") or {}).get("content") or ""
            finish = choice.get("finish_reason")
            lp = choice.get("logprobs")
            if lp and lp.get("content"):
                logprobs = tuple(t["logprob"] for t in lp["content"])
        return Delta(text=text, logprobs=logprobs, finish_reason=finish,
                     input_tokens=usage.get("prompt_tokens") if usage else None,
                     output_tokens=usage.get("completion_tokens") if usage else None)

    def _reply(self, data: dict[str, Any]) -> Delta:
        choice = data["choices"][0]
        usage = data.get("usage") or {}
        lp = choice.get("logprobs")
        logprobs = tuple(t["logprob"] for t in lp["content"]) if lp and lp.get("content") else ()
        return Delta(text=(choice.get("message") or {}).get("content") or "", logprobs=logprobs,
                     finish_reason=choice.get("finish_reason"), input_tokens=usage.get("prompt_tokens"),
                     output_tokens=usage.get("completion_tokens"))


class LeanAnthropicProvider(_LeanProvider):
    """Anthropic Messages (Anthropic, the lab server), lean."""

    api = "anthropic"
    default_root = "https://api.anthropic.com"

    def _endpoint(self) -> str:
        return "/v1/messages"

    def _headers(self) -> dict[str, str]:
        return {"x-api-key": self.key() or "not-needed", "anthropic-version": "2023-06-01"}

    def _body(self, request: Request) -> dict[str, Any]:
        body: dict[str, Any] = {"model": request.model, "messages": request.messages, "stream": request.stream}
        options = self.generation_options(request)  # by the registry entry, as the SDK adapter sends them
        if "stop" in options:
            options["stop_sequences"] = options.pop("stop")
        body.update(options)
        if request.system:
            body["system"] = request.system
        return body

    def _event(self, data: dict[str, Any]) -> Delta | None:
        kind = data.get("type")
        if kind == "content_block_delta":
            delta = data.get("delta") or {}
            return Delta(text=delta.get("text") or "") if delta.get("type") == "text_delta" else None
        if kind == "message_start":
            usage = (data.get("message") or {}).get("usage") or {}
            return Delta(input_tokens=usage.get("input_tokens"))
        if kind == "message_delta":
            usage = data.get("usage") or {}
            return Delta(finish_reason=(data.get("delta") or {}).get("stop_reason"),
                         output_tokens=usage.get("output_tokens"))
        if kind == "error":
            error = data.get("error") or {}
            status = _ANTHROPIC_ERROR_STATUS.get(error.get("type", ""), 500)
            raise error_for_status(status, f"{self.model.provider}: error in the stream: {error.get('message')}",
                                   provider=self.model.provider)
        return None

    def _reply(self, data: dict[str, Any]) -> Delta:
        text = "".join(block.get("text", "") for block in data.get("content", []) if block.get("type") == "text")
        usage = data.get("usage") or {}
        return Delta(text=text, finish_reason=data.get("stop_reason"), input_tokens=usage.get("input_tokens"),
                     output_tokens=usage.get("output_tokens"))


def resolve_model(model: str | ModelInfo, *, base_url: str | None = None,
                  protocol: str | None = None) -> ModelInfo:
    """The registry entry for a name, or an endpoint entry for any model on ``base_url``.

    With ``base_url`` and no ``protocol``, a registry model keeps its entry (its price) and is
    sent to that URL; a name the registry does not know is taken as an OpenAI-protocol endpoint.
    """
    if isinstance(model, ModelInfo):
        return model
    if base_url is None:
        if protocol is not None:
            raise RightsizeError("--protocol only applies with --base-url (a registry model knows its protocol)")
        return get_model(model)
    if protocol is None:
        try:
            return get_model(model)
        except KeyError:
            protocol = "openai"
    if protocol not in ("openai", "anthropic"):
        raise RightsizeError(f"protocol must be openai or anthropic, not {protocol!r}")
    return endpoint_model(model, base_url, protocol)


def make_provider(
    model: str | ModelInfo,
    *,
    base_url: str | None = None,
    protocol: str | None = None,
    key: str | None = None,
    timeout: float = 120.0,
    headers: dict[str, str] | None = None,
    client: str = "auto",
) -> Provider:
    """An adapter for profiling: the lean client for HTTP protocols, the SDK adapter otherwise.

    ``client`` is ``"auto"`` (lean over HTTP, in-process for the local model), ``"lean"`` or
    ``"sdk"`` (the official SDK adapters of :func:`rightsize.connect`).
    """
    if client not in ("auto", "lean", "sdk"):
        raise RightsizeError(f"client must be auto, lean or sdk, not {client!r}")
    info = resolve_model(model, base_url=base_url, protocol=protocol)
    api = protocol or info.api
    cls: type[Provider]
    if api == "local":
        if client == "lean":
            raise RightsizeError(f"{info.id} runs in-process: there is no HTTP to profile with the lean client")
        cls = adapter_class("local")
    elif client == "sdk":
        cls = adapter_class(api)
    else:
        cls = LeanOpenAIProvider if api == "openai" else LeanAnthropicProvider
    provider = cls(info, key=key, base_url=base_url, timeout=timeout, headers=headers)
    if info.needs_key and key is None and base_url is None:
        provider.key()  # a missing key fails now, naming the variable to set
    from ..responses import recorded

    return recorded(provider)
