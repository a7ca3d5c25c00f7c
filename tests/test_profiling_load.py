"""The load generator: shapes, bounds, seeded Poisson arrivals, partial reports, errors, sweeps,
and the lean HTTP client against the lab server (scripted backend, injected faults)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator

import pytest

import rightsize.profiling as rp
from rightsize.errors import RateLimitedError, RightsizeError
from rightsize.providers import connect, endpoint_model
from rightsize.providers.base import Delta, Provider, Request
from rightsize.server.faults import FaultConfig


class FakeProvider(Provider):
    """Answers in-process after fixed delays; optional failures, hangs and a capacity limit."""

    api = "openai"

    def __init__(self, ttft: float = 0.01, gap: float = 0.002, tokens: int = 3, *, fail_every: int = 0,
                 hang: bool = False, capacity: int = 0) -> None:
        super().__init__(endpoint_model("fake", "http://fake.invalid", "openai"))
        self.ttft, self.gap, self.tokens = ttft, gap, tokens
        self.fail_every, self.hang = fail_every, hang
        self.calls = 0
        self.slots = asyncio.Semaphore(capacity) if capacity else None
        self.capacity = capacity

    def _stream(self, request: Request) -> Iterator[Delta]:
        raise NotImplementedError

    async def _astream(self, request: Request) -> AsyncIterator[Delta]:
        self.calls += 1
        if self.fail_every and self.calls % self.fail_every == 0:
            raise RateLimitedError("injected 429", status=429)
        if self.hang:
            await asyncio.sleep(3600)
        if self.capacity:  # a server that runs `capacity` requests at a time (a fresh semaphore per loop)
            if getattr(self, "_loop", None) is not asyncio.get_running_loop():
                self._loop, self.slots = asyncio.get_running_loop(), asyncio.Semaphore(self.capacity)
            await self.slots.acquire()  # type: ignore[union-attr]
        try:
            yield Delta()  # role-only
            await asyncio.sleep(self.ttft)
            for i in range(min(self.tokens, request.options.max_tokens)):
                if i:
                    await asyncio.sleep(self.gap)
                yield Delta(text=f" t{i}")
            yield Delta(finish_reason="stop", input_tokens=3, output_tokens=min(self.tokens, request.options.max_tokens))
        finally:
            if self.capacity:
                self.slots.release()  # type: ignore[union-attr]


def test_closed_loop_is_bounded_by_count() -> None:
    report = rp.profile(FakeProvider(), concurrency=3, requests=7, progress=False)
    assert len(report.requests) == 7 and len(report.ok) == 7 and report.stopped_by == "requests"
    assert [r.index for r in report.requests] == list(range(7))
    assert report.shape.describe() == "closed loop, concurrency 3"


def test_closed_loop_is_bounded_by_time() -> None:
    started = time.perf_counter()
    report = rp.profile(FakeProvider(ttft=0.1), concurrency=2, requests=1000, duration=0.5, progress=False)
    assert time.perf_counter() - started < 3
    assert 4 <= len(report.requests) <= 14 and report.stopped_by == "time"


def test_open_loop_is_bounded_by_time_and_keeps_its_clock() -> None:
    # each request takes longer than the gap between arrivals: a closed loop would fall behind,
    # an open loop keeps sending on schedule (no coordinated omission)
    report = rp.profile(FakeProvider(ttft=0.3), rate=20, requests=1000, duration=0.5, progress=False)
    assert report.stopped_by == "time" and 9 <= len(report.requests) <= 11
    lags = report.samples("send_lag_ms")
    assert len(lags) == len(report.requests) and max(lags) < 100
    scheduled = [r.scheduled for r in report.requests]
    assert scheduled == pytest.approx([i / 20 for i in range(len(scheduled))])
    assert "send_lag_ms" in report.to_frame().index


def test_poisson_arrivals_are_seeded() -> None:
    def schedule(seed: int) -> list[float]:
        report = rp.profile(FakeProvider(ttft=0.001, tokens=1), rate=200, arrivals="poisson", seed=seed,
                            requests=20, progress=False)
        return [r.scheduled for r in report.requests]  # type: ignore[misc]

    first, again, other = schedule(7), schedule(7), schedule(8)
    assert first == pytest.approx(again, abs=1e-9) and first != pytest.approx(other, abs=1e-9)
    gaps = [b - a for a, b in zip(first, first[1:])]
    assert len(set(round(g, 6) for g in gaps)) > 5  # not evenly spaced


def test_cancelled_run_returns_a_partial_report() -> None:
    async def main() -> rp.Report:
        shape = rp.load_shape(concurrency=2, requests=1000)
        provider = FakeProvider(ttft=0.05)
        task = asyncio.create_task(rp.arun_load(provider, rp.Workload.of(None), shape, progress=False))
        # wait for progress, not for a fixed time: a loaded machine may start slowly
        for _ in range(600):
            if provider.calls >= 6:  # two at a time: at least four have finished
                break
            await asyncio.sleep(0.05)
        task.cancel()
        return await task

    report = asyncio.run(main())
    assert report.interrupted and report.stopped_by == "interrupted"
    assert 2 <= len(report.requests) < 1000 and all(r.ok for r in report.requests)
    assert "INTERRUPTED" in str(report)


def test_requests_still_running_after_the_drain_are_unfinished_errors() -> None:
    report = rp.profile(FakeProvider(hang=True), concurrency=2, requests=10, duration=0.2, drain=0.2, warmup=0,
                        progress=False)
    assert report.errors == {"unfinished": 2}
    assert any("time bound" in note for note in report.notes)


def test_errors_are_counted_by_kind_and_excluded_from_latency() -> None:
    report = rp.profile(FakeProvider(fail_every=3), concurrency=1, requests=9, warmup=0, slo="ttft=1s",
                        progress=False)
    assert report.errors == {"rate_limited (429)": 3}
    assert report.stats("ttft_ms")["count"] == 6
    assert report.slo_attainment == pytest.approx(6 / 9)


def test_sweep_stops_when_throughput_stops_improving() -> None:
    sweep = rp.sweep(FakeProvider(ttft=0.03, tokens=2, capacity=2), max_concurrency=32, requests_per_level=12,
                     progress=False)
    levels = [r.shape.concurrency for r in sweep.reports]
    assert levels[:2] == [1, 2] and levels[-1] <= 8, levels
    assert "stopped improving" in sweep.stopped_because
    frame = sweep.to_frame()
    assert list(frame["concurrency"]) == levels and "ttft_p95_ms" in frame
    assert "concurrency" in str(sweep) and sweep.knee is not None


def test_sweep_stops_when_the_slo_breaks() -> None:
    sweep = rp.sweep(FakeProvider(ttft=0.03, tokens=2, capacity=1), max_concurrency=32, requests_per_level=8,
                     slo="ttft=50ms", min_gain=-1, progress=False)
    assert "SLO broke" in sweep.stopped_because and len(sweep.reports) <= 3


# -- the lean HTTP client against the lab server -------------------------------------------------
@pytest.mark.parametrize("protocol", ["openai", "anthropic"])
def test_lean_client_matches_the_sdk_adapter(scripted_server, protocol: str) -> None:
    server = scripted_server(["Hello", ",", " world", "!"])
    url = server.url + ("/v1" if protocol == "openai" else "")
    lean = connect("scripted", base_url=url, protocol=protocol, client="auto")
    sdk = connect("scripted", base_url=url, protocol=protocol, client="sdk")
    assert isinstance(lean, rp.LeanOpenAIProvider if protocol == "openai" else rp.LeanAnthropicProvider)
    answers = [asyncio.run(p.acomplete("hi there", max_tokens=3)) for p in (lean, sdk)]
    assert answers[0].text == answers[1].text == "Hello, world"
    assert answers[0].usage.output_tokens == answers[1].usage.output_tokens == 3
    assert answers[0].finish_reason == answers[1].finish_reason
    assert answers[0].usage.input_tokens == 2
    # the sync path of the lean client too
    assert lean.complete("hi there", max_tokens=2).text == "Hello,"


@pytest.mark.parametrize(("faults", "kind"), [
    ({"unavailable_rate": 1}, "overloaded (503)"),
    ({"overloaded_rate": 1}, "overloaded (529)"),
    ({"cut_rate": 1, "cut_after_tokens": 2}, "stream_cut"),
])
@pytest.mark.parametrize("protocol", ["openai", "anthropic"])
def test_lean_client_maps_injected_faults(scripted_server, faults: dict, kind: str, protocol: str) -> None:
    server = scripted_server(["a", "b", "c", "d"], faults=FaultConfig(**faults))
    url = server.url + ("/v1" if protocol == "openai" else "")
    report = rp.profile("scripted", base_url=url, protocol=protocol, concurrency=2, requests=4, warmup=0,
                        progress=False)
    assert report.errors == {kind: 4}


def test_lean_client_rate_limit_and_timeout(scripted_server) -> None:
    server = scripted_server(["a", "b"], faults=FaultConfig(rpm=3))
    report = rp.profile("scripted", base_url=server.url + "/v1", protocol="openai", concurrency=1, requests=6,
                        warmup=0, progress=False)
    assert report.errors == {"rate_limited (429)": 3} and len(report.ok) == 3
    hanging = scripted_server(["a"], faults=FaultConfig(hang_rate=1, hang_s=5))
    started = time.perf_counter()
    report = rp.profile("scripted", base_url=hanging.url + "/v1", protocol="openai", concurrency=1, requests=1,
                        warmup=0, timeout=0.3, progress=False)
    assert report.errors == {"timeout": 1} and time.perf_counter() - started < 3


def test_unreachable_server_fails_with_one_clear_message() -> None:
    from conftest import free_port  # type: ignore[import-not-found]

    with pytest.raises(RightsizeError, match="cannot reach .* Is the server running"):
        rp.profile("anything", base_url=f"http://127.0.0.1:{free_port()}/v1", requests=2, progress=False)


# -- the real local model ----------------------------------------------------------------------
@pytest.mark.slow
def test_profile_the_real_local_model_in_process_and_over_the_lab_server(lab_server: str) -> None:
    for model in ("local", "lab"):
        report = rp.profile(model, "Name a color.", concurrency=2, requests=4, max_tokens=6, progress=False)
        assert len(report.ok) == 4, report.errors
        assert all(r.output_tokens_source == "server" and 1 <= (r.output_tokens or 0) <= 6 for r in report.requests)
        assert report.percentile("ttft_ms", 50) > 0 and report.request_throughput > 0
        assert report.target["client"] == ("in-process" if model == "local" else "lean")


def test_the_lean_client_records_and_replays_answers_like_the_sdk(scripted_server, tmp_path, monkeypatch) -> None:
    from rightsize import responses

    monkeypatch.setenv("RIGHTSIZE_RESPONSES_DIR", str(tmp_path))
    monkeypatch.setattr(responses, "_stores", {})
    monkeypatch.setenv("RIGHTSIZE_RESPONSES", "record")
    live = rp.profile("scripted", base_url=scripted_server(["Hi", " there"]).url + "/v1", protocol="openai",
                      concurrency=1, requests=2, warmup=0, progress=False)
    assert live.target["client"] == "lean" and len(live.ok) == 2
    monkeypatch.setenv("RIGHTSIZE_RESPONSES", "replay")
    # a server that fails every request: the answers can only come from the recording
    down = scripted_server(["never"], faults=FaultConfig(unavailable_rate=1)).url + "/v1"
    again = rp.profile("scripted", base_url=down, protocol="openai", concurrency=1, requests=2, warmup=0,
                       progress=False)
    assert len(again.ok) == 2 and all(r is not None and r.replayed for r in again.responses)
    assert [r.text for r in again.responses] == [r.text for r in live.responses] == ["Hi there"] * 2
    assert "replayed from recordings" in str(again)
