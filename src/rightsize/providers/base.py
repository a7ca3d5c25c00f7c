"""The provider interface every model adapter implements, and the response it returns.

An adapter is small: it turns a :class:`Request` into a stream of :class:`Delta` events (text,
finish reason, usage) and says how its SDK's exceptions map onto :mod:`rightsize.errors`. The
base class :class:`Provider` owns everything shared: key lookup, option checking, the clock
(the send time and every chunk's arrival time, read on the client), assembling the
:class:`Response`, and wrapping SDK errors.

Options follow the model's registry entry (``parameters`` in ``models.yaml``), so one alias can
replace another without breaking on a real model:

- an option the caller left unset is sent only when the model takes it: ``temperature`` defaults
  to 0 where the model takes a temperature, and is not sent at all to a model that fixes its own
  (the GPT-5 family) or to an API that has none (Anthropic's, through its 2.x SDK);
- an option the caller set explicitly that the model does not take raises
  :class:`~rightsize.registry.UnsupportedOptionError` naming the model and the option, before
  anything is sent (never a raw SDK error, never a silent drop);
- the token limit goes out under the model's own parameter name (``max_completion_tokens`` for
  OpenAI's API, ``max_tokens`` elsewhere): see :meth:`Provider.generation_options`.

Times are ``time.perf_counter()`` seconds: only differences between them mean anything.
``Response.sent_wall`` holds the wall-clock send time for recordings.
"""

from __future__ import annotations

import asyncio
import os
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from ..errors import (
    MissingKeyError,
    OverloadedError,
    ProviderError,
    ProviderTimeoutError,
    RightsizeError,
    StreamCutError,
)
from ..registry import SAMPLING_OPTIONS, ModelInfo

__all__ = ["Chunk", "Delta", "Options", "Provider", "Request", "Response", "Usage"]


class Options(BaseModel):
    """Generation options every adapter accepts. A misspelled option is an error naming it."""

    model_config = ConfigDict(extra="forbid")

    max_tokens: int = Field(256, ge=1, description="the most output tokens to generate (for a model that "
                            "reasons, its hidden reasoning counts too)")
    temperature: float = Field(0.0, ge=0.0, le=2.0, description="0 picks the likeliest token; left unset, "
                               "0 where the model takes a temperature, else the provider's own")
    stop: list[str] | None = Field(None, description="strings that end the answer")
    seed: int | None = Field(None, description="sampling seed, where the provider takes one")
    json_schema: dict[str, Any] | None = Field(
        None, description="constrain the answer to JSON matching this schema, where supported"
    )
    logprobs: bool = Field(False, description="return each output token's log-probability")
    timeout: float | None = Field(None, gt=0, description="seconds before giving up")


@dataclass(frozen=True)
class Request:
    """What an adapter is asked to do."""

    model: str
    messages: list[dict[str, str]]
    system: str | None
    stream: bool
    options: Options


@dataclass(frozen=True)
class Delta:
    """One event from an adapter's stream. Every field is optional."""

    text: str = ""
    logprobs: tuple[float, ...] = ()
    tokens: int | None = None  # tokens in this delta, when the adapter knows
    finish_reason: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None  # every output token billed, hidden reasoning included
    reasoning_tokens: int | None = None  # the part of output_tokens that was hidden reasoning


@dataclass(frozen=True)
class Chunk:
    """One streamed event as the client saw it: its content and when it arrived."""

    text: str
    arrived: float
    logprobs: tuple[float, ...] = ()
    tokens: int | None = None  # tokens this chunk holds, when known (a chunk may hold several)


@dataclass
class Usage:
    """Token counts of one request; ``source`` says where they came from.

    ``output_tokens`` counts every output token billed, hidden reasoning included;
    ``reasoning_tokens`` is the reasoning part of it when the server reported one (None otherwise).
    """

    input_tokens: int | None
    output_tokens: int | None
    source: str = "server"  # "server" (reported by the provider) or how they were counted
    reasoning_tokens: int | None = None


@dataclass
class Response:
    """One completed (or failed) request, with every chunk's arrival time."""

    model: str
    provider: str
    streamed: bool
    sent: float
    sent_wall: float
    chunks: list[Chunk] = field(default_factory=list)
    finished: float | None = None
    finish_reason: str | None = None
    usage: Usage = field(default_factory=lambda: Usage(None, None, "unknown"))
    error: ProviderError | None = None
    replayed: bool = False  # answered from a recording of a real run (see rightsize.responses)

    @property
    def text(self) -> str:
        return "".join(c.text for c in self.chunks)

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def content_chunks(self) -> list[Chunk]:
        """Chunks that carry text (a role-only or empty chunk is not a token)."""
        return [c for c in self.chunks if c.text]

    @property
    def time_to_first_token(self) -> float | None:
        """Seconds from sending to the first chunk carrying content (None if there was none)."""
        content = self.content_chunks
        return content[0].arrived - self.sent if content else None

    @property
    def end_to_end(self) -> float | None:
        """Seconds from sending to the last chunk (or the reply, when not streamed)."""
        return None if self.finished is None else self.finished - self.sent

    @property
    def token_logprobs(self) -> list[float]:
        return [lp for c in self.chunks for lp in c.logprobs]

    def __str__(self) -> str:
        return self.text


