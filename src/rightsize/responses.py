"""Recorded answers of real runs, replayed by request, so graded notebooks run in seconds.

A lesson executed under nbgrader's autograde makes the same model calls a learner made. Running
the model again for every student would take minutes each, so the provider layer can answer a
request from a recording of a real run with the same model, prompt and options:

- ``RIGHTSIZE_RESPONSES=record`` writes every successful answer to ``RIGHTSIZE_RESPONSES_DIR``;
- ``RIGHTSIZE_RESPONSES=replay`` answers from the recordings there and calls the model only on a
  miss (the miss is counted, so a stale recording set shows up in the logs);
- unset, it is ``replay`` while nbgrader executes a notebook (``NBGRADER_EXECUTION`` is set) and
  ``off`` otherwise.

A replayed :class:`~rightsize.providers.base.Response` says so (``replayed=True``); its chunks
keep their recorded offsets from the send time. Recordings are the same model's real answers,
never another model's.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .providers.base import Request, Response

__all__ = ["ResponseStore", "active_store", "request_key"]

_FORMAT = 1


def request_key(model_id: str, api: str, request: Request) -> str:
    """A stable key for a request: model, protocol, messages, system prompt, streaming and options."""
    options = request.options.model_dump(exclude={"timeout"})
    payload = {"model": model_id, "api": api, "messages": request.messages, "system": request.system,
               "stream": request.stream, "options": options}
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


class ResponseStore:
    """A folder of JSONL recordings, loaded once, appended to in record mode."""

    def __init__(self, folder: str | Path, mode: str) -> None:
        if mode not in ("record", "replay"):
            raise ValueError(f"RIGHTSIZE_RESPONSES must be record, replay or off, not {mode!r}")
        self.folder = Path(folder)
        self.mode = mode
        self.hits = 0
        self.misses = 0
        self._lock = threading.Lock()
        self._records: dict[str, dict[str, Any]] | None = None

    def _load(self) -> dict[str, dict[str, Any]]:
        if self._records is None:
            records: dict[str, dict[str, Any]] = {}
            for path in sorted(self.folder.glob("*.jsonl")) if self.folder.is_dir() else []:
                for line in path.read_text(encoding="utf-8").splitlines():
                    if line.strip():
                        record = json.loads(line)
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
            "format": _FORMAT,
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
            self.folder.mkdir(parents=True, exist_ok=True)
            with open(self.folder / "responses.jsonl", "a", encoding="utf-8") as out:
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
            self._load()[key] = record

    @staticmethod
    def replay(record: dict[str, Any], response: Response) -> Response:
        """Fill ``response`` (already stamped with its send time) from a recording."""
        from .providers.base import Chunk, Usage

        sent = response.sent
        response.chunks = [Chunk(text, sent + offset, tuple(logprobs), tokens)
                           for offset, text, logprobs, tokens in record["chunks"]]
        finished = record.get("finished")
        response.finished = None if finished is None else sent + finished
        response.finish_reason = record.get("finish_reason")
        response.usage = Usage(**record["usage"])
        response.replayed = True
        return response


_stores: dict[tuple[str, str], ResponseStore] = {}
_stores_lock = threading.Lock()


def _default_folder() -> Path:
    from .lab import cache_dir

    return cache_dir() / "responses"


def active_store() -> ResponseStore | None:
    """The store the environment asks for, or None when recordings are off."""
    mode = os.environ.get("RIGHTSIZE_RESPONSES", "").strip().lower()
    if not mode:
        mode = "replay" if os.environ.get("NBGRADER_EXECUTION") else "off"
    if mode == "off":
        return None
    folder = os.environ.get("RIGHTSIZE_RESPONSES_DIR") or str(_default_folder())
    with _stores_lock:
        key = (folder, mode)
        if key not in _stores:
            _stores[key] = ResponseStore(folder, mode)
        return _stores[key]
