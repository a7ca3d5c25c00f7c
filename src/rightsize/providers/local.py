"""Adapter for the embedded local model, run in-process (no server, no network, no key)."""

from __future__ import annotations

from collections.abc import Iterator

from ..local_model import TokenEvent, get_local_model
from .base import Delta, Provider, Request


class LocalProvider(Provider):
    """SmolLM2-135M-Instruct through llama.cpp in this process."""

    api = "local"

    def prepare(self) -> None:
        get_local_model()  # load (a few seconds) before the clock starts

    def _stream(self, request: Request) -> Iterator[Delta]:
        opts = request.options
        # the registry names the token limit max_tokens, LocalModel.stream's own keyword
        events = get_local_model().stream(
            request.messages,
            system=request.system,
            json_schema=opts.json_schema,
            logprobs=opts.logprobs,
            **self.generation_options(request),
        )
        if request.stream:
            for event in events:
                if isinstance(event, TokenEvent):
                    yield Delta(text=event.text, logprobs=event.logprobs, tokens=event.tokens)
                else:
                    yield Delta(finish_reason=event.finish_reason, input_tokens=event.prompt_tokens,
                                output_tokens=event.completion_tokens)
            return
        texts: list[str] = []
        logprobs: list[float] = []
        for event in events:
            if isinstance(event, TokenEvent):
                texts.append(event.text)
                logprobs.extend(event.logprobs)
            else:
                yield Delta(text="".join(texts), logprobs=tuple(logprobs), tokens=event.completion_tokens,
                            finish_reason=event.finish_reason, input_tokens=event.prompt_tokens,
                            output_tokens=event.completion_tokens)
