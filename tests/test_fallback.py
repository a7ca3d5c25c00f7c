"""The fallback chain: retry-after, full jitter, cooldowns, cache, budget, and a faulty lab server."""

from __future__ import annotations

import asyncio
import random
import statistics
import time
from collections.abc import Iterator

import pytest

from rightsize.errors import (
    AuthError,
    BadRequestError,
    OverloadedError,
    ProviderError,
    ProviderTimeoutError,
    RateLimitedError,
    StreamCutError,
)
from rightsize.providers import Delta, Provider, Request, connect
from rightsize.registry import get_model
from rightsize.routing import (
    AllProvidersFailedError,
    BudgetExceededError,
    DecisionLog,
    FallbackChain,
    ResponseCache,
    RetryPolicy,
    SpendBudget,
    parse_router_config,
)


class ScriptedProvider(Provider):
    """A provider that plays a script: each call takes the next error to raise, or answers."""

    api = "openai"

    def __init__(self, script: list[ProviderError | str] | None = None, *, model: str = "gpt-4o-mini",
                 usage: tuple[int, int] = (10, 5)) -> None:
        super().__init__(get_model(model), key="test-key")
        self.script = list(script or [])
        self.usage = usage
        self.requests: list[Request] = []

    @property
    def calls(self) -> int:
        return len(self.requests)

    def _stream(self, request: Request) -> Iterator[Delta]:
        self.requests.append(request)
        item = self.script.pop(0) if self.script else f"answer from {self.model.id}"
        if isinstance(item, ProviderError):
            raise item
        yield Delta(text=item, finish_reason="stop", input_tokens=self.usage[0], output_tokens=self.usage[1])


class FakeTime:
    """A clock that only moves when the chain sleeps (or the test says so); records every wait."""

    def __init__(self) -> None:
        self.now = 1_000.0
        self.waits: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds

    async def async_sleep(self, seconds: float) -> None:
        self.sleep(seconds)


def chain_of(*providers: Provider, time: FakeTime, seed: int = 0, **kwargs: object) -> FallbackChain:
    names = ["primary", "secondary", "tertiary"]
    return FallbackChain(list(zip(names, providers)), sleep=time.sleep, async_sleep=time.async_sleep,
                         clock=time.clock, rng=random.Random(seed), **kwargs)  # type: ignore[arg-type]


def limited(after: float) -> RateLimitedError:
    return RateLimitedError("429 rate limited", status=429, retry_after=after)


def unavailable(after: float | None = None) -> OverloadedError:
    return OverloadedError("503 unavailable", status=503, retry_after=after)


# -- retry-after and backoff ------------------------------------------------------------------------
def test_retry_after_is_honored_with_at_least_that_wait() -> None:
    t = FakeTime()
    primary = ScriptedProvider([limited(2.5), limited(0.7)])
    chain = chain_of(primary, ScriptedProvider(), time=t,
                     retry=RetryPolicy(max_attempts=3, base_delay=0.1, max_delay=1.0, max_wait=10))
    result = chain.run("hello")
    assert result.record.answered_by == "primary" and not result.record.fell_back
    assert primary.calls == 3
    assert t.waits[0] >= 2.5 and t.waits[1] >= 0.7
    # the backoff caps (0.1 s, 0.2 s) are below the hints, so the hints are the waits
    assert t.waits == [2.5, 0.7]
    assert [a.waited_s for a in result.record.attempts] == [0.0, 2.5, 0.7]
    assert [a.retry_after for a in result.record.attempts] == [2.5, 0.7, None]
    assert result.record.latency_s == pytest.approx(3.2)  # waits are part of the latency


def test_retry_after_below_the_backoff_draw_waits_the_draw() -> None:
    t = FakeTime()
    chain = chain_of(ScriptedProvider([limited(0.01)]), time=t, seed=5,
                     retry=RetryPolicy(max_attempts=2, base_delay=4.0, max_delay=4.0, max_wait=10))
    chain.run("hello")
    draw = RetryPolicy(base_delay=4.0, max_delay=4.0).backoff(0, random.Random(5))
    assert t.waits == [pytest.approx(max(0.01, draw))]


