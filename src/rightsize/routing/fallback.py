"""A fallback chain: providers in priority order, retries with backoff, cooldowns, cache and budget.

``FallbackChain([...]).complete(prompt)`` answers like one provider, but survives the errors a
busy API throws. For each request, in priority order:

1. **Cache**: a temperature-0 request answered before is served from the cache (no call, no cost).
2. **Cooldown**: a provider that failed ``cooldown_after`` times in a row is skipped for
   ``cooldown_s`` seconds; so is one whose server asked for a ``retry-after`` longer than the
   policy's ``max_wait`` (until that time has passed). If every provider is cooling down, the one
   whose cooldown ends first is tried anyway rather than failing the request.
3. **Budget**: a :class:`~.budget.SpendBudget` may block the request (:class:`BudgetExceededError`)
   or downgrade it to a cheaper model; a downgraded request is not escalated to pricier fallbacks.
4. **Retries**: a retryable error (429 :class:`RateLimitedError`, 500/503/529
   :class:`OverloadedError`, :class:`ProviderTimeoutError`, :class:`StreamCutError`) is retried on the same
   provider up to ``max_attempts`` tries. Before a retry the chain waits:

   * the server's ``retry-after`` when it gave one, and at least that long
     (``max(retry_after, backoff)``); but a ``retry-after`` longer than ``max_wait`` is not
     waited out: the chain **falls to the next provider** at once;
   * otherwise exponential backoff with **full jitter**:
     ``uniform(0, min(max_delay, base_delay * 2**retry))`` for retry 0, 1, 2, ...
5. **Non-retryable errors**: :class:`AuthError` (401/403) is not retried on the same provider:
   the chain moves to the next one (another provider has its own key). :class:`BadRequestError`
   (400/404/413/422) is **raised**, because the request itself is at fault and every provider
   would refuse it too (pass ``on_bad_request="next"`` for chains of providers that differ in
   what they accept, e.g. context windows).

Every request leaves a :class:`RequestRecord` (attempts with their error and wait, who answered,
whether it fell back and why, cost, latency) and a line in the decision log;
:meth:`FallbackChain.report` sums them up. ``sleep``, ``clock`` and ``rng`` are injectable so tests
are fast and repeatable. One chain may be shared by many asyncio tasks (``acomplete``); it keeps
no locks, so give each thread its own chain.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Generator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from ..errors import BadRequestError, ProviderError, RightsizeError
from ..providers import Provider, Response, connect
from ..registry import get_model
from ..stats import percentile
from ._accounting import response_cost
from .budget import BudgetExceededError, SpendBudget
from .cache import ResponseCache
from .decisions import DecisionLog, new_request_id

if TYPE_CHECKING:
    import pandas as pd

    from .config import FallbackConfig

__all__ = [
    "AllProvidersFailedError",
    "Attempt",
    "FallbackChain",
    "FallbackReport",
    "FallbackResult",
    "RequestRecord",
    "RetryPolicy",
]

Prompt = str | list[dict[str, str]]


# -- the retry policy -------------------------------------------------------------------------------
@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry one provider before falling to the next.

    ``max_attempts`` counts tries on one provider, the first included. The backoff before retry
    ``k`` (0-based) is drawn from ``uniform(0, min(max_delay, base_delay * 2**k))`` ("full
    jitter": clients that failed together do not retry together); ``jitter="none"`` waits the
    cap itself. A server's ``retry-after`` is a floor on the wait; one above ``max_wait`` makes
    the chain fall back instead of waiting.
    """

    max_attempts: int = 3
    base_delay: float = 0.5
    max_delay: float = 8.0
    max_wait: float = 10.0
    jitter: Literal["full", "none"] = "full"

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts counts the first try too, so it must be at least 1")
        if self.base_delay < 0 or self.max_delay < 0 or self.max_wait < 0:
            raise ValueError("delays and max_wait are seconds, so they cannot be negative")
        if self.jitter not in ("full", "none"):
            raise ValueError(f"jitter must be 'full' or 'none', not {self.jitter!r}")

    def backoff_cap(self, retry: int) -> float:
        """The largest backoff before retry ``retry`` (0-based): min(max_delay, base * 2**retry)."""
        return min(self.max_delay, self.base_delay * 2.0 ** retry)

    def backoff(self, retry: int, rng: random.Random) -> float:
        """The backoff before retry ``retry``: full jitter over [0, cap]."""
        cap = self.backoff_cap(retry)
        return cap if self.jitter == "none" else rng.uniform(0.0, cap)

    def wait_before_retry(self, error: ProviderError, retry: int, rng: random.Random) -> tuple[float | None, str]:
        """Seconds to wait before retrying after ``error`` (None: do not wait, fall back) and why."""
        delay = self.backoff(retry, rng)
        hint = error.retry_after
        if hint is not None:
            if hint > self.max_wait:
                return None, f"retry-after {hint:g}s is over max_wait {self.max_wait:g}s"
            wait = max(hint, delay)
            return wait, f"waiting {wait:.3f}s (retry-after {hint:g}s honored; backoff draw {delay:.3f}s)"
        return delay, f"waiting {delay:.3f}s (backoff, {self.jitter} jitter, cap {self.backoff_cap(retry):g}s)"


