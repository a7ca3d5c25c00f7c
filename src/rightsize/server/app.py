"""The lab server: the local model behind the OpenAI and Anthropic wire protocols.

Learners point the official SDKs at it (``base_url=rightsize.lab_url() + "/v1"`` for ``openai``,
``base_url=rightsize.lab_url()`` for ``anthropic``) and get real answers from the embedded
model, streamed or not, with usage filled in, plus the faults of :mod:`.faults` when asked for.

Routes: ``POST /v1/chat/completions``, ``POST /v1/messages``, ``GET /v1/models``, ``GET /health``.
Bad requests get the provider's own error shape and status, never a traceback.

This module is the HTTP plumbing (routes, body size, faults, streaming, logging); what a request
body means and the shape of every answer are :mod:`rightsize.protocols`'s, which the clients use too.

One deliberate difference from the clouds: when a request names no ``temperature`` the lab server
decodes greedily (temperature 0), so a lesson gives the same answer every time it runs.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from ..errors import BadRequestError
from ..local_model import Finished, TokenEvent
from ..protocols import ProtocolError, chat_completions, messages, retry_after_headers
from ..providers.base import Request as ModelRequest
from .backends import Backend, LocalBackend
from .faults import FaultConfig, FaultDecision, FaultInjector, parse_fault_header

__all__ = ["create_app"]

log = logging.getLogger("rightsize.lab")

MAX_BODY_BYTES = 2_000_000
FINGERPRINT = "rightsize-lab"  # the system_fingerprint of every Chat Completions answer

ErrorBody = Callable[[ProtocolError], dict[str, Any]]  # a protocol's error_body


def _error_response(error_body: ErrorBody, err: ProtocolError) -> JSONResponse:
    return JSONResponse(error_body(err), status_code=err.status, headers=retry_after_headers(err.retry_after))


@dataclass
class _Prepared:
    """A validated request, its prompt size and the faults drawn for it."""

    generation: ModelRequest
    backend: Backend
    include_usage: bool
    prompt_tokens: int
    faults: FaultConfig
    decision: FaultDecision
    request_id: str


class LabServer:
    """The application state: backends by model id, faults, and the idle clock."""

    def __init__(self, backends: list[Backend], faults: FaultConfig, injector: FaultInjector) -> None:
        self.backends = backends
        self.faults = faults
        self.injector = injector
        self.last_request = time.monotonic()
        self.request_count = 0

    def backend_for(self, model: str) -> Backend:
        for backend in self.backends:
            if model in backend.model_ids:
                return backend
        known = [m for b in self.backends for m in b.model_ids]
        raise ProtocolError(404, "not_found", f"The model '{model}' does not exist on this lab server. "
                            f"Served models: {', '.join(known)}", code="model_not_found", param="model")

    def model_ids(self) -> list[str]:
        return [m for b in self.backends for m in b.model_ids]

    # -- request parsing shared by both protocols -------------------------------------------
    async def read_json(self, request: Request) -> dict[str, Any]:
        body = await request.body()
        if len(body) > MAX_BODY_BYTES:
            raise ProtocolError(413, "too_large", f"request body of {len(body)} bytes is over the "
                                f"lab server's limit of {MAX_BODY_BYTES} bytes")
        try:
            data = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ProtocolError(400, "invalid_request", f"the request body is not valid JSON: {exc}") from None
        if not isinstance(data, dict):
            raise ProtocolError(400, "invalid_request", "the request body must be a JSON object")
        return data

    def fault_config(self, request: Request) -> FaultConfig:
        header = request.headers.get("x-rightsize-faults")
        if not header:
            return self.faults
        try:
            return self.faults.merged(parse_fault_header(header))
        except (ValueError, TypeError) as exc:
            raise ProtocolError(400, "invalid_request", f"bad X-Rightsize-Faults header: {exc}") from None

    def prepare(self, request: Request, generation: ModelRequest, include_usage: bool, api_key: str) -> _Prepared:
        backend = self.backend_for(generation.model)
        try:
            prompt_tokens = backend.count_prompt_tokens(generation)
        except BadRequestError as exc:
            raise ProtocolError(400, "invalid_request", str(exc)) from None
        window = backend.context_window
        max_tokens = generation.options.max_tokens
        if prompt_tokens + max_tokens > window:
            raise ProtocolError(400, "invalid_request",
                                f"This model's maximum context length is {window} tokens. The request has "
                                f"{prompt_tokens} prompt tokens and asks for {max_tokens} more. "
                                "Shorten the prompt or lower max_tokens.",
                                code="context_length_exceeded", param="messages")
        faults = self.fault_config(request)
        decision = self.injector.decide(faults, api_key=api_key,
                                        tokens=prompt_tokens + max_tokens)
        request_id = uuid.uuid4().hex[:24]
        if decision.reasons:
            log.warning("request %s: INJECTED FAULT: %s", request_id, "; ".join(decision.reasons))
        if decision.status is not None:
            reasons = {429: "Rate limit reached for requests (injected by the lab server). "
                            f"Please retry after {decision.retry_after} seconds.",
                       503: "The service is temporarily unavailable (injected by the lab server).",
                       529: "Overloaded (injected by the lab server)."}
            raise ProtocolError(decision.status, "fault", reasons[decision.status], retry_after=decision.retry_after)
        return _Prepared(generation, backend, include_usage, prompt_tokens, faults, decision, request_id)

    async def events(self, prepared: _Prepared) -> AsyncIterator[TokenEvent | Finished]:
        """The backend's events with the injected delays, hang and cut applied."""
        faults, decision, injector = prepared.faults, prepared.decision, self.injector
        if not faults.active:
            async for event in prepared.backend.generate(prepared.generation):
                yield event
            return
        if decision.hang:
            await asyncio.sleep(faults.hang_s)
        sent_tokens, first = 0, True
        async for event in prepared.backend.generate(prepared.generation):
            if isinstance(event, TokenEvent):
                delay = injector.first_token_delay(faults) if first else injector.token_delay(faults)
                if delay > 0:
                    await asyncio.sleep(delay)
                first = False
                if decision.cut_after is not None and sent_tokens >= decision.cut_after:
                    log.warning("request %s: INJECTED FAULT: stream cut after %d tokens",
                                prepared.request_id, sent_tokens)
                    raise _StreamCut()
                sent_tokens += event.tokens
            yield event


