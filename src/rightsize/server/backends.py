"""What the lab server generates answers with.

A backend serves one or more model ids and turns a parsed request (a
:class:`~rightsize.providers.base.Request`, what :mod:`rightsize.protocols` makes of either
protocol's body) into a stream of
:class:`~rightsize.local_model.TokenEvent` followed by a :class:`~rightsize.local_model.Finished`.
:class:`LocalBackend` runs the embedded model, one request at a time in arrival order, so a
request that waits shows the wait in its time to first token, as on a busy real server.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import threading
from collections.abc import AsyncIterator
from typing import Any, Protocol

from ..local_model import Finished, LocalModel, TokenEvent, get_local_model
from ..providers.base import Request

__all__ = ["Backend", "LocalBackend"]


class Backend(Protocol):
    """The interface the server needs from whatever produces answers."""

    @property
    def model_ids(self) -> list[str]: ...

    @property
    def context_window(self) -> int: ...

    def count_prompt_tokens(self, request: Request) -> int: ...

    def generate(self, request: Request) -> AsyncIterator[TokenEvent | Finished]: ...


class LocalBackend:
    """The embedded local model, queued: one generation at a time, first come first served."""

    def __init__(self, model: LocalModel | None = None) -> None:
        self._model = model
        self._turn = asyncio.Lock()  # FIFO: waiters are served in arrival order
        # One long-lived thread runs every generation, so llama.cpp's worker threads are made
        # once, by it, and keep its scheduling priority.
        self._executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="llama")

    @property
    def model(self) -> LocalModel:
        if self._model is None:
            self._model = get_local_model()
        return self._model

    def warm(self) -> None:
        """Load the model now, on the generation thread, rather than on the first request."""
        self._executor.submit(lambda: self.model).result()

    @property
    def model_ids(self) -> list[str]:
        return [LocalModel.model_id]

    @property
    def context_window(self) -> int:
        return self.model.context_window

    def count_prompt_tokens(self, request: Request) -> int:
        return self.model.count_tokens(request.messages, request.system)

    async def generate(self, request: Request) -> AsyncIterator[TokenEvent | Finished]:
        loop = asyncio.get_running_loop()
        async with self._turn:
            # Tokens pass from the generation thread to the event loop through a deque; the
            # thread wakes the loop only when no wake-up is already pending, so a busy loop
            # picks up several tokens per wake-up instead of being interrupted for each one.
            ready: collections.deque[Any] = collections.deque()
            wake = asyncio.Event()
            wake_pending = threading.Event()
            stop = threading.Event()

            def push(item: Any) -> None:
                ready.append(item)
                if not wake_pending.is_set():
                    wake_pending.set()
                    loop.call_soon_threadsafe(wake.set)

            def work() -> None:
                try:
                    options = request.options
                    for event in self.model.stream(
                        request.messages,
                        system=request.system,
                        max_tokens=options.max_tokens,
                        temperature=options.temperature,
                        stop=options.stop,
                        seed=options.seed,
                        json_schema=options.json_schema,
                        logprobs=options.logprobs,
                        cancelled=stop.is_set,
                    ):
                        push(event)
                except BaseException as exc:  # handed to the event loop
                    push(exc)

            worker = loop.run_in_executor(self._executor, work)
            try:
                while True:
                    await wake.wait()
                    wake.clear()
                    wake_pending.clear()  # before draining: a later push schedules a new wake-up
                    while ready:
                        item = ready.popleft()
                        if isinstance(item, BaseException):
                            raise item
                        yield item
                        if isinstance(item, Finished):
                            return
            finally:
                stop.set()  # the client went away or we are done: free the model
                await asyncio.shield(worker)