def test_backoff_is_full_jitter_within_the_cap_and_seeded() -> None:
    policy = RetryPolicy(base_delay=0.5, max_delay=4.0)
    assert [policy.backoff_cap(k) for k in range(5)] == [0.5, 1.0, 2.0, 4.0, 4.0]
    rng = random.Random(7)
    draws = {k: [policy.backoff(k, rng) for _ in range(500)] for k in range(5)}
    for k, values in draws.items():
        cap = policy.backoff_cap(k)
        assert all(0 <= v <= cap for v in values)
        assert len(set(values)) == len(values)  # they vary
        assert statistics.mean(values) == pytest.approx(cap / 2, rel=0.15)  # uniform over [0, cap]
        assert max(values) > 0.9 * cap and min(values) < 0.1 * cap
    again = random.Random(7)
    assert [policy.backoff(0, again) for _ in range(500)] == draws[0]
    assert RetryPolicy(base_delay=0.5, max_delay=4.0, jitter="none").backoff(2, random.Random()) == 2.0


def test_chain_waits_are_jittered_and_reproducible() -> None:
    def waits(seed: int) -> list[float]:
        t = FakeTime()
        errors: list[ProviderError | str] = [unavailable(), StreamCutError("cut"), ProviderTimeoutError("slow")] * 2
        chain = chain_of(ScriptedProvider(errors), time=t, seed=seed,
                         retry=RetryPolicy(max_attempts=7, base_delay=1.0, max_delay=8.0, max_wait=30),
                         cooldown_after=10)
        assert chain.run("hello").record.answered_by == "primary"
        return t.waits

    first, same, other = waits(11), waits(11), waits(12)
    assert len(first) == 6
    assert first == same and first != other
    caps = [min(8.0, 1.0 * 2 ** k) for k in range(6)]
    assert all(0 <= w <= cap for w, cap in zip(first, caps))
    assert len(set(first)) == 6


def test_retry_after_over_max_wait_falls_back_at_once_and_rests_the_provider() -> None:
    t = FakeTime()
    primary, secondary = ScriptedProvider([limited(45.0)]), ScriptedProvider()
    chain = chain_of(primary, secondary, time=t, retry=RetryPolicy(max_attempts=3, max_wait=5.0))
    first = chain.run("one").record
    assert t.waits == []  # no waiting: straight to the next provider
    assert first.answered_by == "secondary" and first.fell_back
    assert first.fallback_reason == "rate_limited (429)"
    assert any("over max_wait" in r for r in first.reasons)
    # the server said 45 s: until then the primary is skipped without a call
    t.now += 10
    second = chain.run("two").record
    assert primary.calls == 1 and second.answered_by == "secondary"
    assert second.fallback_reason == "cooldown after rate_limited (429)"
    assert chain.cooling("primary") == pytest.approx(35.0)
    t.now += 40
    assert chain.run("three").record.answered_by == "primary"


# -- cooldown --------------------------------------------------------------------------------------
def test_provider_failing_n_times_is_skipped_until_its_cooldown_ends() -> None:
    t = FakeTime()
    primary = ScriptedProvider([unavailable()] * 2)
    chain = chain_of(primary, ScriptedProvider(), time=t, cooldown_after=2, cooldown_s=30,
                     retry=RetryPolicy(max_attempts=2, base_delay=0.1, max_delay=0.1))
    r1 = chain.run("a").record
    assert r1.answered_by == "secondary" and primary.calls == 2
    assert any("cooling down for 30s" in r for r in r1.reasons)
    r2 = chain.run("b").record
    assert primary.calls == 2, "a cooling provider must not be called"
    assert r2.fell_back and r2.fallback_reason == "cooldown after overloaded (503)"
    assert any(r.startswith("skipped primary: cooling down") for r in r2.reasons)
    t.now += 31
    r3 = chain.run("c").record
    assert primary.calls == 3 and r3.answered_by == "primary" and not r3.fell_back


