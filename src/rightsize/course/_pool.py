"""The pool of grading sandboxes: ``workers`` threads, each running one notebook at a time.

Each thread takes a job (one notebook's code cells, then its hidden probes), hands it to a
sandbox whose kernel is already up, and, while it runs, boots the next sandbox, so kernel
start-up overlaps with execution. Results come back on a queue; the parent
(:mod:`rightsize.course.autograde`) does all the grading. A sandbox that fails to start gets one
retry.

Time is enforced from outside the sandbox: a notebook has a wall-clock limit in all
(:attr:`Limits.wall_seconds <rightsize.course.sandbox.Limits.wall_seconds>`), and a sandbox that
sends nothing for longer than a cell may take (a stopped or frozen worker) is killed at once and
its slot given to the next submission.
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .intake import copy_regular_tree
from .sandbox import Sandbox, SandboxError, SandboxProcess

__all__ = ["INTERRUPT_GRACE", "Job", "JobResult", "Pool", "collect", "run_job"]

INTERRUPT_GRACE = 5.0  # seconds a kernel has to come back after a timeout interrupt


@dataclass
class Job:
    """One notebook to execute: its code cells, its probes and where its data files are.

    ``cells`` are ``{"index", "source"}`` dicts, with ``"after"`` (code run silently right after
    the cell, outside the student's history) where a tests cell's names must be remembered;
    ``drivers`` are ``{"id", "code"}`` dicts run after the last cell.
    """

    student: str
    notebook: str
    files_dir: Path
    cells: list[dict[str, Any]]
    timeout: float
    drivers: list[dict[str, Any]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def payload(self) -> dict[str, Any]:
        return {"cells": self.cells, "drivers": self.drivers, "timeout": self.timeout,
                "interrupt_grace": INTERRUPT_GRACE, **self.extra}


@dataclass
class JobResult:
    """What came back: per-cell records, and why a run stopped early, if it did."""

    job: Job
    records: dict[int, dict[str, Any]] = field(default_factory=dict)
    drivers: dict[str, dict[str, Any]] = field(default_factory=dict)
    started: bool = False
    stop_reason: str = ""
    stop_index: int | None = None
    infra_error: str = ""
    seconds: float = 0.0


def run_job(sandbox: Sandbox, job: Job, spawn: Any, dispose: Any, started: Any = None) -> JobResult:
    """Run ``job`` in a sandbox from ``spawn()`` (one retry if it fails to start); never raises.

    ``started(process)`` is called once the job is handed over (the pool boots the next sandbox then).
    """
    result = JobResult(job)
    began = time.monotonic()
    for _attempt in range(2):  # a sandbox that fails to start gets one retry
        try:
            process = spawn()
        except (SandboxError, OSError) as exc:
            result.infra_error = f"the sandbox could not be made: {exc}"
            continue
        try:
            process.wait_ready(sandbox.startup_timeout)
        except SandboxError as exc:
            dispose(process)
            result.infra_error = f"the sandbox did not start: {exc}"
            continue
        try:
            result.infra_error = ""
            if job.files_dir.is_dir():
                copy_regular_tree(job.files_dir, process.input_dir, skip_suffixes=(".ipynb",))
            process.send(job.payload())
            if started is not None:
                started(process)
            collect(process, job, result, sandbox.limits.wall_seconds)
        except Exception as exc:  # noqa: BLE001 - a broken pipe or a full disk is this job's, not the batch's
            result.infra_error = result.infra_error or f"the sandbox failed: {type(exc).__name__}: {exc}"
        finally:
            dispose(process)
        if result.started or not result.infra_error:
            break
    result.seconds = time.monotonic() - began
    return result


class Pool:
    """``workers`` threads, each running jobs in sandboxes and booting the next one ahead."""

    def __init__(self, sandbox: Sandbox, workers: int, prewarm: bool) -> None:
        self.sandbox = sandbox
        self.jobs: queue.Queue[Job | None] = queue.Queue()
        self.results: queue.Queue[JobResult] = queue.Queue()
        self.prewarm = prewarm
        self.more_coming = threading.Event()  # the parent is still preparing submissions
        self.more_coming.set()
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self._loop, args=(slot,), daemon=True, name=f"grader-{slot}")
                        for slot in range(workers)]
        self._live: set[SandboxProcess] = set()
        self._live_lock = threading.Lock()
        for thread in self.threads:
            thread.start()

    def _spawn(self, slot: int) -> SandboxProcess:
        process = self.sandbox.spawn(slot)
        with self._live_lock:
            self._live.add(process)
        return process

    def _dispose(self, process: SandboxProcess) -> None:
        process.dispose()
        with self._live_lock:
            self._live.discard(process)

    def _loop(self, slot: int) -> None:
        warm: SandboxProcess | None = None
        while not self.stopping.is_set():
            job = self.jobs.get()
            if job is None:
                break

            def spawn() -> SandboxProcess:
                nonlocal warm
                process, warm = warm or self._spawn(slot), None
                return process

            def started(process: SandboxProcess) -> None:
                nonlocal warm
                if self.prewarm and (self.more_coming.is_set() or not self.jobs.empty()):
                    warm = self._spawn(slot)

            try:
                result = run_job(self.sandbox, job, spawn, self._dispose, started)
            except Exception as exc:  # noqa: BLE001 - the batch waits for one result per job, always
                result = JobResult(job, infra_error=f"the grading worker failed: {type(exc).__name__}: {exc}")
            self.results.put(result)
        if warm is not None:
            self._dispose(warm)

    def close(self) -> None:
        self.stopping.set()
        for _ in self.threads:
            self.jobs.put(None)
        with self._live_lock:
            live = list(self._live)
        for process in live:
            process.dispose()
        for thread in self.threads:
            thread.join(timeout=15)


def collect(process: SandboxProcess, job: Job, result: JobResult, wall_seconds: float) -> None:
    """Read one job's events into ``result``, enforcing its time limits from outside the sandbox."""
    steps = len(job.cells) + len(job.drivers)
    wall = min(wall_seconds, steps * (job.timeout + INTERRUPT_GRACE + 1) + 30)
    deadline = time.monotonic() + wall
    # a cell may run `timeout` seconds, then gets `INTERRUPT_GRACE` to come back: silence for
    # longer than that (and the snapshot after it) means the worker itself is stuck or stopped
    idle = 2 * (job.timeout + INTERRUPT_GRACE) + 15
    for event in process.events(deadline, idle):
        kind = event["event"]
        if kind == "started":
            result.started = True
        elif kind == "cell" and type(event.get("index")) is int:
            result.records[event["index"]] = event
        elif kind == "driver" and type(event.get("id")) is str:
            result.drivers[event["id"]] = event
        elif kind == "stopped":
            result.stop_reason = str(event.get("reason", "the kernel stopped"))[:500] + process.memory_note()
            result.stop_index = event["index"] if type(event.get("index")) is int else None
        elif kind == "deadline":
            result.stop_reason = f"the notebook ran past its time limit ({wall:.0f} s in all) and was stopped"
        elif kind == "idle":
            result.stop_reason = (f"the sandbox sent nothing for {idle:.0f} s (stopped or frozen) and was "
                                  "killed")
        elif kind in ("exited", "failed"):
            reason = str(event.get("reason") or "the sandbox exited")
            if result.started:
                result.stop_reason = f"the run ended early: {reason}"[:500] + process.memory_note()
            else:
                result.infra_error = reason[:500]
