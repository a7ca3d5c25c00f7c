"""The routing request, the decision a router makes, and the log every decision goes to.

Every router, cascade and fallback chain writes one :class:`DecisionEntry` per request: when,
which request, which model, why, and (once the call is done) what it cost and how long it took.
``DecisionLog.to_frame()`` turns the log into a DataFrame for the lesson's tables and plots; a
``path`` makes it append JSON lines too, so a long run can be inspected afterwards.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Decision", "DecisionEntry", "DecisionLog", "RouteRequest", "as_request", "new_request_id"]

log = logging.getLogger("rightsize.routing")


def new_request_id() -> str:
    """A short random id for a request (12 hex digits)."""
    return uuid.uuid4().hex[:12]


@dataclass(frozen=True)
class RouteRequest:
    """What a router looks at: the prompt, an id for the log, and free-form metadata."""

    prompt: str
    id: str = field(default_factory=new_request_id)
    metadata: Mapping[str, Any] = field(default_factory=dict)
    system: str | None = None


def as_request(request: str | RouteRequest | Mapping[str, Any]) -> RouteRequest:
    """Accept a plain prompt, a :class:`RouteRequest`, or a dict with ``prompt`` (and ``id``...)."""
    if isinstance(request, RouteRequest):
        return request
    if isinstance(request, str):
        return RouteRequest(request)
    if isinstance(request, Mapping) and isinstance(request.get("prompt"), str):
        extra = {k: v for k, v in request.items() if k not in ("prompt", "id", "metadata", "system")}
        metadata = {**extra, **dict(request.get("metadata") or {})}
        return RouteRequest(str(request["prompt"]), str(request.get("id") or new_request_id()),
                            metadata, request.get("system"))
    raise TypeError("a routing request is a prompt string, a RouteRequest, or a dict with a 'prompt' string")


@dataclass(frozen=True)
class Decision:
    """A router's choice for one request, and why."""

    model: str
    reason: str
    request_id: str = ""
    router: str = ""
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class DecisionEntry:
    """One line of the decision log. ``cost_usd`` and ``latency_s`` are filled once the call ends."""

    timestamp: float
    request_id: str
    router: str
    model: str | None
    reason: str
    cost_usd: float | None = None
    latency_s: float | None = None
    ok: bool | None = None
    details: dict[str, Any] = field(default_factory=dict)


class DecisionLog:
    """A structured log of routing decisions, kept in memory (and optionally as JSON lines)."""

    def __init__(self, *, path: str | Path | None = None, clock: Callable[[], float] = time.time) -> None:
        self.entries: list[DecisionEntry] = []
        self.path = Path(path) if path is not None else None
        self._clock = clock
        self._lock = threading.Lock()

    def record(
        self,
        *,
        request_id: str,
        router: str,
        model: str | None,
        reason: str,
        cost_usd: float | None = None,
        latency_s: float | None = None,
        ok: bool | None = None,
        **details: Any,
    ) -> DecisionEntry:
        """Add one decision and return its entry."""
        entry = DecisionEntry(self._clock(), request_id, router, model, reason, cost_usd, latency_s, ok,
                              dict(details))
        with self._lock:
            self.entries.append(entry)
        log.info("route %s via %s -> %s: %s", request_id, router, model, reason)
        if cost_usd is not None or latency_s is not None or ok is not None:
            self._write(entry)
        return entry

    def account(self, entry: DecisionEntry, *, cost_usd: float | None, latency_s: float | None,
                ok: bool | None = True, model: str | None = None) -> None:
        """Fill in what a routed call cost and how long it took, once it has finished."""
        with self._lock:
            entry.cost_usd, entry.latency_s, entry.ok = cost_usd, latency_s, ok
            if model is not None:
                entry.model = model
        self._write(entry)

    def _write(self, entry: DecisionEntry) -> None:
        if self.path is None:
            return
        with self._lock, self.path.open("a", encoding="utf-8") as out:
            out.write(json.dumps(asdict(entry), default=str) + "\n")

    def to_frame(self) -> pd.DataFrame:
        """The log as a DataFrame: one row per decision, ``details`` spread into columns."""
        import pandas as pd

        rows = []
        for e in self.entries:
            row = {k: v for k, v in asdict(e).items() if k != "details"}
            row.update({k: v for k, v in e.details.items() if k not in row})
            rows.append(row)
        columns = ["timestamp", "request_id", "router", "model", "reason", "cost_usd", "latency_s", "ok"]
        frame = pd.DataFrame(rows, columns=None if rows else columns)
        if rows:
            frame["timestamp"] = pd.to_datetime(frame["timestamp"], unit="s", utc=True)
        return frame

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self) -> Iterator[DecisionEntry]:
        return iter(list(self.entries))

    def clear(self) -> None:
        with self._lock:
            self.entries.clear()