class _StreamCut(Exception):
    """Raised inside a stream to end it without its final event."""


def _api_key(request: Request) -> str:
    auth = request.headers.get("authorization", "")
    return request.headers.get("x-api-key") or auth.removeprefix("Bearer ").strip() or "anonymous"


def _sse(data: dict[str, Any], event: str | None = None) -> bytes:
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


_CUT_MESSAGE = "The server closed the connection mid-answer (injected by the lab server)."


async def _whole_answer(server: LabServer, prepared: _Prepared) -> tuple[list[str], list[float], Finished]:
    """A not-streamed answer's texts, logprobs and end (:class:`_StreamCut` when a cut was injected)."""
    texts: list[str] = []
    logprobs: list[float] = []
    finished: Finished | None = None
    async for event in server.events(prepared):
        if isinstance(event, TokenEvent):
            texts.append(event.text)
            logprobs.extend(event.logprobs)
        else:
            finished = event
    assert finished is not None
    return texts, logprobs, finished


# -- OpenAI Chat Completions ------------------------------------------------------------------
async def chat_completions_endpoint(request: Request) -> Response:
    server: LabServer = request.app.state.lab
    server.last_request = time.monotonic()
    server.request_count += 1
    started = time.perf_counter()
    try:
        data = await server.read_json(request)
        generation, include_usage = chat_completions.parse_request(data)
        prepared = server.prepare(request, generation, include_usage, _api_key(request))
    except ProtocolError as err:
        log.info("POST /v1/chat/completions -> %d %s", err.status, err.message)
        return _error_response(chat_completions.error_body, err)
    fields = chat_completions.reply_fields(prepared.request_id, generation.model, FINGERPRINT)
    headers = {"x-request-id": prepared.request_id}
    with_logprobs = generation.options.logprobs

    if not generation.stream:
        try:
            texts, logprobs, finished = await _whole_answer(server, prepared)
        except _StreamCut:
            # without a stream there is nothing to cut: answer as the connection dropping would
            return _error_response(chat_completions.error_body, ProtocolError(500, "fault", _CUT_MESSAGE))
        _log_done("chat", prepared, started, finished)
        token_logprobs = chat_completions.logprobs(logprobs, texts) if with_logprobs else None
        reply = chat_completions.reply(fields, "".join(texts), finished, prepared.prompt_tokens, token_logprobs)
        return JSONResponse(reply, headers=headers)

    async def body() -> AsyncIterator[bytes]:
        yield _sse(chat_completions.role_chunk(fields))
        try:
            async for event in server.events(prepared):
                if isinstance(event, TokenEvent):
                    lp = chat_completions.logprobs(list(event.logprobs), [event.text]) if with_logprobs else None
                    yield _sse(chat_completions.text_chunk(fields, event.text, lp))
                else:
                    yield _sse(chat_completions.finish_chunk(fields, event))
                    if include_usage:
                        yield _sse(chat_completions.usage_chunk(fields, prepared.prompt_tokens,
                                                                event.completion_tokens))
                    _log_done("chat stream", prepared, started, event)
        except _StreamCut:
            return  # end the body with no finish chunk and no [DONE]
        yield b"data: [DONE]\n\n"

    return StreamingResponse(body(), media_type="text/event-stream", headers=headers)