def test_failures_in_a_row_reset_after_a_success() -> None:
    t = FakeTime()
    primary = ScriptedProvider([unavailable(), "ok", unavailable(), "ok"])
    chain = chain_of(primary, ScriptedProvider(), time=t, cooldown_after=2,
                     retry=RetryPolicy(max_attempts=2, base_delay=0.0, max_delay=0.0))
    for prompt in "ab":
        assert chain.run(prompt).record.answered_by == "primary"
    assert chain.cooling("primary") == 0


def test_when_every_provider_cools_the_soonest_is_tried() -> None:
    t = FakeTime()
    primary = ScriptedProvider([unavailable()])
    secondary = ScriptedProvider([unavailable()])
    chain = chain_of(primary, secondary, time=t, cooldown_after=1, cooldown_s=60,
                     retry=RetryPolicy(max_attempts=1))
    with pytest.raises(AllProvidersFailedError, match="every provider failed"):
        chain.run("a")
    t.now += 1  # the primary's cooldown ends first (it started first... at the same fake time)
    record = chain.run("b").record
    assert record.ok
    assert any("every provider is cooling down" in r for r in record.reasons)


# -- non-retryable errors ------------------------------------------------------------------------
def test_auth_error_moves_on_without_retrying_the_same_provider() -> None:
    t = FakeTime()
    primary = ScriptedProvider([AuthError("401 bad key", status=401)])
    chain = chain_of(primary, ScriptedProvider(), time=t, retry=RetryPolicy(max_attempts=5))
    record = chain.run("hello").record
    assert primary.calls == 1 and t.waits == []
    assert record.answered_by == "secondary" and record.fallback_reason == "auth (401)"


def test_bad_request_is_raised_not_retried_or_passed_on() -> None:
    t = FakeTime()
    primary, secondary = ScriptedProvider([BadRequestError("400 bad", status=400)]), ScriptedProvider()
    chain = chain_of(primary, secondary, time=t)
    with pytest.raises(BadRequestError):
        chain.run("hello")
    assert primary.calls == 1 and secondary.calls == 0
    assert chain.records[-1].error and not chain.records[-1].ok
    # a chain of providers that accept different requests can pass it on instead
    t2 = FakeTime()
    chain2 = chain_of(ScriptedProvider([BadRequestError("413 too long", status=413)]), ScriptedProvider(),
                      time=t2, on_bad_request="next")
    assert chain2.run("hello").record.answered_by == "secondary"


def test_every_provider_failing_raises_with_the_record() -> None:
    t = FakeTime()
    chain = chain_of(ScriptedProvider([unavailable()] * 9), ScriptedProvider([limited(0.1)] * 9), time=t,
                     retry=RetryPolicy(max_attempts=2, base_delay=0.01, max_delay=0.01), cooldown_after=9)
    with pytest.raises(AllProvidersFailedError) as info:
        chain.run("hello")
    record = info.value.record
    assert [a.provider for a in record.attempts] == ["primary", "primary", "secondary", "secondary"]
    assert isinstance(info.value.last_error, RateLimitedError)
    report = chain.report()
    assert report.failed == 1 and report.completed == 0
    assert report.errors_by_kind == {"overloaded (503)": 2, "rate_limited (429)": 2}


# -- cache ------------------------------------------------------------------------------------------
def test_cache_serves_repeated_temperature_zero_requests_only() -> None:
    t = FakeTime()
    primary = ScriptedProvider()
    cache = ResponseCache()
    chain = chain_of(primary, time=t, cache=cache)
    first = chain.run("What is 2+2?", max_tokens=8)
    again = chain.run("What is 2+2?", max_tokens=8, temperature=0)
    assert primary.calls == 1 and again.record.cache_hit and again.response is first.response
    assert again.record.cost_usd == 0 and not again.record.fell_back
    chain.run("What is 2+2?", max_tokens=16)  # other options: another key
    assert primary.calls == 2
    chain.run("What is 2+2?", max_tokens=8, system="be brief")  # another system prompt: another key
    assert primary.calls == 3
    for _ in range(2):
        sampled = chain.run("Write a haiku", temperature=0.8)
        assert not sampled.record.cache_hit
    assert primary.calls == 5 and cache.skipped >= 2
    assert chain.report().cache_hits == 1