# -- records ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Attempt:
    """One call to one provider. ``waited_s`` is the sleep just before it (0 for a first try)."""

    provider: str
    model: str
    error_kind: str | None  # None when it succeeded
    status: int | None
    retry_after: float | None
    waited_s: float
    latency_s: float | None

    @property
    def ok(self) -> bool:
        return self.error_kind is None


@dataclass
class RequestRecord:
    """What the chain did for one request."""

    request_id: str
    started_wall: float
    attempts: list[Attempt] = field(default_factory=list)
    answered_by: str | None = None
    model: str | None = None
    fell_back: bool = False
    fallback_reason: str | None = None  # why the first-choice provider did not answer
    reasons: list[str] = field(default_factory=list)
    cost_usd: float = 0.0
    cost_known: bool = True
    latency_s: float = 0.0
    cache_hit: bool = False
    downgraded_to: str | None = None
    blocked: bool = False
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.answered_by is not None

    @property
    def waited_s(self) -> float:
        return sum(a.waited_s for a in self.attempts)

    def as_row(self) -> dict[str, Any]:
        """A flat dict for a DataFrame row."""
        return {
            "request_id": self.request_id, "ok": self.ok, "answered_by": self.answered_by, "model": self.model,
            "fell_back": self.fell_back, "fallback_reason": self.fallback_reason,
            "attempts": len(self.attempts), "errors": ", ".join(_label(a) for a in self.attempts if not a.ok),
            "waited_s": self.waited_s, "cost_usd": self.cost_usd, "latency_s": self.latency_s,
            "cache_hit": self.cache_hit, "downgraded_to": self.downgraded_to, "blocked": self.blocked,
            "reasons": "; ".join(self.reasons), "error": self.error,
        }


def _label(attempt: Attempt) -> str:
    return f"{attempt.error_kind} ({attempt.status})" if attempt.status else str(attempt.error_kind)


def _error_label(error: ProviderError) -> str:
    return f"{error.kind} ({error.status})" if error.status else error.kind


class AllProvidersFailedError(RightsizeError):
    """Every provider of the chain failed for this request; ``record`` holds each attempt."""

    def __init__(self, record: RequestRecord, last_error: ProviderError | None) -> None:
        self.record = record
        self.last_error = last_error
        tried = ", ".join(f"{a.provider}: {_label(a)}" for a in record.attempts) or "nothing could be tried"
        super().__init__(f"request {record.request_id}: every provider failed ({tried}). Add a provider, "
                         "raise max_attempts or max_wait, or check the providers' status.")


@dataclass(frozen=True)
class FallbackResult:
    """The response that answered, and the record of how it was obtained."""

    response: Response
    record: RequestRecord


