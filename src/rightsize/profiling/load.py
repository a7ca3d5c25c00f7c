"""Load generation on asyncio: closed loop, open loop at a constant rate or with Poisson arrivals.

- **Closed loop**: ``concurrency`` workers, each sending its next request as soon as the last
  one finished. The offered load adapts to the server, so it shows capacity but hides queueing.
- **Open loop**: requests leave on a clock (every ``1/rate`` seconds, or with exponential gaps
  drawn from ``random.Random(seed)`` for Poisson arrivals) whether or not earlier ones finished.
  Arrivals are never held back by slow answers (no coordinated omission); each request's send
  lag behind its scheduled time is reported, so a client that could not keep up shows it.

Every run is bounded by a request count and by time. Requests still running at the time bound
get ``drain`` more seconds, then are counted as ``unfinished`` errors. Ctrl-C (or cancelling the
task) ends a run early and still returns the report of what was measured, marked as partial.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import gc
import random
import threading
import time
from collections.abc import Callable, Coroutine, Iterable
from typing import Any, TypeVar

from ..errors import AuthError, BadRequestError, OverloadedError, RightsizeError
from ..providers import connect
from ..providers.base import Provider, Response
from ..registry import ModelInfo
from .metrics import RequestMetrics, measure
from .report import SLO, LoadShape, Report, SweepReport
from .workload import Workload

__all__ = ["arun_load", "load_shape", "profile", "run_load", "sweep"]

T = TypeVar("T")

DEFAULT_REQUESTS = 50
DEFAULT_DURATION = 300.0  # seconds
UNBOUNDED_REQUESTS = 1_000_000  # the count bound when a run is given only a time bound


def load_shape(
    *,
    concurrency: int | None = None,
    rate: float | None = None,
    arrivals: str = "constant",
    seed: int | None = 0,
    requests: int | None = None,
    duration: float | str | None = None,
) -> LoadShape:
    """The load shape for the arguments: a concurrency (closed loop) or a rate (open loop).

    With neither, one request at a time. With no bound given, ``DEFAULT_REQUESTS`` requests and
    ``DEFAULT_DURATION`` seconds; with only a time bound, as many requests as fit in it.
    """
    from .report import parse_duration

    if concurrency is not None and rate is not None:
        raise RightsizeError("give a concurrency (closed loop) or a rate (open loop), not both")
    if arrivals not in ("constant", "poisson"):
        raise RightsizeError(f"arrivals must be constant or poisson, not {arrivals!r}")
    max_duration = DEFAULT_DURATION if duration is None else parse_duration(duration)
    if requests is None:
        requests = UNBOUNDED_REQUESTS if duration is not None else DEFAULT_REQUESTS
    if rate is not None:
        return LoadShape(arrivals, requests, max_duration, rate=rate, seed=seed if arrivals == "poisson" else None)
    return LoadShape("closed", requests, max_duration, concurrency=1 if concurrency is None else concurrency)


def _progress_bar(shape: LoadShape, label: str, show: bool | str) -> Any:
    if show == "auto":
        expected = shape.max_requests
        if shape.open_loop and shape.rate:
            expected = min(expected, int(shape.rate * shape.max_duration) + 1)
        show = expected >= 20 and expected != UNBOUNDED_REQUESTS or shape.max_duration >= 10 and \
            shape.max_requests == UNBOUNDED_REQUESTS
    if not show:
        return None
    from tqdm.auto import tqdm

    total = shape.max_requests if shape.max_requests != UNBOUNDED_REQUESTS else None
    if shape.open_loop and shape.rate:
        total = min(total or 10**9, int(shape.rate * shape.max_duration) + 1)
    return tqdm(total=total, desc=label, unit="req", leave=True, dynamic_ncols=True)


class LoadRun:
    """One run in progress; :meth:`report` works at any time (a partial run gives a partial report)."""

    def __init__(self, provider: Provider, workload: Workload, shape: LoadShape, *, slo: SLO | None = None,
                 warmup: int = 1, drain: float = 30.0, progress: bool | str = "auto",
                 keep_responses: bool = True) -> None:
        self.provider = provider
        self.workload = workload
        self.shape = shape
        self.slo = slo
        self.warmup = warmup
        self.drain = drain
        self.progress = progress
        self.keep_responses = keep_responses
        self.results: dict[int, tuple[RequestMetrics, Response | None]] = {}
        self.origin: float | None = None
        self.ended: float | None = None
        self.started_at = ""
        self.interrupted = False
        self.stopped_by = ""
        self.in_flight: set[asyncio.Task[None]] = set()
        self.dropped = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._main: asyncio.Task[Any] | None = None
        self._bar: Any = None
        self._sending: dict[int, float] = {}  # index -> clock when its coroutine started (for unfinished)

    # -- one request --------------------------------------------------------------------------
    async def _send(self, index: int, scheduled: float | None) -> None:
        prompt = self.workload[index]
        self._sending[index] = time.perf_counter()
        try:
            response = await self.provider.acomplete(prompt.messages, system=prompt.system, raise_errors=False,
                                                     **prompt.options)
        except asyncio.CancelledError:
            if self.stopped_by == "time":  # abandoned at the end of the drain: an unfinished request
                started = self._sending.pop(index)
                assert self.origin is not None
                metrics = RequestMetrics(index=index, ok=False, sent=started - self.origin,
                                         time_to_first_token=None, end_to_end=None, time_per_output_token=None,
                                         error_kind="unfinished",
                                         error_message="still running when the run's time bound ran out",
                                         scheduled=None if scheduled is None else scheduled - self.origin)
                self.results[index] = (metrics, None)
            raise
        self._sending.pop(index, None)
        metrics = measure(response, index=index, origin=self.origin, scheduled=scheduled)
        self.results[index] = (metrics, response if self.keep_responses else None)
        if self._bar is not None:
            self._bar.update(1)

    # -- the shapes ---------------------------------------------------------------------------
    async def _closed(self, deadline: float) -> None:
        next_index = 0
        assert self.shape.concurrency is not None

        async def worker() -> None:
            nonlocal next_index
            while next_index < self.shape.max_requests and time.perf_counter() < deadline:
                index = next_index
                next_index += 1
                await self._send(index, None)

        workers = [asyncio.create_task(worker()) for _ in range(self.shape.concurrency)]
        self.in_flight.update(workers)
        try:
            await asyncio.wait(workers, timeout=max(0.0, deadline - time.perf_counter()) + self.drain)
        finally:
            self.stopped_by = self.stopped_by or ("time" if time.perf_counter() >= deadline else "requests")

    async def _open(self, deadline: float) -> None:
        assert self.origin is not None and self.shape.rate is not None
        rng = random.Random(self.shape.seed)
        poisson = self.shape.kind == "poisson"
        scheduled = self.origin
        tasks: set[asyncio.Task[None]] = set()
        for index in range(self.shape.max_requests):
            if index:
                scheduled += rng.expovariate(self.shape.rate) if poisson else 1.0 / self.shape.rate
            if scheduled >= deadline:
                break
            wait = scheduled - time.perf_counter()
            if wait > 0:
                await asyncio.sleep(wait)
            task = asyncio.create_task(self._send(index, scheduled))
            tasks.add(task)
            self.in_flight.add(task)
            task.add_done_callback(tasks.discard)
        self.stopped_by = "time" if scheduled >= deadline else "requests"
        if tasks:
            await asyncio.wait(list(tasks), timeout=max(0.0, deadline - time.perf_counter()) + self.drain)

    # -- the whole run ------------------------------------------------------------------------
    async def _warm_up(self) -> None:
        """Send untimed one-token requests first, one per closed-loop worker, at once: connections
        open, a lazily started server starts, and a server that cannot be reached or refuses the
        key fails here with one clear message instead of as a run of errors."""
        prompt = self.workload[0]
        options = {**prompt.options, "max_tokens": 1}
        width = min(self.shape.concurrency or 1, self.shape.max_requests)
        for _ in range(self.warmup):
            responses = await asyncio.gather(*(
                self.provider.acomplete(prompt.messages, system=prompt.system, raise_errors=False, **options)
                for _ in range(width)))
            for response in responses:
                error = response.error
                where = _base_url(self.provider) or self.provider.model.provider
                if isinstance(error, OverloadedError) and error.status is None:
                    raise RightsizeError(f"cannot reach {where}: {error}. Is the server running, and is the URL "
                                         "right?")
                if isinstance(error, AuthError | BadRequestError):
                    raise RightsizeError(f"{self.provider.model.id} at {where} refused the request: {error}")

    async def main(self) -> Report:
        self._loop = asyncio.get_running_loop()
        self._main = asyncio.current_task()
        gc_was_enabled = False
        try:
            await asyncio.to_thread(self.provider.prepare)  # may load a model or start the lab server
            await self._warm_up()
            self._bar = _progress_bar(self.shape, self.provider.model.id, self.progress)
            self.started_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
            # No cyclic garbage collection while the clock runs: a full collection over thousands of
            # kept responses pauses the loop for tens of milliseconds, which would show up as latency
            # and as send lag. What the run allocates is freed by reference counting; the collector
            # is switched back on at the end.
            gc_was_enabled = gc.isenabled()
            gc.collect()
            gc.disable()
            self.origin = time.perf_counter()
            deadline = self.origin + self.shape.max_duration
            if self.shape.open_loop:
                await self._open(deadline)
            else:
                await self._closed(deadline)
        except asyncio.CancelledError:
            self.interrupted = True
            self.stopped_by = "interrupted"
        finally:
            self.ended = time.perf_counter()
            if gc_was_enabled:
                gc.enable()
            await self._stop_in_flight()
            if self._bar is not None:
                self._bar.close()
            await _close_clients(self.provider)
        return self.report()

    async def _stop_in_flight(self) -> None:
        pending = [t for t in self.in_flight if not t.done()]
        if not pending:
            return
        self.dropped = len(self._sending) if self.interrupted else 0
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    def abort(self) -> None:
        """Stop the run from another thread (the notebook's Ctrl-C lands in the main thread)."""
        if self._loop is not None and self._main is not None:
            self._loop.call_soon_threadsafe(self._main.cancel)

    def report(self) -> Report:
        ordered = [self.results[i] for i in sorted(self.results)]
        end = self.ended or time.perf_counter()
        wall = 0.0 if self.origin is None else end - self.origin
        if self.origin is not None and ordered and not self.interrupted:
            # the run lasts from the first send to the last answer
            finishes = [m.sent + (m.end_to_end or 0.0) for m, _ in ordered]
            wall = max(finishes + [0.0]) if self.stopped_by != "time" else wall
        provider = self.provider
        target = {"model_id": provider.model.id, "provider": provider.model.provider,
                  "protocol": getattr(provider, "api", None), "client": _client_name(provider),
                  "base_url": _base_url(provider)}
        return Report(
            model=provider.model.id,
            shape=self.shape,
            requests=[m for m, _ in ordered],
            wall_time=wall,
            slo=self.slo,
            target=target,
            started_at=self.started_at,
            interrupted=self.interrupted,
            dropped_in_flight=self.dropped,
            stopped_by=self.stopped_by,
            responses=[r for _, r in ordered],
            prompts=[self.workload[m.index] for m, _ in ordered],
        )


async def _close_clients(provider: Provider) -> None:
    """Close what the adapter opened on this event loop (its clients cannot outlive the loop)."""
    try:
        close = getattr(provider, "aclose", None)
        if close is not None:
            await close()
        # The SDK adapters cache one async SDK client; it belongs to this loop, so close and forget it
        # (the next run, on a new loop, makes a new one).
        sdk_client = provider.adapter.__dict__.pop("async_client", None)
        if sdk_client is not None:
            await sdk_client.close()
    except Exception:  # closing connections must never hide the report
        pass


def _client_name(provider: Provider) -> str:
    from .client import _LeanProvider

    if isinstance(provider.adapter, _LeanProvider):
        return "lean"
    return "in-process" if provider.api == "local" else "sdk"


def _base_url(provider: Provider) -> str | None:
    root = getattr(provider, "root", None)
    if callable(root):
        try:
            return str(root())
        except Exception:
            return provider.base_url
    return provider.base_url


def _run_blocking(make: Callable[[], Coroutine[Any, Any, T]], run: LoadRun) -> T:
    """Run a coroutine to the end from sync code, also inside a notebook's running event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(make())
    # A notebook cell already runs an event loop in this thread: use a thread with its own.
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(make())
        except BaseException as exc:  # handed back to the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=target, name="rightsize-load", daemon=True)
    thread.start()
    try:
        while thread.is_alive():
            thread.join(0.1)
    except KeyboardInterrupt:
        run.abort()
        thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]  # type: ignore[no-any-return]


def run_load(provider: Provider, workload: Workload, shape: LoadShape, *, slo: SLO | None = None,
             warmup: int = 1, drain: float = 30.0, progress: bool | str = "auto") -> Report:
    """Run one load shape against an adapter and return its :class:`Report` (partial if interrupted)."""
    run = LoadRun(provider, workload, shape, slo=slo, warmup=warmup, drain=drain, progress=progress)
    try:
        return _run_blocking(run.main, run)
    except KeyboardInterrupt:  # Ctrl-C outside the event loop's own handling: still report
        run.interrupted, run.stopped_by = True, "interrupted"
        return run.report()


async def arun_load(provider: Provider, workload: Workload, shape: LoadShape, *, slo: SLO | None = None,
                    warmup: int = 1, drain: float = 30.0, progress: bool | str = "auto") -> Report:
    """The async form of :func:`run_load`. Cancelling it returns the partial report."""
    run = LoadRun(provider, workload, shape, slo=slo, warmup=warmup, drain=drain, progress=progress)
    return await run.main()


def _setup(model: str | ModelInfo | Provider, prompts: Any, base_url: str | None, protocol: str | None,
           key: str | None, headers: dict[str, str] | None, client: str, timeout: float,
           options: dict[str, Any]) -> tuple[Provider, Workload]:
    if isinstance(model, Provider):
        provider = model
    else:
        provider = connect(model, base_url=base_url, protocol=protocol, key=key, headers=headers, client=client,
                           timeout=timeout)
    options.setdefault("max_tokens", 64)
    return provider, Workload.of(prompts, **options)


def profile(
    model: str | ModelInfo | Provider,
    prompts: Iterable[Any] | str | Workload | None = None,
    *,
    concurrency: int | None = None,
    rate: float | None = None,
    arrivals: str = "constant",
    seed: int | None = 0,
    requests: int | None = None,
    duration: float | str | None = None,
    slo: SLO | str | Iterable[str] | dict[str, Any] | None = None,
    base_url: str | None = None,
    protocol: str | None = None,
    key: str | None = None,
    headers: dict[str, str] | None = None,
    client: str = "auto",
    timeout: float = 120.0,
    warmup: int = 1,
    drain: float = 30.0,
    progress: bool | str = "auto",
    **options: Any,
) -> Report:
    """Profile a model under one load shape and return the :class:`Report`.

    ``model`` is a registry id or alias, any model name with ``base_url`` (and ``protocol``), or
    a ready adapter. ``prompts`` are strings, message lists or dicts, cycled (a small default
    mix when omitted); ``options`` (``max_tokens=64`` by default, ``temperature``...) go with every
    request. ``concurrency`` gives a closed loop, ``rate`` an open loop (``arrivals="poisson"``
    for seeded Poisson arrivals); ``requests`` and ``duration`` bound the run. ``slo`` is an
    :class:`SLO` or strings like ``"ttft=200ms"``.
    """
    shape = load_shape(concurrency=concurrency, rate=rate, arrivals=arrivals, seed=seed, requests=requests,
                       duration=duration)
    provider, workload = _setup(model, prompts, base_url, protocol, key, headers, client, timeout, dict(options))
    return run_load(provider, workload, shape, slo=SLO.parse(slo), warmup=warmup, drain=drain, progress=progress)


def sweep(
    model: str | ModelInfo | Provider,
    prompts: Iterable[Any] | str | Workload | None = None,
    *,
    concurrencies: Iterable[int] | None = None,
    max_concurrency: int = 64,
    requests_per_level: int | None = None,
    duration_per_level: float | str = 60.0,
    slo: SLO | str | Iterable[str] | dict[str, Any] | None = None,
    min_attainment: float = 0.9,
    min_gain: float = 0.05,
    base_url: str | None = None,
    protocol: str | None = None,
    key: str | None = None,
    headers: dict[str, str] | None = None,
    client: str = "auto",
    timeout: float = 120.0,
    progress: bool | str = "auto",
    **options: Any,
) -> SweepReport:
    """Closed-loop runs at concurrency 1, 2, 4, 8... until throughput stops improving, the SLO breaks
    or ``max_concurrency`` is reached.

    A level "stops improving" when its request throughput is less than ``min_gain`` (5%) above the
    best so far; the SLO "breaks" when fewer than ``min_attainment`` of a level's requests meet it.
    Each level sends ``requests_per_level`` requests (default ``max(8, 4 * concurrency)``) within
    ``duration_per_level``. Ctrl-C stops the sweep and returns the levels measured so far. When it stops
    early, ``stopped_because`` says why and which levels were not run (a busy machine can flatten
    throughput and stop it early).
    """
    provider, workload = _setup(model, prompts, base_url, protocol, key, headers, client, timeout, dict(options))
    objective = SLO.parse(slo)
    levels = list(concurrencies) if concurrencies is not None else \
        [2**i for i in range(16) if 2**i <= max_concurrency]
    reports: list[Report] = []
    best = 0.0
    why = f"reached the last level ({levels[-1] if levels else 0})"
    for n, level in enumerate(levels):
        shape = load_shape(concurrency=level, requests=requests_per_level or max(8, 4 * level),
                           duration=duration_per_level)
        report = run_load(provider, workload, shape, slo=objective, warmup=1 if n == 0 else 0, progress=progress)
        reports.append(report)
        if report.interrupted:
            why = f"interrupted at concurrency {level}"
            break
        throughput = report.request_throughput
        if objective is not None and not objective.empty and (report.slo_attainment or 0) < min_attainment:
            why = (f"the SLO broke at concurrency {level} ({(report.slo_attainment or 0) * 100:.0f}% met, "
                   f"under {min_attainment * 100:.0f}%)")
            break
        if n and throughput < best * (1 + min_gain):
            why = f"throughput stopped improving at concurrency {level} ({throughput:.2f} vs best {best:.2f} req/s)"
            break
        best = max(best, throughput)
    skipped = levels[len(reports):]
    if skipped:  # say which asked-for levels were not measured, so a short sweep is not read as a full one
        why += f"; not run: concurrency {', '.join(map(str, skipped))}"
    return SweepReport(provider.model.id, reports, why, objective)
