"""A cache for repeated deterministic requests: same model, messages and options -> same answer.

Only requests at temperature 0 are cached (sampling at a higher temperature asks for a
*different* answer each time), and only successful answers. Even at temperature 0 a cloud model
is not bit-for-bit deterministic; caching says "the answer we already paid for is good enough",
which is what a production cache does. Entries are evicted least-recently-used first, and
optionally expire after ``ttl_s`` seconds.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ..providers import Options, Response

__all__ = ["ResponseCache"]

# options that change how a request is sent, not what it asks for
_NOT_IN_KEY = ("timeout",)


class ResponseCache:
    """An in-memory LRU cache of successful responses to temperature-0 requests."""

    def __init__(self, max_entries: int = 1024, *, ttl_s: float | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.max_entries = max_entries
        self.ttl_s = ttl_s
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, Response]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0
        self.skipped = 0  # lookups of requests that may not be cached (temperature > 0)

    @staticmethod
    def key(model: str, messages: Sequence[Mapping[str, str]], system: str | None,
            options: Mapping[str, Any]) -> str | None:
        """The cache key of a request, or None when it is not deterministic (temperature > 0)."""
        if "temperature" not in options and not _greedy_by_default(model):
            return None  # the model samples at its own default temperature: answers vary
        normalized = Options(**options).model_dump()  # fills defaults: {} and {temperature: 0} agree
        if normalized["temperature"] != 0:
            return None
        for name in _NOT_IN_KEY:
            normalized.pop(name, None)
        blob = json.dumps({"model": model, "messages": list(messages), "system": system, "options": normalized},
                          sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()

    def get(self, key: str | None) -> Response | None:
        """The cached response for ``key`` (None for a miss or an uncacheable request)."""
        if key is None:
            self.skipped += 1
            return None
        with self._lock:
            item = self._entries.get(key)
            if item is not None and self.ttl_s is not None and self._clock() - item[0] > self.ttl_s:
                del self._entries[key]
                item = None
            if item is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return item[1]

    def put(self, key: str | None, response: Response) -> bool:
        """Store a successful response; returns whether it was stored."""
        if key is None or not response.ok:
            return False
        with self._lock:
            self._entries[key] = (self._clock(), response)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return True

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def _greedy_by_default(model: str) -> bool:
    """Whether a request that sets no temperature is sent at temperature 0 to ``model`` (by the registry)."""
    from ..registry import get_model

    try:
        return get_model(model, allow_retired=True).accepts("temperature", 0.0)
    except Exception:  # noqa: BLE001 - an endpoint the registry does not know takes what it is sent
        return True
