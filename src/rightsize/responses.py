"""Recorded answers of real runs, replayed by request, so graded notebooks run in seconds.

A lesson executed under nbgrader's autograde makes the same model calls a learner made. Running
the model again for every student would take minutes each, so a provider can answer a request
from a recording of a real run with the same model, prompt and options:

- ``RIGHTSIZE_RESPONSES=record`` writes every successful answer to ``RIGHTSIZE_RESPONSES_DIR``;
- ``RIGHTSIZE_RESPONSES=replay`` answers from the recordings there and calls the model only on a
  miss (the miss is counted, so a stale recording set shows up in the logs);
- unset, it is ``replay`` while a notebook is graded (:func:`rightsize.notebook.grading`) and
  ``off`` otherwise.

:func:`rightsize.connect` wraps the provider it returns in :class:`RecordedProvider` when a mode is
on; the adapters themselves know nothing of recordings. A replayed
:class:`~rightsize.providers.base.Response` says so (``replayed=True``); its chunks keep their
recorded offsets from the send time. Recordings are the same model's real answers, never another
model's. The files use the course's recording format (:mod:`rightsize.recordfile`).
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

from . import recordfile
from .providers.base import Chunk, Delta, Provider, Request, Response, Usage

__all__ = ["RecordedProvider", "ResponseStore", "active_store", "recorded", "request_key"]


def request_key(model_id: str, api: str, request: Request) -> str:
    """A stable key for a request: model, protocol, messages, system prompt, streaming and options."""
    options = request.options.model_dump(exclude={"timeout"})
    payload = {"model": model_id, "api": api, "messages": request.messages, "system": request.system,
               "stream": request.stream, "options": options}
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


class ResponseStore:
    """A folder of recordings, loaded once, appended to in record mode (one session per process)."""

    def __init__(self, folder: str | Path, mode: str) -> None:
        if mode not in ("record", "replay"):
            raise ValueError(f"RIGHTSIZE_RESPONSES must be record, replay or off, not {mode!r}")
        self.folder = Path(folder)
        self.mode = mode
        self.hits = 0
        self.misses = 0
        self._lock = threading.Lock()
        self._records: dict[str, dict[str, Any]] | None = None
        self._session_open = False

    def _load(self) -> dict[str, dict[str, Any]]:
        if self._records is None:
            records: dict[str, dict[str, Any]] = {}
            for path in sorted(self.folder.glob("*.jsonl")) if self.folder.is_dir() else []:
                for _session, record in recordfile.records(path, "responses", "response"):
                    records[record["key"]] = record
            self._records = records
        return self._records

    def get(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            record = self._load().get(key)
            if record is None:
                self.misses += 1
            else:
                self.hits += 1
            return record

    def put(self, key: str, request: Request, response: Response) -> None:
        """Keep a successful answer (record mode)."""
        record = {
            "type": "response",
            "key": key,
            "model": response.model,
            "provider": response.provider,
            "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(response.sent_wall)),
            "request": {"messages": request.messages, "system": request.system, "stream": request.stream,
                        "options": request.options.model_dump(exclude={"timeout"})},
            "chunks": [[round(c.arrived - response.sent, 6), c.text, list(c.logprobs), c.tokens]
                       for c in response.chunks],
            "finished": None if response.finished is None else round(response.finished - response.sent, 6),
            "finish_reason": response.finish_reason,
            "usage": asdict(response.usage),
        }
        with self._lock:
            head = None if self._session_open else recordfile.header(
                "responses", note="real answers, replayed by request under the autograder")
            recordfile.append(self.folder / "responses.jsonl", head, [record])
            self._session_open = True
            self._load()[key] = record

    @staticmethod
    def replay(record: dict[str, Any], response: Response) -> Response:
        """Fill ``response`` (already stamped with its send time) from a recording."""
        sent = response.sent
        response.chunks = [Chunk(text, sent + offset, tuple(logprobs), tokens)
                           for offset, text, logprobs, tokens in record["chunks"]]
        finished = record.get("finished")
        response.finished = None if finished is None else sent + finished
        response.finish_reason = record.get("finish_reason")
        response.usage = Usage(**record["usage"])
        response.replayed = True
        return response


class RecordedProvider(Provider):
    """A provider answered from recordings (replay mode) or whose answers are kept (record mode).

    Everything but :meth:`complete` and :meth:`acomplete` is the wrapped adapter's own.
    """

    def __init__(self, inner: Provider, store: ResponseStore) -> None:
        self.inner = inner
        self.store = store
        self.model, self.base_url, self.timeout, self.headers = inner.model, inner.base_url, inner.timeout, inner.headers
        self._explicit_key = inner._explicit_key

    @property  # type: ignore[override]
    def api(self) -> str:
        return self.inner.api

    @property
    def adapter(self) -> Provider:
        return self.inner.adapter

    def __getattr__(self, name: str) -> Any:  # an adapter's own attributes (its SDK client, ...)
        return getattr(self.inner, name)

    def __repr__(self) -> str:
        return f"<recorded ({self.store.mode}) {self.inner!r}>"

    def key(self) -> str | None:
        return self.inner.key()

    def _stream(self, request: Request) -> Iterator[Delta]:
        return self.inner._stream(request)

    def _astream(self, request: Request) -> AsyncIterator[Delta]:
        return self.inner._astream(request)

    def map_error(self, exc: BaseException) -> Any:
        return self.inner.map_error(exc)

    def prepare(self) -> None:
        self.inner.prepare()

    def generation_options(self, request: Request) -> dict[str, Any]:
        return self.inner.generation_options(request)

    def _lookup(self, prompt: Any, system: str | None, stream: bool, options: dict[str, Any]
                ) -> tuple[Request, str, Response | None]:
        request = self.inner._request(prompt, system, stream, options)
        key = request_key(self.model.id, self.api, request)
        record = self.store.get(key) if self.store.mode == "replay" else None
        return request, key, (None if record is None else self.store.replay(record, self.inner._start(request)))

    def _kept(self, key: str, request: Request, response: Response) -> Response:
        if self.store.mode == "record" and response.ok:
            self.store.put(key, request, response)
        return response

    def complete(self, prompt: str | list[dict[str, str]], *, system: str | None = None, stream: bool = True,
                 raise_errors: bool = True, **options: Any) -> Response:
        request, key, replayed = self._lookup(prompt, system, stream, options)
        if replayed is not None:
            return replayed
        return self._kept(key, request, self.inner.complete(prompt, system=system, stream=stream,
                                                            raise_errors=raise_errors, **options))

    async def acomplete(self, prompt: str | list[dict[str, str]], *, system: str | None = None,
                        stream: bool = True, raise_errors: bool = True, **options: Any) -> Response:
        request, key, replayed = self._lookup(prompt, system, stream, options)
        if replayed is not None:
            return replayed
        return self._kept(key, request, await self.inner.acomplete(prompt, system=system, stream=stream,
                                                                   raise_errors=raise_errors, **options))


_stores: dict[tuple[str, str], ResponseStore] = {}
_stores_lock = threading.Lock()


def _default_folder() -> Path:
    from .lab import cache_dir

    return cache_dir() / "responses"


def active_store() -> ResponseStore | None:
    """The store the environment asks for, or None when recordings are off."""
    from .notebook import grading

    mode = os.environ.get("RIGHTSIZE_RESPONSES", "").strip().lower()
    if not mode:
        mode = "replay" if grading() else "off"
    if mode == "off":
        return None
    folder = os.environ.get("RIGHTSIZE_RESPONSES_DIR") or str(_default_folder())
    with _stores_lock:
        key = (folder, mode)
        if key not in _stores:
            _stores[key] = ResponseStore(folder, mode)
        return _stores[key]


def recorded(provider: Provider) -> Provider:
    """``provider`` wrapped for the active recording mode, or itself when recordings are off
    (or it is a stand-in whose answers are never recorded: ``recordable = False``)."""
    store = active_store()
    if store is None or not provider.recordable or isinstance(provider, RecordedProvider):
        return provider
    return RecordedProvider(provider, store)