@dataclass(frozen=True)
class FallbackReport:
    """A summary of a chain's requests: how many completed, fell back, and why."""

    requests: int
    completed: int
    failed: int
    blocked: int
    cache_hits: int
    fell_back: int
    fell_back_by_reason: dict[str, int]
    downgraded: int
    answered_by: dict[str, int]
    errors_by_kind: dict[str, int]  # every failed attempt, e.g. "rate_limited (429)": 4
    retries: int
    total_wait_s: float
    cost_usd: float
    latency_p50: float
    latency_p95: float
    latency_max: float

    def __str__(self) -> str:
        def fmt(counts: Mapping[str, int]) -> str:
            return ", ".join(f"{k}: {v}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1])) or "none"

        return "\n".join([
            (f"{self.requests} requests: {self.completed} completed, {self.failed} failed, {self.blocked} blocked "
             f"by budget, {self.cache_hits} from cache"),
            f"fell back: {self.fell_back} ({fmt(self.fell_back_by_reason)})",
            f"answered by: {fmt(self.answered_by)}; downgraded: {self.downgraded}",
            (f"failed attempts: {fmt(self.errors_by_kind)}; retries on the same provider: {self.retries}, "
             f"waited {self.total_wait_s:.2f}s in all"),
            (f"cost ${self.cost_usd:.6f}; latency p50 {self.latency_p50:.3f}s, p95 {self.latency_p95:.3f}s, "
             f"max {self.latency_max:.3f}s"),
        ])


# -- the chain ----------------------------------------------------------------------------------------
@dataclass
class _State:
    name: str
    provider: Provider
    failures_in_row: int = 0
    cooling_until: float = float("-inf")
    cooling_reason: str = ""  # for the log: what happened
    cooling_cause: str = ""  # for the report: the error label that started the cooldown


@dataclass(frozen=True)
class _Call:
    provider: Provider
    prompt: Prompt


@dataclass(frozen=True)
class _Sleep:
    seconds: float


ProviderSpec = Provider | str
_Plan = Generator[_Call | _Sleep, Response | None, FallbackResult]


class FallbackChain:
    """Providers in priority order behind one ``complete`` (see the module docstring for the rules).

    ``providers`` is a list of providers or model aliases (aliases are connected now, so a missing
    key fails here and names its variable), a list of ``(name, provider)`` pairs, or a dict
    ``name -> provider``; names label the report (two lab providers with different fault headers
    need different names).
    """

    def __init__(
        self,
        providers: Sequence[ProviderSpec | tuple[str, ProviderSpec]] | Mapping[str, ProviderSpec],
        *,
        retry: RetryPolicy | None = None,
        cooldown_after: int = 3,
        cooldown_s: float = 30.0,
        cooldown_on_retry_after: bool = True,
        cache: ResponseCache | None = None,
        budget: SpendBudget | None = None,
        on_bad_request: Literal["raise", "next"] = "raise",
        log: DecisionLog | None = None,
        sleep: Callable[[float], None] = time.sleep,
        async_sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        connector: Callable[[str], Provider] = connect,
        name: str = "fallback",
    ) -> None:
        pairs = list(providers.items()) if isinstance(providers, Mapping) else [
            p if isinstance(p, tuple) else (None, p) for p in providers]
        if not pairs:
            raise ValueError("a fallback chain needs at least one provider")
        if cooldown_after < 1 or cooldown_s < 0:
            raise ValueError("cooldown_after must be at least 1 and cooldown_s not negative")
        if on_bad_request not in ("raise", "next"):
            raise ValueError("on_bad_request must be 'raise' or 'next'")
        self._connect = connector
        self.states: list[_State] = []
        for label, spec in pairs:
            provider = connector(spec) if isinstance(spec, str) else spec
            base = label or (spec if isinstance(spec, str) else provider.model.id)
            taken = {s.name for s in self.states}
            unique, n = base, 2
            while unique in taken:
                unique, n = f"{base}#{n}", n + 1
            self.states.append(_State(unique, provider))
        self._extra: dict[str, _State] = {}  # downgrade targets that are not in the chain
        self.retry = retry or RetryPolicy()
        self.cooldown_after = cooldown_after
        self.cooldown_s = cooldown_s
        self.cooldown_on_retry_after = cooldown_on_retry_after
        self.cache = cache
        self.budget = budget
        self.on_bad_request = on_bad_request
        self.log = log if log is not None else DecisionLog()
        self._sleep = sleep
        self._async_sleep = async_sleep
        self._clock = clock
        self.rng = rng if rng is not None else random.Random()
        self.name = name
        self.records: list[RequestRecord] = []

    @classmethod
    def from_config(cls, config: FallbackConfig, *, budget: SpendBudget | None = None, **kwargs: Any) -> FallbackChain:
        """Build from the ``fallback:`` section of a router config."""
        connector: Callable[[str], Provider] = kwargs.pop("connector", connect)
        providers: list[tuple[str, ProviderSpec]] = []
        for entry in config.models:
            if entry.headers:
                providers.append((entry.label, connect(entry.model, headers=entry.headers)))
            else:
                providers.append((entry.label, connector(entry.model)))
        r = config.retry
        return cls(providers, retry=RetryPolicy(r.max_attempts, r.base_delay, r.max_delay, r.max_wait, r.jitter),
                   cooldown_after=config.cooldown.after_failures, cooldown_s=config.cooldown.seconds,
                   cache=ResponseCache(config.cache_size) if config.cache else None, budget=budget,
                   connector=connector, **kwargs)

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.states]

    # -- cooldown bookkeeping -------------------------------------------------------------------------
    def cooling(self, name: str) -> float:
        """Seconds of cooldown left for a provider (0 when it is available)."""
        state = self._state_named(name)
        return max(0.0, state.cooling_until - self._clock())

    def _state_named(self, name: str) -> _State:
        for state in [*self.states, *self._extra.values()]:
            if state.name == name:
                return state
        raise KeyError(f"no provider named {name!r} in this chain; it has {self.names}")

    def _note_failure(self, state: _State, error: ProviderError) -> str | None:
        state.failures_in_row += 1
        if state.failures_in_row >= self.cooldown_after:
            state.cooling_until = self._clock() + self.cooldown_s
            state.cooling_reason = f"{state.failures_in_row} failures in a row, the last {_error_label(error)}"
            state.cooling_cause = _error_label(error)
            state.failures_in_row = 0
            return f"{state.name}: {state.cooling_reason} -> cooling down for {self.cooldown_s:g}s"
        return None

    def _candidates(self, record: RequestRecord) -> list[_State]:
        now = self._clock()
        ready = [s for s in self.states if s.cooling_until <= now]
        for state in self.states:
            if state.cooling_until > now:
                record.reasons.append(f"skipped {state.name}: cooling down {state.cooling_until - now:.1f}s more "
                                      f"({state.cooling_reason})")
        if ready:
            return ready
        soonest = min(self.states, key=lambda s: s.cooling_until)
        record.reasons.append(f"every provider is cooling down; trying {soonest.name}, whose cooldown ends first")
        return [soonest]

    def _downgrade_state(self, alias: str) -> _State:
        target_id = get_model(alias).id
        for state in self.states:
            if state.name == alias or state.provider.model.id == target_id:
                return state
        if alias not in self._extra:
            self._extra[alias] = _State(alias, self._connect(alias))
        return self._extra[alias]

    # -- the plan both drivers follow ----------------------------------------------------------------
    def _plan(self, prompt: Prompt, system: str | None, options: dict[str, Any], request_id: str) -> _Plan:
        """The whole policy for one request, as a generator of calls and sleeps.

        The sync and async drivers only carry out what it yields, so the policy exists once.
        """
        record = RequestRecord(request_id=request_id, started_wall=time.time())
        started = self._clock()
        messages = [{"role": "user", "content": prompt}] if isinstance(prompt, str) else list(prompt)
        first_choice = self.states[0]

        def finish(state: _State | None) -> None:
            record.latency_s = self._clock() - started
            if state is not None:
                record.answered_by, record.model = state.name, state.provider.model.id
                record.fell_back = state is not first_choice and not record.cache_hit and record.downgraded_to is None
            self.records.append(record)
            self.log.record(request_id=request_id, router=self.name, model=record.answered_by,
                            reason="; ".join(record.reasons) or "first choice answered",
                            cost_usd=record.cost_usd, latency_s=record.latency_s, ok=record.ok,
                            fell_back=record.fell_back, fallback_reason=record.fallback_reason,
                            attempts=len(record.attempts), cache_hit=record.cache_hit)

        # 1. the cache: any provider's model may have answered this exact request before
        if self.cache is not None:
            for state in self.states:
                key = ResponseCache.key(state.provider.model.id, messages, system, options)
                hit = self.cache.get(key)  # counts the lookup, skipped when key is None
                if key is None:
                    record.reasons.append("not cached: temperature > 0")
                    break
                if hit is not None:
                    record.cache_hit = True
                    record.reasons.append(f"cache hit ({state.provider.model.id})")
                    finish(state)
                    return FallbackResult(hit, record)

        candidates = self._candidates(record)
        if first_choice not in candidates:
            record.fallback_reason = f"cooldown after {first_choice.cooling_cause}"
        last_error: ProviderError | None = None
        prompt_text = " ".join(m.get("content", "") for m in messages) + (system or "")
        for candidate in candidates:
            state, downgraded = candidate, False
            # 2. the budget: block, or downgrade (and then stay on the cheaper model)
            if self.budget is not None:
                try:
                    verdict = self.budget.admit(candidate.provider.model, prompt=prompt_text,
                                                max_tokens=int(options.get("max_tokens", 256)))
                except BudgetExceededError as exc:
                    record.blocked, record.error = True, str(exc)
                    record.reasons.append("blocked by the spend budget")
                    finish(None)
                    raise
                if verdict.downgraded:
                    state, downgraded = self._downgrade_state(verdict.model), True
                    record.downgraded_to = state.name
                    record.reasons.append(verdict.reason)
            # 3. attempts on this provider, with waits between them
            waited = 0.0
            for retry in range(self.retry.max_attempts):
                call_started = self._clock()
                response = yield _Call(state.provider, prompt)
                assert response is not None
                error = response.error
                cost = response_cost(state.provider.model, response)
                record.cost_known = record.cost_known and cost is not None
                record.cost_usd += cost or 0.0
                latency = response.end_to_end if response.end_to_end is not None else self._clock() - call_started
                if error is None:
                    record.attempts.append(Attempt(state.name, state.provider.model.id, None, None, None, waited,
                                                   latency))
                    state.failures_in_row = 0
                    if self.cache is not None:
                        self.cache.put(ResponseCache.key(state.provider.model.id, messages, system, options), response)
                    if self.budget is not None:
                        self.budget.charge(cost or 0.0)
                    record.reasons.append(f"{state.name} answered")
                    finish(state)
                    return FallbackResult(response, record)
                last_error = error
                record.attempts.append(Attempt(state.name, state.provider.model.id, error.kind, error.status,
                                               error.retry_after, waited, latency))
                if state is first_choice:
                    record.fallback_reason = _error_label(error)
                if isinstance(error, BadRequestError) and self.on_bad_request == "raise":
                    record.error = str(error)
                    record.reasons.append(f"{state.name}: bad request ({error.status}): the request is at fault and "
                                          "every provider would refuse it, so it is raised, not retried")
                    finish(None)
                    raise error
                cooled = self._note_failure(state, error)
                if not error.retryable:
                    record.reasons.append(f"{state.name}: {_error_label(error)} is not retried -> next provider")
                    break
                if cooled:
                    record.reasons.append(cooled)
                    break
                if retry == self.retry.max_attempts - 1:
                    record.reasons.append(f"{state.name}: {_error_label(error)} on all {self.retry.max_attempts} "
                                          "attempts -> next provider")
                    break
                wait, why = self.retry.wait_before_retry(error, retry, self.rng)
                if wait is None:
                    record.reasons.append(f"{state.name}: {_error_label(error)}; {why} -> next provider")
                    if self.cooldown_on_retry_after and error.retry_after is not None:
                        until = self._clock() + error.retry_after
                        if until > state.cooling_until:
                            state.cooling_until = until
                            state.cooling_reason = f"{_error_label(error)} with retry-after {error.retry_after:g}s"
                            state.cooling_cause = _error_label(error)
                    break
                record.reasons.append(f"{state.name}: {_error_label(error)}; {why}")
                yield _Sleep(wait)
                waited = wait
            if downgraded:
                record.reasons.append(f"the downgrade model {state.name} failed; not escalating while over budget")
                break
        record.error = str(last_error) if last_error else "no provider could be tried"
        finish(None)
        raise AllProvidersFailedError(record, last_error)

    # -- drivers ----------------------------------------------------------------------------------------
    def run(self, prompt: Prompt, *, system: str | None = None, stream: bool = True,
            request_id: str | None = None, **options: Any) -> FallbackResult:
        """Answer one request through the chain; returns the response and its record.

        Raises :class:`AllProvidersFailedError` when every provider failed,
        :class:`BudgetExceededError` when the budget blocks, and :class:`BadRequestError` as-is.
        """
        plan = self._plan(prompt, system, options, request_id or new_request_id())
        reply: Response | None = None
        try:
            while True:
                action = plan.send(reply)
                if isinstance(action, _Sleep):
                    self._sleep(action.seconds)
                    reply = None
                else:
                    reply = action.provider.complete(action.prompt, system=system, stream=stream,
                                                     raise_errors=False, **options)
        except StopIteration as done:
            result: FallbackResult = done.value
            return result

    async def arun(self, prompt: Prompt, *, system: str | None = None, stream: bool = True,
                   request_id: str | None = None, **options: Any) -> FallbackResult:
        """The async version of :meth:`run` (waits with ``async_sleep``, calls ``acomplete``)."""
        plan = self._plan(prompt, system, options, request_id or new_request_id())
        reply: Response | None = None
        try:
            while True:
                action = plan.send(reply)
                if isinstance(action, _Sleep):
                    await self._async_sleep(action.seconds)
                    reply = None
                else:
                    reply = await action.provider.acomplete(action.prompt, system=system, stream=stream,
                                                            raise_errors=False, **options)
        except StopIteration as done:
            result: FallbackResult = done.value
            return result

    def complete(self, prompt: Prompt, *, system: str | None = None, stream: bool = True,
                 request_id: str | None = None, **options: Any) -> Response:
        """Like :meth:`Provider.complete`, through the chain (see :meth:`run` for the record)."""
        return self.run(prompt, system=system, stream=stream, request_id=request_id, **options).response

    async def acomplete(self, prompt: Prompt, *, system: str | None = None, stream: bool = True,
                        request_id: str | None = None, **options: Any) -> Response:
        """The async version of :meth:`complete`."""
        return (await self.arun(prompt, system=system, stream=stream, request_id=request_id, **options)).response

    # -- reporting --------------------------------------------------------------------------------------
    def report(self) -> FallbackReport:
        """How many requests completed, fell back (and why), were cached, blocked or failed."""
        records = list(self.records)
        errors = Counter(_label(a) for r in records for a in r.attempts if not a.ok)
        retries = sum(1 for r in records for prev, a in zip(r.attempts, r.attempts[1:]) if a.provider == prev.provider)
        latencies = [r.latency_s for r in records if r.ok]
        return FallbackReport(
            requests=len(records),
            completed=sum(r.ok for r in records),
            failed=sum(not r.ok and not r.blocked for r in records),
            blocked=sum(r.blocked for r in records),
            cache_hits=sum(r.cache_hit for r in records),
            fell_back=sum(r.fell_back for r in records),
            fell_back_by_reason=dict(Counter(r.fallback_reason or "unknown" for r in records if r.fell_back)),
            downgraded=sum(r.downgraded_to is not None for r in records),
            answered_by=dict(Counter(r.answered_by for r in records if r.answered_by)),
            errors_by_kind=dict(errors),
            retries=retries,
            total_wait_s=sum(r.waited_s for r in records),
            cost_usd=sum(r.cost_usd for r in records),
            latency_p50=percentile(latencies, 50),
            latency_p95=percentile(latencies, 95),
            latency_max=max(latencies) if latencies else float("nan"),
        )

    def records_frame(self) -> pd.DataFrame:
        """One row per request (see :meth:`RequestRecord.as_row`)."""
        import pandas as pd

        return pd.DataFrame([r.as_row() for r in self.records])
