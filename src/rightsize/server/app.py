"""The lab server: the local model behind the OpenAI and Anthropic wire protocols.

Learners point the official SDKs at it (``base_url=rightsize.lab_url() + "/v1"`` for ``openai``,
``base_url=rightsize.lab_url()`` for ``anthropic``) and get real answers from the embedded
model, streamed or not, with usage filled in, plus the faults of :mod:`.faults` when asked for.

Routes: ``POST /v1/chat/completions``, ``POST /v1/messages``, ``GET /v1/models``, ``GET /health``.
Bad requests get the provider's own error shape and status, never a traceback.

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
from .backends import Backend, GenerationRequest, LocalBackend
from .faults import FaultConfig, FaultDecision, FaultInjector, parse_fault_header

__all__ = ["create_app"]

log = logging.getLogger("rightsize.lab")

MAX_BODY_BYTES = 2_000_000
DEFAULT_MAX_TOKENS = 256


class WireError(Exception):
    """An error to answer in the protocol's own shape."""

    def __init__(self, status: int, kind: str, message: str, *, retry_after: float | None = None,
                 code: str | None = None, param: str | None = None) -> None:
        self.status, self.kind, self.message = status, kind, message
        self.retry_after, self.code, self.param = retry_after, code, param
        super().__init__(message)


# Error `type` names each protocol uses for a status.
_OPENAI_TYPES = {400: "invalid_request_error", 401: "authentication_error", 404: "invalid_request_error",
                 413: "invalid_request_error", 429: "rate_limit_exceeded", 500: "server_error",
                 503: "service_unavailable", 529: "overloaded"}
_ANTHROPIC_TYPES = {400: "invalid_request_error", 401: "authentication_error", 404: "not_found_error",
                    413: "request_too_large", 429: "rate_limit_error", 500: "api_error",
                    503: "api_error", 529: "overloaded_error"}


def _error_response(protocol: str, err: WireError) -> JSONResponse:
    headers = {}
    if err.retry_after is not None:
        headers["retry-after"] = f"{err.retry_after:g}"
        headers["retry-after-ms"] = str(int(err.retry_after * 1000))
    if protocol == "anthropic":
        body: dict[str, Any] = {"type": "error", "error": {
            "type": _ANTHROPIC_TYPES.get(err.status, "api_error"), "message": err.message}}
    else:
        body = {"error": {"message": err.message, "type": _OPENAI_TYPES.get(err.status, "server_error"),
                          "param": err.param, "code": err.code}}
    return JSONResponse(body, status_code=err.status, headers=headers)


@dataclass
class _Prepared:
    """A validated request, its prompt size and the faults drawn for it."""

    generation: GenerationRequest
    backend: Backend
    stream: bool
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
        raise WireError(404, "not_found", f"The model '{model}' does not exist on this lab server. "
                        f"Served models: {', '.join(known)}", code="model_not_found", param="model")

    def model_ids(self) -> list[str]:
        return [m for b in self.backends for m in b.model_ids]

    # -- request parsing shared by both protocols -------------------------------------------
    async def read_json(self, request: Request) -> dict[str, Any]:
        body = await request.body()
        if len(body) > MAX_BODY_BYTES:
            raise WireError(413, "too_large", f"request body of {len(body)} bytes is over the "
                            f"lab server's limit of {MAX_BODY_BYTES} bytes")
        try:
            data = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise WireError(400, "invalid_request", f"the request body is not valid JSON: {exc}") from None
        if not isinstance(data, dict):
            raise WireError(400, "invalid_request", "the request body must be a JSON object")
        return data

    def fault_config(self, request: Request) -> FaultConfig:
        header = request.headers.get("x-rightsize-faults")
        if not header:
            return self.faults
        try:
            return self.faults.merged(parse_fault_header(header))
        except (ValueError, TypeError) as exc:
            raise WireError(400, "invalid_request", f"bad X-Rightsize-Faults header: {exc}") from None

    def prepare(self, request: Request, generation: GenerationRequest, stream: bool,
                include_usage: bool, api_key: str) -> _Prepared:
        backend = self.backend_for(generation.model)
        try:
            prompt_tokens = backend.count_prompt_tokens(generation)
        except BadRequestError as exc:
            raise WireError(400, "invalid_request", str(exc)) from None
        window = backend.context_window
        if prompt_tokens + generation.max_tokens > window:
            raise WireError(400, "invalid_request",
                            f"This model's maximum context length is {window} tokens. The request has "
                            f"{prompt_tokens} prompt tokens and asks for {generation.max_tokens} more. "
                            "Shorten the prompt or lower max_tokens.",
                            code="context_length_exceeded", param="messages")
        faults = self.fault_config(request)
        decision = self.injector.decide(faults, api_key=api_key,
                                        tokens=prompt_tokens + generation.max_tokens)
        request_id = uuid.uuid4().hex[:24]
        if decision.reasons:
            log.warning("request %s: INJECTED FAULT: %s", request_id, "; ".join(decision.reasons))
        if decision.status is not None:
            messages = {429: "Rate limit reached for requests (injected by the lab server). "
                             f"Please retry after {decision.retry_after} seconds.",
                        503: "The service is temporarily unavailable (injected by the lab server).",
                        529: "Overloaded (injected by the lab server)."}
            raise WireError(decision.status, "fault", messages[decision.status],
                            retry_after=decision.retry_after)
        return _Prepared(generation, backend, stream, include_usage, prompt_tokens, faults,
                         decision, request_id)

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