def _first_env(names: tuple[str, ...]) -> str | None:
    for name in names:
        value = os.environ.get(name)
        if value:
            return value
    return None


class Provider(ABC):
    """Base class of the adapters. Subclasses implement :meth:`_stream` and :meth:`map_error`."""

    #: the protocol name, for messages and reports
    api: ClassVar[str]
    #: False for stand-ins (scripted replies, replayed faults): their answers are never recorded
    #: as a model's, nor answered from recordings (see rightsize.responses)
    recordable: ClassVar[bool] = True
    #: what this protocol's base URLs end with by convention ("/v1" for Chat Completions): the lab
    #: server's address plus this is the base URL for ``base_url="lab"``
    lab_path: ClassVar[str] = ""

    def __init__(
        self,
        model: ModelInfo,
        *,
        key: str | None = None,
        base_url: str | None = None,
        timeout: float = 120.0,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.model = model
        self.base_url = base_url if base_url is not None else model.base_url
        self.timeout = timeout
        self.headers = dict(headers or {})  # sent with every request (e.g. X-Rightsize-Faults)
        self._explicit_key = key

    @property
    def adapter(self) -> Provider:
        """The adapter that talks to the model, under any wrapper (recordings, ...): itself here."""
        return self

    # -- keys -------------------------------------------------------------------------------
    def key(self) -> str | None:
        """The API key: the explicit argument, else the model's environment variable.

        Raises :class:`MissingKeyError` naming the variable when the model needs a key and none
        is found. The key is never printed, logged or put in a ``repr``.
        """
        if self._explicit_key:
            return self._explicit_key
        if not self.model.key_env:
            return None
        value = _first_env((self.model.key_env,))
        if value is None:
            raise MissingKeyError(self.model.provider, self.model.key_env)
        return value

    def wire_key(self) -> str:
        """The key to send: :meth:`key`, or a placeholder for a server that takes none (the SDKs
        and some servers insist on a non-empty one)."""
        return self.key() or "not-needed"

    def resolved_base_url(self) -> str | None:
        """The base URL to send to: ``"lab"`` becomes the lab server's address (started on demand),
        None means the SDK's or protocol's default."""
        if self.base_url == "lab":
            from ..lab import lab_url

            return lab_url() + self.lab_path
        return self.base_url or None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} model={self.model.id!r} base_url={self.base_url!r}>"

    # -- the adapter's part -----------------------------------------------------------------
    @abstractmethod
    def _stream(self, request: Request) -> Iterator[Delta]:
        """Send the request and yield its events (one event with everything when not streaming)."""

    async def _astream(self, request: Request) -> AsyncIterator[Delta]:
        """Async version of :meth:`_stream`. The default runs the sync one in a worker thread."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()

        def pump() -> None:
            try:
                for delta in self._stream(request):
                    loop.call_soon_threadsafe(queue.put_nowait, ("delta", delta))
            except BaseException as exc:  # handed to the awaiting side
                loop.call_soon_threadsafe(queue.put_nowait, ("error", exc))
            else:
                loop.call_soon_threadsafe(queue.put_nowait, ("end", None))

        worker = loop.run_in_executor(None, pump)
        while True:
            kind, payload = await queue.get()
            if kind == "delta":
                yield payload
            elif kind == "error":
                await worker
                raise payload
            else:
                await worker
                return

    async def _astream_timed(self, request: Request) -> AsyncIterator[tuple[Delta, float]]:
        """:meth:`_astream` with the time each event arrived. The default stamps it when the event
        loop gets the event; the lean client stamps bytes as they come off the socket (with many
        streams at once, the loop's time includes the other streams' work)."""
        async for delta in self._astream(request):
            yield delta, time.perf_counter()

    def map_error(self, exc: BaseException) -> ProviderError | None:
        """The rightsize error for an SDK exception, or None when it is not the SDK's."""
        return None

    def prepare(self) -> None:
        """One-time set-up (load a model, build a client) done before the clock starts."""

    # -- the shared part --------------------------------------------------------------------
    def _request(
        self,
        prompt: str | list[dict[str, str]],
        system: str | None,
        stream: bool,
        options: dict[str, Any],
    ) -> Request:
        messages = [{"role": "user", "content": prompt}] if isinstance(prompt, str) else list(prompt)
        if not messages:
            raise RightsizeError("a request needs a prompt: pass a string or a list of messages")
        caps = self.model.capabilities
        if options.get("json_schema") is not None and not caps.json_schema:
            raise RightsizeError(
                f"{self.model.id} does not take a JSON schema; validate its answer and retry "
                "instead (see rightsize.structured), or pick a model whose registry entry has json_schema"
            )
        if options.get("logprobs") and not caps.logprobs:
            raise RightsizeError(f"{self.model.id} does not return token logprobs (see its registry entry)")
        checked = Options(**options)
        # only what the caller set can be refused: a default is adjusted to the model instead
        self.model.check_options({name: getattr(checked, name) for name in checked.model_fields_set})
        return Request(
            model=self.model.wire_model,
            messages=messages,
            system=system,
            stream=stream,
            options=checked,
        )

    def generation_options(self, request: Request) -> dict[str, Any]:
        """The generation options to send for this model, by its registry entry.

        The token limit is keyed by the model's own parameter name (``max_completion_tokens`` or
        ``max_tokens``); ``temperature``, ``seed`` and ``stop`` keep their :class:`Options` names
        and appear only when the model takes them and they have a value. An adapter renames or moves
        them for its protocol (``stop`` is ``stop_sequences`` in Messages); it never adds one.
        """
        opts = request.options
        rules = self.model.parameters
        sent: dict[str, Any] = {rules.token_limit: opts.max_tokens}
        for name in SAMPLING_OPTIONS:
            value = getattr(opts, name)
            if rules.rule(name).sent and value is not None and value != []:
                sent[name] = value
        return sent

    def _start(self, request: Request) -> Response:
        return Response(
            model=self.model.id,
            provider=self.model.provider,
            streamed=request.stream,
            sent=time.perf_counter(),
            sent_wall=time.time(),
        )

    @staticmethod
    def _take(response: Response, delta: Delta, arrived: float) -> None:
        if delta.text or delta.logprobs or not response.chunks:
            response.chunks.append(Chunk(delta.text, arrived, delta.logprobs, delta.tokens))
        if delta.finish_reason:
            response.finish_reason = delta.finish_reason
        usage = response.usage
        if delta.input_tokens is not None:
            usage.input_tokens = delta.input_tokens
        if delta.output_tokens is not None:
            usage.output_tokens = delta.output_tokens
        if delta.reasoning_tokens is not None:
            usage.reasoning_tokens = delta.reasoning_tokens
        if delta.input_tokens is not None or delta.output_tokens is not None:
            usage.source = "server"
        response.finished = arrived

    def _finish(self, response: Response, exc: BaseException | None, raise_errors: bool) -> Response:
        if exc is None and response.finish_reason is None and response.streamed:
            exc = StreamCutError(
                "the stream ended before the provider sent its finish reason",
                provider=self.model.provider,
            )
        if exc is not None:
            error = exc if isinstance(exc, ProviderError) else self.map_error(exc)
            if error is None:
                error = self._transport_error(exc, response)
            if error is None:
                raise exc
            if error is not exc:
                error.__cause__ = exc
            if response.finished is None:
                response.finished = time.perf_counter()
            response.error = error
            if raise_errors:
                raise error
        return response

    def _transport_error(self, exc: BaseException, response: Response) -> ProviderError | None:
        """Map a raw HTTP-library error that escaped the SDK (it happens mid-stream)."""
        module = type(exc).__module__.split(".")[0]
        if module not in ("httpx", "httpx2", "httpcore", "httpcore2"):
            return None
        provider = self.model.provider
        if "Timeout" in type(exc).__name__:
            return ProviderTimeoutError(f"{provider}: {exc or type(exc).__name__}", provider=provider)
        if response.chunks:
            return StreamCutError(f"{provider}: the connection broke mid-stream ({type(exc).__name__})",
                                  provider=provider)
        return OverloadedError(f"{provider}: cannot reach the server ({type(exc).__name__}: {exc})",
                               provider=provider)

    def complete(
        self,
        prompt: str | list[dict[str, str]],
        *,
        system: str | None = None,
        stream: bool = True,
        raise_errors: bool = True,
        **options: Any,
    ) -> Response:
        """Send one request and return its :class:`Response`.

        ``prompt`` is a user message or a list of ``{"role", "content"}`` messages; ``options``
        are :class:`Options` fields. With ``raise_errors=False`` a provider error is kept on
        ``response.error`` instead of raised (the profiler counts errors this way).
        """
        request = self._request(prompt, system, stream, options)
        self.prepare()
        response = self._start(request)
        try:
            for delta in self._stream(request):
                self._take(response, delta, time.perf_counter())
        except Exception as exc:
            return self._finish(response, exc, raise_errors)
        return self._finish(response, None, raise_errors)

    async def acomplete(
        self,
        prompt: str | list[dict[str, str]],
        *,
        system: str | None = None,
        stream: bool = True,
        raise_errors: bool = True,
        **options: Any,
    ) -> Response:
        """The async version of :meth:`complete`, for load generation."""
        request = self._request(prompt, system, stream, options)
        self.prepare()
        response = self._start(request)
        try:
            async for delta, arrived in self._astream_timed(request):
                self._take(response, delta, arrived)
        except Exception as exc:
            return self._finish(response, exc, raise_errors)
        return self._finish(response, None, raise_errors)
