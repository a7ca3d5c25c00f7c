"""A scripted provider: answers with queued replies and keeps every request it was sent.

For tests and for lessons that show a mechanism (a retry, a cache hit, a repair) without
waiting for a model::

    fake = ScriptedProvider(["not JSON", '{"quantity": 3}'])
    complete_structured(fake, "...", schema)   # the first answer fails, the retry passes
    fake.requests[1].messages                   # the conversation of the retry, error included

A reply is a string (sent as one chunk per whitespace-separated piece) or a list of
``(text, logprob)`` pieces when logprobs matter. Usage is counted as words, and the model has a
made-up list price so cost arithmetic can be checked by hand.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from typing import Any

from ..errors import RightsizeError
from ..providers.base import Delta, Provider, Request
from ..registry import Capabilities, ModelInfo, Price

__all__ = ["ScriptedProvider"]

Reply = str | Sequence[tuple[str, float]]


class ScriptedProvider(Provider):
    """A provider that answers from a queue. Raises when asked more often than it has replies."""

    api = "scripted"
    recordable = False

    def __init__(self, replies: Sequence[Reply] = (), *, model_id: str = "scripted-model",
                 provider: str = "scripted", json_schema: bool = True, logprobs: bool = False,
                 price: tuple[float, float] = (1.0, 2.0)) -> None:
        info = ModelInfo(
            id=model_id, name=f"{model_id} (scripted replies)", provider=provider, api="openai", tier="small",
            context_window=100_000, capabilities=Capabilities(stream=True, json_schema=json_schema, logprobs=logprobs),
            price=Price(input_per_mtok=price[0], output_per_mtok=price[1], read_on=dt.date(2026, 1, 1),
                        source="made up for tests"),
        )
        super().__init__(info)
        self.replies: list[Reply] = list(replies)
        self.requests: list[Request] = []

    def queue(self, *replies: Reply) -> None:
        self.replies.extend(replies)

    @property
    def calls(self) -> int:
        return len(self.requests)

    def _stream(self, request: Request) -> Iterator[Delta]:
        self.requests.append(request)
        if not self.replies:
            raise RightsizeError(f"{self.model.id}: no scripted reply left for request {len(self.requests)}")
        reply = self.replies.pop(0)
        pieces: list[tuple[str, float | None]]
        if isinstance(reply, str):
            words = reply.split(" ")
            pieces = [(w + (" " if i < len(words) - 1 else ""), None) for i, w in enumerate(words)]
        else:
            pieces = [(text, logprob) for text, logprob in reply]
        prompt_words = sum(len(str(m.get("content", "")).split()) for m in request.messages)
        for text, logprob in pieces:
            yield Delta(text=text, logprobs=(logprob,) if logprob is not None else (), tokens=1)
        yield Delta(finish_reason="stop", input_tokens=prompt_words, output_tokens=len(pieces))

    def describe(self) -> dict[str, Any]:
        return {"model": self.model.id, "left": len(self.replies), "calls": self.calls}
