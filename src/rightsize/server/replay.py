"""A lab-server backend that replays recordings of real runs with their recorded timing.

Each recording is served under the model id ``replay/<recording name>`` (so a replay can never
pass for a live model), over both protocols, and listed by ``/health`` and ``/v1/models``. For
every request the backend picks a recorded answer (the next recording of the same prompt when
there is one, else the next recording in order) and sends each content chunk at its recorded
offset from the send, counted from the moment the server has parsed the request, then
finishes at the recorded end. Requests replay independently: a recording made under load keeps the queueing it
saw, and replaying it at another concurrency does not add or remove any.

``rightsize serve --replay FILE_OR_DIR [--replay-only]`` serves recordings; see
:mod:`rightsize.profiling.record` for the format.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import AsyncIterator, Iterable
from pathlib import Path

from ..errors import RightsizeError
from ..local_model import Finished, TokenEvent
from ..profiling.record import Recording, RecordingEntry, load_recordings
from ..providers.base import Request

__all__ = ["REPLAY_PREFIX", "ReplayBackend"]

REPLAY_PREFIX = "replay/"


def _prompt_key(messages: list[dict[str, str]], system: str | None) -> str:
    return json.dumps([system, [[m.get("role"), m.get("content")] for m in messages]], ensure_ascii=False)


class _Served:
    """One recording as served: its answers, by prompt and in order."""

    def __init__(self, recording: Recording) -> None:
        self.recording = recording
        self.answers = [e for e in recording.entries if e.ok and e.content_chunks]
        if not self.answers:
            raise RightsizeError(f"the recording {recording.name!r} holds no successful answer to replay")
        self.by_prompt: dict[str, list[RecordingEntry]] = {}
        for entry in self.answers:
            self.by_prompt.setdefault(_prompt_key(entry.messages, entry.system), []).append(entry)
        self._turns: dict[str, itertools.count[int]] = {}
        self._order = itertools.count()

    def match(self, request: Request) -> list[RecordingEntry] | None:
        return self.by_prompt.get(_prompt_key(request.messages, request.system))

    def pick(self, request: Request) -> RecordingEntry:
        key = _prompt_key(request.messages, request.system)
        same = self.by_prompt.get(key)
        if same:
            turn = self._turns.setdefault(key, itertools.count())
            return same[next(turn) % len(same)]
        return self.answers[next(self._order) % len(self.answers)]


class ReplayBackend:
    """Serves recordings under ``replay/<name>`` with the recorded chunk timing."""

    def __init__(self, recordings: Iterable[Recording], context_window: int = 131072) -> None:
        self._served: dict[str, _Served] = {}
        for recording in recordings:
            model_id = REPLAY_PREFIX + recording.name
            if model_id in self._served:
                raise RightsizeError(f"two recordings are named {recording.name!r}; rename one (its header's name)")
            self._served[model_id] = _Served(recording)
        if not self._served:
            raise RightsizeError("no recordings to replay")
        self._context_window = context_window
        self._arrivals: dict[int, float] = {}  # id(request) -> when the server parsed it

    @classmethod
    def from_sources(cls, sources: Iterable[str | Path]) -> ReplayBackend:
        """Recordings from files, folders or shipped names (see :func:`~rightsize.profiling.record.load_recordings`)."""
        return cls([rec for source in sources for rec in load_recordings(source)])

    @property
    def model_ids(self) -> list[str]:
        return list(self._served)

    @property
    def recordings(self) -> list[Recording]:
        return [s.recording for s in self._served.values()]

    @property
    def context_window(self) -> int:
        return self._context_window

    def count_prompt_tokens(self, request: Request) -> int:
        # The server asks this as soon as it has parsed a request, well before the answer's body
        # starts: the replay's clock starts here, so the server's own work counts as recorded time.
        self._arrivals[id(request)] = time.perf_counter()
        same = self._served[request.model].match(request)
        if same and same[0].input_tokens is not None:
            return int(same[0].input_tokens)
        # not a recorded prompt: a rough count (about four characters a token)
        text = (request.system or "") + "".join(m.get("content", "") for m in request.messages)
        return max(1, len(text) // 4)

    async def generate(self, request: Request) -> AsyncIterator[TokenEvent | Finished]:
        arrived = self._arrivals.pop(id(request), None) or time.perf_counter()
        entry = self._served[request.model].pick(request)
        sent_tokens = 0
        last_offset = 0.0
        for offset, text, tokens in entry.content_chunks:
            if sent_tokens >= request.options.max_tokens:
                break
            wait = arrived + offset - time.perf_counter()
            if wait > 0:
                await asyncio.sleep(wait)
            count = tokens if tokens else 1
            sent_tokens += count
            last_offset = offset
            yield TokenEvent(text, count)
        truncated = sent_tokens >= request.options.max_tokens and sent_tokens < (entry.output_tokens or sent_tokens)
        if not truncated and entry.finished is not None and entry.finished > last_offset:
            wait = arrived + entry.finished - time.perf_counter()
            if wait > 0:
                await asyncio.sleep(wait)
        if truncated:
            reason, output = "length", sent_tokens
        else:
            reason = "length" if entry.finish_reason in ("length", "max_tokens") else "stop"
            output = entry.output_tokens if entry.output_tokens is not None else sent_tokens
        prompt = entry.input_tokens if entry.input_tokens is not None else self.count_prompt_tokens(request)
        yield Finished(reason, int(prompt), int(output))