def test_failed_answers_are_not_cached() -> None:
    t = FakeTime()
    primary = ScriptedProvider([unavailable()] * 3)
    cache = ResponseCache()
    chain = chain_of(primary, ScriptedProvider(), time=t, cache=cache, retry=RetryPolicy(max_attempts=1))
    chain.run("hello")  # the secondary answers; that answer is cached under the shared model id
    assert len(cache) == 1
    broken = ResponseCache()
    chain2 = chain_of(ScriptedProvider([unavailable()] * 3), time=FakeTime(), cache=broken,
                      retry=RetryPolicy(max_attempts=1))
    with pytest.raises(AllProvidersFailedError):
        chain2.run("hello")
    assert len(broken) == 0


def test_cache_expires_and_evicts() -> None:
    t = FakeTime()
    cache = ResponseCache(max_entries=2, ttl_s=10, clock=t.clock)
    provider = ScriptedProvider()
    chain = chain_of(provider, time=t, cache=cache)
    for prompt in ("a", "b", "c"):
        chain.run(prompt)
    assert len(cache) == 2  # "a" was evicted
    chain.run("c")
    assert provider.calls == 3
    t.now += 11
    chain.run("c")
    assert provider.calls == 4  # expired


# -- budget -----------------------------------------------------------------------------------------
def test_budget_blocks_with_a_clear_error() -> None:
    t = FakeTime()
    budget = SpendBudget(0.003, period="day", clock=lambda: 0.0)
    # gpt-4o: $2.50/$10 per Mtok; 100 in + 200 out = $0.00225
    chain = chain_of(ScriptedProvider(model="gpt-4o", usage=(100, 200)), time=t, budget=budget)
    first = chain.run("hello", max_tokens=200).record
    assert first.cost_usd == pytest.approx(0.00225) and budget.spent() == pytest.approx(0.00225)
    with pytest.raises(BudgetExceededError, match=r"budget exceeded.*resets at 1970-01-02 00:00 UTC"):
        chain.run("hello again", max_tokens=200)
    assert chain.records[-1].blocked and chain.report().blocked == 1


def test_budget_downgrades_to_a_cheaper_model_and_stays_there() -> None:
    t = FakeTime()
    budget = SpendBudget(0.003, on_exceed="downgrade", downgrade_to="gpt-4o-mini", clock=lambda: 0.0)
    expensive, cheap = ScriptedProvider(model="gpt-4o", usage=(100, 200)), ScriptedProvider(model="gpt-4o-mini")
    made: list[str] = []

    def connector(alias: str) -> Provider:
        made.append(alias)
        return cheap

    chain = chain_of(expensive, time=t, budget=budget, connector=connector)
    chain.run("one", max_tokens=200)
    record = chain.run("two", max_tokens=200).record
    assert made == ["gpt-4o-mini"] and cheap.calls == 1 and expensive.calls == 1
    assert record.downgraded_to == "gpt-4o-mini" and record.answered_by == "gpt-4o-mini"
    assert not record.fell_back and "downgraded to gpt-4o-mini" in "; ".join(record.reasons)
    assert chain.report().downgraded == 1


def test_budget_periods_reset_and_free_models_always_pass() -> None:
    now = [0.0]
    budget = SpendBudget(1.0, period="day", clock=lambda: now[0])
    budget.charge(0.9)
    with pytest.raises(BudgetExceededError):
        budget.admit("gpt-4o", estimated_cost_usd=0.2)
    assert budget.admit("local", prompt="x" * 10_000).model == "local"  # costs nothing
    now[0] = 86_400.0  # the next UTC day
    assert budget.spent() == 0 and budget.admit("gpt-4o", estimated_cost_usd=0.2).model == "gpt-4o"
    with pytest.raises(ValueError, match="downgrade_to"):
        SpendBudget(1.0, on_exceed="downgrade")