# -- Anthropic Messages ------------------------------------------------------------------------
async def messages_endpoint(request: Request) -> Response:
    server: LabServer = request.app.state.lab
    server.last_request = time.monotonic()
    server.request_count += 1
    started = time.perf_counter()
    try:
        data = await server.read_json(request)
        generation = messages.parse_request(data)
        prepared = server.prepare(request, generation, True, _api_key(request))
    except ProtocolError as err:
        log.info("POST /v1/messages -> %d %s", err.status, err.message)
        return _error_response(messages.error_body, err)
    fields = messages.message_fields(prepared.request_id, generation.model)
    headers = {"request-id": f"req_{prepared.request_id}"}

    if not generation.stream:
        try:
            texts, _, finished = await _whole_answer(server, prepared)
        except _StreamCut:
            return _error_response(messages.error_body, ProtocolError(500, "fault", _CUT_MESSAGE))
        _log_done("messages", prepared, started, finished)
        return JSONResponse(messages.reply(fields, "".join(texts), finished, prepared.prompt_tokens), headers=headers)

    async def body() -> AsyncIterator[bytes]:
        for start in messages.start_events(fields, prepared.prompt_tokens):
            yield _sse(start, start["type"])
        try:
            async for event in server.events(prepared):
                if isinstance(event, TokenEvent):
                    yield _sse(messages.text_event(event.text), "content_block_delta")
                else:
                    for end in messages.end_events(event):
                        yield _sse(end, end["type"])
                    _log_done("messages stream", prepared, started, event)
        except _StreamCut:
            return

    return StreamingResponse(body(), media_type="text/event-stream", headers=headers)


def _log_done(kind: str, prepared: _Prepared, started: float, finished: Finished) -> None:
    log.info("%s %s model=%s prompt=%d output=%d finish=%s in %.3fs", kind, prepared.request_id,
             prepared.generation.model, prepared.prompt_tokens, finished.completion_tokens,
             finished.finish_reason, time.perf_counter() - started)


# -- models, health ----------------------------------------------------------------------------
async def models_endpoint(request: Request) -> Response:
    server: LabServer = request.app.state.lab
    ids = server.model_ids()
    if "anthropic-version" in request.headers:
        data = [{"type": "model", "id": m, "display_name": m, "created_at": "2024-11-21T00:00:00Z"} for m in ids]
        return JSONResponse({"data": data, "has_more": False, "first_id": ids[0] if ids else None,
                             "last_id": ids[-1] if ids else None})
    return JSONResponse({"object": "list", "data": [
        {"id": m, "object": "model", "created": 1732147200, "owned_by": "rightsize-lab"} for m in ids]})


async def health(request: Request) -> Response:
    from ..lab import identity

    server: LabServer = request.app.state.lab
    # the identity lets rightsize.lab_url() reuse only a server of this user, checkout and version
    return JSONResponse({"status": "ok", "service": "rightsize-lab", "identity": identity(),
                         "models": server.model_ids(), "faults": server.faults.model_dump(exclude_defaults=True),
                         "requests": server.request_count})


async def not_found(request: Request, exc: Exception) -> Response:
    error_body = messages.error_body if "anthropic-version" in request.headers else chat_completions.error_body
    return _error_response(error_body, ProtocolError(404, "not_found", f"no route {request.method} "
                                                     f"{request.url.path} on the lab server (see /health)"))


async def server_error(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error on %s", request.url.path)
    error_body = messages.error_body if request.url.path.endswith("/messages") else chat_completions.error_body
    return _error_response(error_body, ProtocolError(500, "server", "The lab server hit an internal error; "
                                                     "its log has the details."))


def create_app(
    *,
    faults: FaultConfig | None = None,
    backends: list[Backend] | None = None,
    idle_exit: float | None = None,
    on_idle: Callable[[], None] | None = None,
) -> Starlette:
    """The lab server's ASGI app. ``idle_exit`` seconds without requests call ``on_idle``."""
    lab = LabServer(backends or [LocalBackend()], faults or FaultConfig(), FaultInjector())

    async def watch_idle() -> None:
        while True:
            await asyncio.sleep(min(30.0, idle_exit or 30.0))
            if idle_exit and time.monotonic() - lab.last_request > idle_exit and on_idle:
                log.info("no requests for %.0fs: stopping", idle_exit)
                on_idle()
                return

    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        for backend in lab.backends:
            warm = getattr(backend, "warm", None)
            if warm is not None:
                await asyncio.to_thread(warm)  # /health answers only once the model is ready
        task = asyncio.create_task(watch_idle()) if idle_exit else None
        yield
        if task:
            task.cancel()

    app = Starlette(
        routes=[
            Route("/v1/chat/completions", chat_completions_endpoint, methods=["POST"]),
            Route("/chat/completions", chat_completions_endpoint, methods=["POST"]),
            Route("/v1/messages", messages_endpoint, methods=["POST"]),
            Route("/v1/models", models_endpoint, methods=["GET"]),
            Route("/health", health, methods=["GET"]),
        ],
        exception_handlers={404: not_found, 405: not_found, 500: server_error, Exception: server_error},
        lifespan=lifespan,
    )
    app.state.lab = lab
    return app