def _text_content(content: Any, where: str) -> str:
    """A message's text: a string, or a list of text blocks/parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for block in content:
            if isinstance(block, dict) and block.get("type") == "text" and isinstance(block.get("text"), str):
                parts.append(block["text"])
            else:
                raise WireError(400, "invalid_request",
                                f"{where}: the lab server only takes text content blocks")
        return "".join(parts)
    raise WireError(400, "invalid_request", f"{where}: content must be a string or a list of text blocks")


def _require(data: dict[str, Any], key: str, kind: type | tuple[type, ...], label: str) -> Any:
    if key not in data:
        raise WireError(400, "invalid_request", f"{key}: Field required", param=key)
    value = data[key]
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise WireError(400, "invalid_request", f"{key}: must be {label}", param=key)
    return value


def _optional_number(data: dict[str, Any], key: str, low: float, high: float, default: float) -> float:
    value = data.get(key, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise WireError(400, "invalid_request", f"{key}: must be a number from {low} to {high}", param=key)
    return float(value)


def _stop_list(value: Any, key: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    raise WireError(400, "invalid_request", f"{key}: must be a string or a list of strings", param=key)


def _max_tokens(value: Any, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise WireError(400, "invalid_request", f"{key}: must be an integer of at least 1", param=key)
    return value


def _api_key(request: Request) -> str:
    auth = request.headers.get("authorization", "")
    return request.headers.get("x-api-key") or auth.removeprefix("Bearer ").strip() or "anonymous"


def _sse(data: dict[str, Any], event: str | None = None) -> bytes:
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


# -- OpenAI Chat Completions ------------------------------------------------------------------
def _openai_generation(data: dict[str, Any]) -> tuple[GenerationRequest, bool, bool]:
    model = _require(data, "model", str, "a string")
    raw_messages = _require(data, "messages", list, "a list of messages")
    if not raw_messages:
        raise WireError(400, "invalid_request", "messages: must hold at least one message", param="messages")
    system_parts, messages = [], []
    for i, message in enumerate(raw_messages):
        if not isinstance(message, dict) or message.get("role") not in ("system", "developer", "user", "assistant"):
            raise WireError(400, "invalid_request",
                            f"messages[{i}]: role must be system, developer, user or assistant", param="messages")
        text = _text_content(message.get("content"), f"messages[{i}].content")
        if message["role"] in ("system", "developer"):
            system_parts.append(text)
        else:
            messages.append({"role": message["role"], "content": text})
    if not messages:
        raise WireError(400, "invalid_request", "messages: needs at least one user message", param="messages")
    raw_max = data.get("max_completion_tokens", data.get("max_tokens"))
    max_tokens = DEFAULT_MAX_TOKENS if raw_max is None else _max_tokens(raw_max, "max_tokens")
    schema = None
    fmt = data.get("response_format")
    if isinstance(fmt, dict):
        if fmt.get("type") == "json_object":
            schema = {"type": "object"}
        elif fmt.get("type") == "json_schema":
            inner = fmt.get("json_schema")
            if not isinstance(inner, dict) or not isinstance(inner.get("schema"), dict):
                raise WireError(400, "invalid_request", "response_format.json_schema.schema: must be an object",
                                param="response_format")
            schema = inner["schema"]
        elif fmt.get("type") not in (None, "text"):
            raise WireError(400, "invalid_request", f"response_format.type: unknown value {fmt.get('type')!r}",
                            param="response_format")
    if data.get("top_logprobs"):
        raise WireError(400, "invalid_request", "top_logprobs: the lab server returns only the chosen "
                        "token's logprob; leave top_logprobs unset", param="top_logprobs")
    seed = data.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise WireError(400, "invalid_request", "seed: must be an integer", param="seed")
    generation = GenerationRequest(
        model=model,
        messages=messages,
        system="\n\n".join(system_parts) or None,
        max_tokens=max_tokens,
        temperature=_optional_number(data, "temperature", 0.0, 2.0, 0.0),
        stop=_stop_list(data.get("stop"), "stop"),
        seed=seed,
        json_schema=schema,
        logprobs=bool(data.get("logprobs")),
    )
    stream = bool(data.get("stream"))
    options = data.get("stream_options") or {}
    include_usage = bool(options.get("include_usage")) if isinstance(options, dict) else False
    return generation, stream, include_usage


def _openai_logprobs(logprobs: list[float], texts: list[str]) -> dict[str, Any] | None:
    if not logprobs:
        return None
    # One entry per token; a chunk holding several tokens splits its text onto the first.
    content = []
    for i, lp in enumerate(logprobs):
        text = texts[i] if i < len(texts) else ""
        content.append({"token": text, "logprob": lp, "bytes": list(text.encode()), "top_logprobs": []})
    return {"content": content, "refusal": None}


async def chat_completions(request: Request) -> Response:
    server: LabServer = request.app.state.lab
    server.last_request = time.monotonic()
    server.request_count += 1
    started = time.perf_counter()
    try:
        data = await server.read_json(request)
        generation, stream, include_usage = _openai_generation(data)
        prepared = server.prepare(request, generation, stream, include_usage, _api_key(request))
    except WireError as err:
        log.info("POST /v1/chat/completions -> %d %s", err.status, err.message)
        return _error_response("openai", err)
    created = int(time.time())
    completion_id = f"chatcmpl-{prepared.request_id}"
    base = {"id": completion_id, "created": created, "model": generation.model, "system_fingerprint": "rightsize-lab"}
    headers = {"x-request-id": prepared.request_id}

    if not stream:
        texts: list[str] = []
        logprobs: list[float] = []
        finished: Finished | None = None
        try:
            async for event in server.events(prepared):
                if isinstance(event, TokenEvent):
                    texts.append(event.text)
                    logprobs.extend(event.logprobs)
                else:
                    finished = event
        except _StreamCut:
            # without a stream there is nothing to cut: answer as the connection dropping would
            return _error_response("openai", WireError(500, "fault", "The server closed the "
                                   "connection mid-answer (injected by the lab server)."))
        assert finished is not None
        _log_done("chat", prepared, started, finished)
        reply = {**base, "object": "chat.completion", "choices": [{
            "index": 0, "message": {"role": "assistant", "content": "".join(texts), "refusal": None},
            "logprobs": _openai_logprobs(logprobs, texts) if generation.logprobs else None,
            "finish_reason": _openai_finish(finished)}],
            "usage": _openai_usage(prepared.prompt_tokens, finished.completion_tokens)}
        return JSONResponse(reply, headers=headers)

    async def body() -> AsyncIterator[bytes]:
        chunk = {**base, "object": "chat.completion.chunk"}
        # like OpenAI, the first chunk carries only the role: it is not a token
        yield _sse({**chunk, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""},
                                          "logprobs": None, "finish_reason": None}]})
        try:
            async for event in server.events(prepared):
                if isinstance(event, TokenEvent):
                    lp = _openai_logprobs(list(event.logprobs), [event.text]) if generation.logprobs else None
                    yield _sse({**chunk, "choices": [{"index": 0, "delta": {"content": event.text},
                                                      "logprobs": lp, "finish_reason": None}]})
                else:
                    yield _sse({**chunk, "choices": [{"index": 0, "delta": {}, "logprobs": None,
                                                      "finish_reason": _openai_finish(event)}]})
                    if include_usage:
                        yield _sse({**chunk, "choices": [],
                                    "usage": _openai_usage(prepared.prompt_tokens, event.completion_tokens)})
                    _log_done("chat stream", prepared, started, event)
        except _StreamCut:
            return  # end the body with no finish chunk and no [DONE]
        yield b"data: [DONE]\n\n"

    return StreamingResponse(body(), media_type="text/event-stream", headers=headers)


def _openai_finish(finished: Finished) -> str:
    return "length" if finished.finish_reason == "length" else "stop"


def _openai_usage(prompt: int, completion: int) -> dict[str, int]:
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


# -- Anthropic Messages ------------------------------------------------------------------------
def _anthropic_generation(data: dict[str, Any]) -> tuple[GenerationRequest, bool]:
    model = _require(data, "model", str, "a string")
    max_tokens = _max_tokens(_require(data, "max_tokens", int, "an integer"), "max_tokens")
    raw_messages = _require(data, "messages", list, "a list of messages")
    if not raw_messages:
        raise WireError(400, "invalid_request", "messages: at least one message is required")
    messages = []
    for i, message in enumerate(raw_messages):
        if not isinstance(message, dict) or message.get("role") not in ("user", "assistant"):
            raise WireError(400, "invalid_request", f"messages.{i}.role: must be user or assistant "
                            "(the system prompt goes in the top-level system field)")
        messages.append({"role": message["role"],
                         "content": _text_content(message.get("content"), f"messages.{i}.content")})
    if messages[0]["role"] != "user":
        raise WireError(400, "invalid_request", "messages: the first message must use the user role")
    system = data.get("system")
    system_text = None if system is None else _text_content(system, "system")
    generation = GenerationRequest(
        model=model,
        messages=messages,
        system=system_text or None,
        max_tokens=max_tokens,
        temperature=_optional_number(data, "temperature", 0.0, 1.0, 0.0),
        stop=_stop_list(data.get("stop_sequences"), "stop_sequences"),
    )
    return generation, bool(data.get("stream"))


async def messages_endpoint(request: Request) -> Response:
    server: LabServer = request.app.state.lab
    server.last_request = time.monotonic()
    server.request_count += 1
    started = time.perf_counter()
    try:
        data = await server.read_json(request)
        generation, stream = _anthropic_generation(data)
        prepared = server.prepare(request, generation, stream, True, _api_key(request))
    except WireError as err:
        log.info("POST /v1/messages -> %d %s", err.status, err.message)
        return _error_response("anthropic", err)
    message_id = f"msg_{prepared.request_id}"
    headers = {"request-id": f"req_{prepared.request_id}"}
    shell = {"id": message_id, "type": "message", "role": "assistant", "model": generation.model}

    if not stream:
        texts, finished = [], None
        try:
            async for event in server.events(prepared):
                if isinstance(event, TokenEvent):
                    texts.append(event.text)
                else:
                    finished = event
        except _StreamCut:
            return _error_response("anthropic", WireError(500, "fault", "The server closed the "
                                   "connection mid-answer (injected by the lab server)."))
        assert finished is not None
        _log_done("messages", prepared, started, finished)
        reason, sequence = _messages_stop(finished, generation)
        reply = {**shell, "content": [{"type": "text", "text": "".join(texts)}], "stop_reason": reason,
                "stop_sequence": sequence,
                "usage": {"input_tokens": prepared.prompt_tokens, "output_tokens": finished.completion_tokens}}
        return JSONResponse(reply, headers=headers)

    async def body() -> AsyncIterator[bytes]:
        yield _sse({"type": "message_start", "message": {
            **shell, "content": [], "stop_reason": None, "stop_sequence": None,
            "usage": {"input_tokens": prepared.prompt_tokens, "output_tokens": 1}}}, "message_start")
        yield _sse({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
                   "content_block_start")
        yield _sse({"type": "ping"}, "ping")
        try:
            async for event in server.events(prepared):
                if isinstance(event, TokenEvent):
                    yield _sse({"type": "content_block_delta", "index": 0,
                                "delta": {"type": "text_delta", "text": event.text}}, "content_block_delta")
                else:
                    reason, sequence = _messages_stop(event, generation)
                    yield _sse({"type": "content_block_stop", "index": 0}, "content_block_stop")
                    yield _sse({"type": "message_delta", "delta": {"stop_reason": reason, "stop_sequence": sequence},
                                "usage": {"output_tokens": event.completion_tokens}}, "message_delta")
                    yield _sse({"type": "message_stop"}, "message_stop")
                    _log_done("messages stream", prepared, started, event)
        except _StreamCut:
            return

    return StreamingResponse(body(), media_type="text/event-stream", headers=headers)


def _messages_stop(finished: Finished, generation: GenerationRequest) -> tuple[str, str | None]:
    if finished.finish_reason == "length":
        return "max_tokens", None
    if finished.stop_sequence is not None:
        return "stop_sequence", finished.stop_sequence
    return "end_turn", None


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
    protocol = "anthropic" if "anthropic-version" in request.headers else "openai"
    return _error_response(protocol, WireError(404, "not_found", f"no route {request.method} {request.url.path} "
                                               "on the lab server (see /health)"))


async def server_error(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error on %s", request.url.path)
    protocol = "anthropic" if request.url.path.endswith("/messages") else "openai"
    return _error_response(protocol, WireError(500, "server", "The lab server hit an internal error; "
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
            Route("/v1/chat/completions", chat_completions, methods=["POST"]),
            Route("/chat/completions", chat_completions, methods=["POST"]),
            Route("/v1/messages", messages_endpoint, methods=["POST"]),
            Route("/v1/models", models_endpoint, methods=["GET"]),
            Route("/health", health, methods=["GET"]),
        ],
        exception_handlers={404: not_found, 405: not_found, 500: server_error, Exception: server_error},
        lifespan=lifespan,
    )
    app.state.lab = lab
    return app