# -- records, report, log, async --------------------------------------------------------------------
def test_records_report_and_decision_log() -> None:
    t = FakeTime()
    log = DecisionLog()
    chain = chain_of(ScriptedProvider([unavailable(0.5), limited(100)]), ScriptedProvider(), time=t, log=log,
                     retry=RetryPolicy(max_attempts=3, base_delay=0.1, max_delay=0.1, max_wait=5))
    record = chain.run("hello").record
    assert [(a.provider, a.error_kind, a.waited_s) for a in record.attempts] == [
        ("primary", "overloaded", 0.0), ("primary", "rate_limited", 0.5), ("secondary", None, 0.0)]
    assert record.cost_usd == pytest.approx(get_model("gpt-4o-mini").cost(10, 5))
    report = chain.report()
    assert report.fell_back == 1 and report.fell_back_by_reason == {"rate_limited (429)": 1}
    assert report.retries == 1 and report.total_wait_s == pytest.approx(0.5)
    assert "fell back: 1 (rate_limited (429): 1)" in str(report)
    frame = log.to_frame()
    assert list(frame.columns[:8]) == ["timestamp", "request_id", "router", "model", "reason", "cost_usd",
                                       "latency_s", "ok"]
    assert frame.loc[0, "model"] == "secondary" and frame.loc[0, "fell_back"]
    assert chain.records_frame().loc[0, "attempts"] == 3


def test_async_chain_follows_the_same_rules() -> None:
    t = FakeTime()
    primary = ScriptedProvider([limited(1.5), unavailable(60)])
    chain = chain_of(primary, ScriptedProvider(), time=t,
                     retry=RetryPolicy(max_attempts=3, base_delay=0.1, max_delay=0.1, max_wait=5))

    async def go() -> list[str]:
        return [(await chain.acomplete(p)).text for p in ("a", "b")]

    texts = asyncio.run(go())
    assert texts == ["answer from gpt-4o-mini"] * 2
    assert t.waits == [1.5]
    # a: 429 (waited 1.5 s), then 503 asking for 60 s -> secondary; b: the primary rests -> secondary
    assert [r.answered_by for r in chain.records] == ["secondary", "secondary"]
    assert [r.fallback_reason for r in chain.records] == ["overloaded (503)", "cooldown after overloaded (503)"]
    assert primary.calls == 2


def test_config_builds_a_chain() -> None:
    config = parse_router_config("""
router: fixed
default: tiny
fallback:
  models: [openai-mid, {model: haiku, name: backup}]
  retry: {max_attempts: 2, base_delay: 0.2, max_delay: 1, max_wait: 3}
  cooldown: {after_failures: 4, seconds: 12}
""")
    assert config.fallback is not None
    chain = FallbackChain.from_config(config.fallback, connector=lambda alias: ScriptedProvider(
        model=get_model(alias).id))
    assert chain.names == ["openai-mid", "backup"]
    assert chain.retry == RetryPolicy(2, 0.2, 1.0, 3.0, "full")
    assert chain.cooldown_after == 4 and chain.cooldown_s == 12 and chain.cache is not None


# -- against the lab server with injected faults ---------------------------------------------------
def lab_provider(server: object, key: str, faults: str | None = None) -> Provider:
    headers = {"X-Rightsize-Faults": faults} if faults else None
    return connect("scripted", base_url=server.url + "/v1", protocol="openai",  # type: ignore[attr-defined]
                   key=key, headers=headers, timeout=10)


