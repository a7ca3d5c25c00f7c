"""What providers did under injected faults, recorded, then replayed so retry code is graded offline.

A fallback chain's behaviour depends on the order of failures it meets: a 429 with a
``retry-after``, two 503s, an answer. :func:`record_outcomes` sends requests to real providers
(for the course: the lab server with faults injected by ``X-Rightsize-Faults``) and keeps, per
attempt, what came back: the answer, or the error with its status and ``retry-after``.
:class:`ReplayedProvider` then plays one provider's outcomes back in the same order, raising the
same :mod:`rightsize.errors` exceptions, with no network and no model: the same faults every
time, which is what a graded exercise needs. A replayed answer is the recorded text of a real
answer, and says so (``response.replayed``).

    outcomes = record_outcomes({"primary": connect("lab", headers={"X-Rightsize-Faults": "rpm=2"})},
                               prompt="Say OK.", attempts=6)
    save_outcomes(outcomes, "faults.jsonl"); later: ReplayedProvider.from_file("faults.jsonl", "primary")

The course ships one such recording (:func:`shipped_fault_outcomes`), made by
``scripts/record_faults.py`` against the lab server.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from .. import recordfile
from ..errors import (
    AuthError,
    BadRequestError,
    OverloadedError,
    ProviderError,
    ProviderTimeoutError,
    RateLimitedError,
    RightsizeError,
    StreamCutError,
)
from ..providers.base import Delta, Provider, Request
from ..registry import Capabilities, ModelInfo, Price

__all__ = ["Outcome", "ReplayedProvider", "load_outcomes", "record_outcomes", "save_outcomes",
           "shipped_fault_outcomes"]

_ERRORS: dict[str, type[ProviderError]] = {
    "rate_limited": RateLimitedError, "overloaded": OverloadedError, "timeout": ProviderTimeoutError,
    "stream_cut": StreamCutError, "bad_request": BadRequestError, "auth": AuthError,
}


@dataclass(frozen=True)
class Outcome:
    """One attempt as a provider answered it: ``kind`` is ``"ok"`` or an error kind."""

    provider: str
    kind: str
    status: int | None = None
    retry_after: float | None = None
    text: str = ""
    message: str = ""
    input_tokens: int | None = None
    output_tokens: int | None = None

    @property
    def ok(self) -> bool:
        return self.kind == "ok"


def record_outcomes(providers: Mapping[str, Provider], prompt: str, attempts: int, **options: Any) -> list[Outcome]:
    """Send ``prompt`` ``attempts`` times to each provider, in turn, and keep every outcome."""
    outcomes: list[Outcome] = []
    for _ in range(attempts):
        for name, provider in providers.items():
            response = provider.complete(prompt, raise_errors=False, **options)
            error = response.error
            if error is None:
                outcomes.append(Outcome(name, "ok", text=response.text, input_tokens=response.usage.input_tokens,
                                        output_tokens=response.usage.output_tokens))
            else:
                outcomes.append(Outcome(name, error.kind, status=error.status, retry_after=error.retry_after,
                                        message=str(error)[:200]))
    return outcomes


def save_outcomes(outcomes: Sequence[Outcome], path: str | Path, *, note: str = "") -> Path:
    """Write outcomes as a recording (:mod:`rightsize.recordfile`, kind ``faults``): a header saying
    when, where and how they were recorded, then one ``outcome`` line each."""
    header = recordfile.header("faults", note=note)
    return recordfile.write(path, header, [{"type": "outcome", **asdict(o)} for o in outcomes])


def load_outcomes(path: str | Path) -> tuple[dict[str, Any], list[Outcome]]:
    """The header and the outcomes of a file written by :func:`save_outcomes`."""
    try:
        sessions = recordfile.read(path, "faults")
    except recordfile.RecordingFormatError as exc:
        raise RightsizeError(str(exc)) from None
    outcomes: list[Outcome] = []
    for session in sessions:
        for record in session.records:
            fields = {k: v for k, v in record.items() if k != "type"}
            try:
                outcomes.append(Outcome(**fields))
            except TypeError as exc:
                raise RightsizeError(f"{path}: an outcome that is not one ({exc}): {record}") from None
    return (sessions[0].header if sessions else {}), outcomes


def shipped_fault_outcomes() -> Path:
    """The recording of the lab server's injected faults shipped with the course."""
    return Path(str(resources.files("rightsize") / "data" / "faults" / "lab-faults.jsonl"))


class ReplayedProvider(Provider):
    """Plays back one provider's recorded outcomes in order; raises when they run out."""

    api = "replayed-faults"
    recordable = False

    def __init__(self, name: str, outcomes: Sequence[Outcome]) -> None:
        info = ModelInfo(id=f"replayed/{name}", name=f"{name} (recorded outcomes, replayed)", provider="replay",
                         api="openai", tier="small", context_window=8192, capabilities=Capabilities(),
                         price=Price(input_per_mtok=0, output_per_mtok=0, read_on=dt.date(1970, 1, 1),
                                     source="a replay costs nothing"))
        super().__init__(info)
        self.name = name
        self.outcomes = [o for o in outcomes if o.provider == name]
        if not self.outcomes:
            raise RightsizeError(f"no recorded outcomes for provider {name!r}")
        self.calls = 0

    @classmethod
    def from_file(cls, path: str | Path, name: str) -> ReplayedProvider:
        return cls(name, load_outcomes(path)[1])

    @property
    def left(self) -> int:
        return len(self.outcomes) - self.calls

    def _stream(self, request: Request) -> Iterator[Delta]:
        if self.calls >= len(self.outcomes):
            raise RightsizeError(f"{self.name}: all {len(self.outcomes)} recorded outcomes were used; "
                                 "a chain should not need this many attempts")
        outcome = self.outcomes[self.calls]
        self.calls += 1
        if not outcome.ok:
            error = _ERRORS.get(outcome.kind, OverloadedError)
            raise error(outcome.message or f"{outcome.kind} (replayed)", status=outcome.status, provider=self.name,
                        retry_after=outcome.retry_after)
        yield Delta(text=outcome.text, tokens=outcome.output_tokens)
        yield Delta(finish_reason="stop", input_tokens=outcome.input_tokens, output_tokens=outcome.output_tokens)
