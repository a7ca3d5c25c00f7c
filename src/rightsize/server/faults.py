"""Fault and load injection for the lab server.

Faults make the lab server behave like a busy cloud API so learners can meet 429s, 503/529s,
timeouts and cut streams offline. They never change what the model says: they add delay, refuse
a request, or stop a stream early, and the server logs each one as injected.

A fault configuration comes from the server's ``--faults FILE`` (YAML or JSON), overridden per
request by the ``X-Rightsize-Faults`` header holding JSON or ``key=value`` pairs separated by
commas, for example ``X-Rightsize-Faults: rpm=30,unavailable_rate=0.1,seed=7``.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field

__all__ = ["FaultConfig", "FaultDecision", "RateLimiter", "parse_fault_header"]


class FaultConfig(BaseModel):
    """What to inject. Every field defaults to "nothing"."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ttft_ms: float = Field(0, ge=0, description="extra delay before the first token, ms")
    ttft_jitter_ms: float = Field(0, ge=0, description="uniform random extra on top of ttft_ms, ms")
    token_ms: float = Field(0, ge=0, description="extra delay before every later token, ms")
    token_jitter_ms: float = Field(0, ge=0, description="uniform random extra on top of token_ms, ms")
    rpm: int | None = Field(None, ge=1, description="requests per minute allowed, then 429")
    tpm: int | None = Field(None, ge=1, description="tokens (prompt + max_tokens) per minute, then 429")
    unavailable_rate: float = Field(0, ge=0, le=1, description="probability of a 503 answer")
    overloaded_rate: float = Field(0, ge=0, le=1, description="probability of a 529 answer")
    hang_rate: float = Field(0, ge=0, le=1, description="probability of hanging (client timeout)")
    hang_s: float = Field(30, gt=0, le=600, description="how long a hang lasts, seconds")
    cut_rate: float = Field(0, ge=0, le=1, description="probability a stream is cut mid-way")
    cut_after_tokens: int = Field(3, ge=0, description="tokens sent before a cut")
    seed: int | None = Field(None, description="seed for the random draws, for repeatable runs")

    def merged(self, override: dict[str, Any]) -> FaultConfig:
        """This configuration with some fields replaced (validated)."""
        return FaultConfig(**{**self.model_dump(), **override})

    @classmethod
    def from_file(cls, path: str | Path) -> FaultConfig:
        """Read a YAML or JSON fault file; raises :class:`~rightsize.yamlconfig.ConfigError` naming the line."""
        from ..yamlconfig import load_file

        return load_file(path, cls, empty_is={})

    @property
    def active(self) -> bool:
        return self != FaultConfig()


def parse_fault_header(value: str) -> dict[str, Any]:
    """Parse ``X-Rightsize-Faults``: a JSON object or ``key=value,key=value``."""
    value = value.strip()
    if not value:
        return {}
    if value.startswith("{"):
        data = json.loads(value)
        if not isinstance(data, dict):
            raise ValueError("X-Rightsize-Faults JSON must be an object")
        return data
    out: dict[str, Any] = {}
    for part in value.split(","):
        if not part.strip():
            continue
        if "=" not in part:
            raise ValueError(f"X-Rightsize-Faults: expected key=value, got {part.strip()!r}")
        key, raw = (s.strip() for s in part.split("=", 1))
        out[key] = yaml.safe_load(raw)  # numbers, booleans and null as YAML reads them
    return out


@dataclass
class FaultDecision:
    """What happens to one request, drawn once when it arrives."""

    status: int | None = None  # 429, 503 or 529 to refuse with, else None
    retry_after: float | None = None
    hang: bool = False
    cut_after: int | None = None  # tokens to send before cutting the stream
    reasons: list[str] = field(default_factory=list)


class RateLimiter:
    """Sliding one-minute windows of requests and tokens, per API key."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._events: dict[str, deque[tuple[float, int]]] = {}

    def check(self, key: str, tokens: int, rpm: int | None, tpm: int | None) -> float | None:
        """Record a request, or return the seconds to wait when it is over a limit."""
        now = time.monotonic()
        with self._lock:
            events = self._events.setdefault(key, deque())
            while events and now - events[0][0] >= 60.0:
                events.popleft()
            waits: list[float] = []
            if rpm is not None and len(events) >= rpm:
                waits.append(60.0 - (now - events[len(events) - rpm][0]))
            if tpm is not None:
                used = sum(t for _, t in events)
                if used + tokens > tpm:
                    # wait until enough of the window's oldest tokens have expired
                    need, freed = used + tokens - tpm, 0
                    for stamp, count in events:
                        freed += count
                        if freed >= need:
                            waits.append(60.0 - (now - stamp))
                            break
                    else:
                        waits.append(60.0)
            if waits:
                return max(0.001, max(waits))
            events.append((now, tokens))
            return None


class FaultInjector:
    """Draws a :class:`FaultDecision` for each request under a configuration."""

    def __init__(self) -> None:
        self.limiter = RateLimiter()
        self._rngs: dict[int | None, random.Random] = {}
        self._lock = threading.Lock()

    def _rng(self, seed: int | None) -> random.Random:
        with self._lock:
            if seed not in self._rngs:
                self._rngs[seed] = random.Random(seed)
            return self._rngs[seed]

    def decide(self, config: FaultConfig, *, api_key: str, tokens: int) -> FaultDecision:
        decision = FaultDecision()
        if not config.active:
            return decision
        rng = self._rng(config.seed)
        wait = self.limiter.check(api_key, tokens, config.rpm, config.tpm)
        if wait is not None:
            decision.status, decision.retry_after = 429, round(wait, 3)
            decision.reasons.append(f"429 rate limit (rpm={config.rpm}, tpm={config.tpm})")
            return decision
        draw = rng.random()
        if draw < config.unavailable_rate:
            decision.status, decision.retry_after = 503, 1.0
            decision.reasons.append(f"503 unavailable (rate {config.unavailable_rate})")
            return decision
        if draw < config.unavailable_rate + config.overloaded_rate:
            decision.status, decision.retry_after = 529, 1.0
            decision.reasons.append(f"529 overloaded (rate {config.overloaded_rate})")
            return decision
        if rng.random() < config.hang_rate:
            decision.hang = True
            decision.reasons.append(f"hang {config.hang_s}s (rate {config.hang_rate})")
        if rng.random() < config.cut_rate:
            decision.cut_after = config.cut_after_tokens
            decision.reasons.append(f"stream cut after {config.cut_after_tokens} tokens")
        return decision

    def first_token_delay(self, config: FaultConfig) -> float:
        """Seconds to add before the first token."""
        jitter = self._rng(config.seed).uniform(0, config.ttft_jitter_ms) if config.ttft_jitter_ms else 0
        return (config.ttft_ms + jitter) / 1000

    def token_delay(self, config: FaultConfig) -> float:
        """Seconds to add before each later token."""
        jitter = self._rng(config.seed).uniform(0, config.token_jitter_ms) if config.token_jitter_ms else 0
        return (config.token_ms + jitter) / 1000