def test_lab_run_with_429_and_503_loses_no_request(scripted_server) -> None:
    """30 requests; the primary limits to 10 rpm and refuses 30% with 503; none may be lost.

    The lab's retry-after is 1 s for a 503 and up to 60 s for a 429: over the 0.3 s ``max_wait``
    both fall back at once instead of waiting. ``cooldown_on_retry_after=False`` keeps trying the
    primary first on every request, so the run meets both faults again and again.
    """
    server = scripted_server(["Hello", ",", " world", "!"])
    chain = FallbackChain(
        {"primary": lab_provider(server, "primary", "rpm=10,unavailable_rate=0.3,seed=1"),
         "secondary": lab_provider(server, "secondary")},
        retry=RetryPolicy(max_attempts=2, base_delay=0.01, max_delay=0.05, max_wait=0.3),
        cooldown_after=1000, cooldown_on_retry_after=False, rng=random.Random(1),
    )
    texts = [chain.complete(f"request {i}", max_tokens=8).text for i in range(30)]
    assert texts == ["Hello, world!"] * 30
    assert len(server.backend.requests) == 30  # every request generated exactly once: none lost, none twice
    report = chain.report()
    assert report.requests == report.completed == 30 and report.failed == 0
    assert report.answered_by["primary"] + report.answered_by["secondary"] == 30
    assert report.answered_by["primary"] <= 10  # its rpm
    assert set(report.fell_back_by_reason) == {"rate_limited (429)", "overloaded (503)"}
    assert report.fell_back == sum(report.fell_back_by_reason.values()) == report.answered_by["secondary"]
    assert report.fell_back_by_reason["rate_limited (429)"] >= 10
    assert report.total_wait_s == 0


def test_lab_run_rests_the_primary_after_its_retry_after(scripted_server) -> None:
    """With the default cooldown on retry-after, a 429 rests the primary: later requests skip it."""
    server = scripted_server(["ok"])
    primary = lab_provider(server, "primary", "rpm=5,seed=2")
    chain = FallbackChain({"primary": primary, "secondary": lab_provider(server, "secondary")},
                          retry=RetryPolicy(max_attempts=2, base_delay=0.01, max_delay=0.02, max_wait=0.3))
    for i in range(20):
        assert chain.complete(f"request {i}", max_tokens=4).text == "ok"
    report = chain.report()
    assert report.completed == 20 and report.answered_by == {"primary": 5, "secondary": 15}
    assert report.fell_back_by_reason == {"rate_limited (429)": 1, "cooldown after rate_limited (429)": 14}
    assert report.errors_by_kind == {"rate_limited (429)": 1}  # one 429, then no more wasted calls


def test_lab_async_run_with_cut_streams_retries_with_real_backoff(scripted_server) -> None:
    """Concurrent async requests; cut streams are retried after a short jittered wait."""
    server = scripted_server(["a", "b", "c", "d", "e", "f"])
    chain = FallbackChain(
        {"primary": lab_provider(server, "primary", "cut_rate=0.3,cut_after_tokens=2,unavailable_rate=0.1,seed=4"),
         "secondary": lab_provider(server, "secondary")},
        retry=RetryPolicy(max_attempts=3, base_delay=0.02, max_delay=0.05, max_wait=0.3),
        cooldown_after=1000, cooldown_on_retry_after=False, rng=random.Random(2),
    )

    async def go() -> list[str]:
        limit = asyncio.Semaphore(5)

        async def one(i: int) -> str:
            async with limit:
                return (await chain.acomplete(f"request {i}", max_tokens=8)).text

        return await asyncio.gather(*(one(i) for i in range(30)))

    assert asyncio.run(go()) == ["abcdef"] * 30
    report = chain.report()
    assert report.completed == 30 and report.failed == 0
    assert report.errors_by_kind.get("stream_cut", 0) > 0 and report.retries > 0
    waits = [a.waited_s for r in chain.records for a in r.attempts if a.waited_s]
    assert waits and all(0 <= w <= 0.05 for w in waits)


# -- against the real lab server (`rightsize serve`, the local model) --------------------------------
def live_provider(url: str, key: str, faults: str | None = None) -> Provider:
    """The local model through a real `rightsize serve`; ``key`` is its own rate-limit bucket."""
    headers = {"X-Rightsize-Faults": faults} if faults else None
    return connect("lab", base_url=url + "/v1", key=key, headers=headers, timeout=60)


def served(url: str) -> int:
    import httpx

    return int(httpx.get(url + "/health", timeout=5).json()["requests"])


@pytest.mark.slow
def test_live_lab_run_with_429_and_503_loses_no_request(lab_server: str) -> None:
    """A bounded run of 10 short requests against `rightsize serve` with the real local model.

    The primary allows 4 requests a minute and refuses 40% with 503 (seed 9043 draws 503, 503,
    then two answers); the lab's retry-after (1 s for a 503, up to 60 s for a 429) is over the
    0.3 s ``max_wait``, so the chain falls back at once. Every request is answered exactly once.
    """
    chain = FallbackChain(
        {"primary": live_provider(lab_server, "live-primary", "rpm=4,unavailable_rate=0.4,seed=9043"),
         "secondary": live_provider(lab_server, "live-secondary")},
        retry=RetryPolicy(max_attempts=2, base_delay=0.01, max_delay=0.05, max_wait=0.3),
        cooldown_after=1000, cooldown_on_retry_after=False, rng=random.Random(3),
    )
    before = served(lab_server)
    responses = [chain.complete(f"Name one colour. ({i})", max_tokens=3, temperature=0) for i in range(10)]
    assert all(r.ok and r.text and r.usage.output_tokens for r in responses)
    report = chain.report()
    print(report)  # shown with pytest -s: how many fell back, and why
    assert report.requests == report.completed == 10 and report.failed == 0
    assert report.answered_by == {"primary": 2, "secondary": 8}
    assert report.fell_back_by_reason == {"overloaded (503)": 2, "rate_limited (429)": 6}
    assert report.errors_by_kind == {"overloaded (503)": 2, "rate_limited (429)": 6}
    assert "fell back: 8 (rate_limited (429): 6, overloaded (503): 2)" in str(report)
    # the server saw every attempt the chain made, and nothing else: no hidden SDK retries
    assert served(lab_server) - before == sum(len(r.attempts) for r in chain.records) == 18


@pytest.mark.slow
def test_live_lab_retry_after_is_waited_out_and_backoff_is_jittered(lab_server: str) -> None:
    """The lab's 503 says retry-after 1 s: the chain waits at least that long, in real time.
    Cut streams carry no retry-after: the waits are full-jitter draws under the growing cap."""
    refusing = FallbackChain(
        {"primary": live_provider(lab_server, "live-refusing", "unavailable_rate=1"),
         "secondary": live_provider(lab_server, "live-backup")},
        retry=RetryPolicy(max_attempts=2, base_delay=0.01, max_delay=0.02, max_wait=2.0),
    )
    started = time.monotonic()
    result = refusing.run("Say yes.", max_tokens=2)
    elapsed = time.monotonic() - started
    first, retry, answer = result.record.attempts
    assert (first.status, first.retry_after) == (503, 1.0)
    assert retry.provider == "primary" and retry.waited_s >= 1.0 and elapsed >= 1.0  # honored, really slept
    assert answer.provider == "secondary" and answer.ok and result.response.text
    assert result.record.fallback_reason == "overloaded (503)"

    policy = RetryPolicy(max_attempts=4, base_delay=0.02, max_delay=0.08, max_wait=1.0)
    cutting = FallbackChain(
        {"primary": live_provider(lab_server, "live-cut", "cut_rate=1,cut_after_tokens=1"),
         "secondary": live_provider(lab_server, "live-backup-2")},
        retry=policy, cooldown_after=1000, rng=random.Random(5),
    )
    for i in range(3):
        assert cutting.complete(f"Count to three. ({i})", max_tokens=4).text
    waits = [[a.waited_s for a in r.attempts[1:] if a.provider == "primary"] for r in cutting.records]
    assert all(len(w) == 3 for w in waits)  # three retries on the primary before falling back
    for per_request in waits:
        assert all(0 <= w <= policy.backoff_cap(k) for k, w in enumerate(per_request))
    flat = [w for per_request in waits for w in per_request]
    assert len(set(flat)) == len(flat)  # drawn, not fixed
    replay = random.Random(5)
    assert flat == pytest.approx([policy.backoff(k, replay) for _ in range(3) for k in range(3)])
