"""The pool of grading sandboxes: ``workers`` threads, each running one notebook at a time.

Each thread takes a job (one notebook's code cells), hands it to a sandbox whose kernel is
already up, and, while it runs, boots the next sandbox, so kernel start-up overlaps with
execution. Results come back on a queue; the parent (:mod:`rightsize.course.autograde`) does
all the grading. A sandbox that fails to start gets one retry.
"""

from __future__ import annotations

import queue
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .sandbox import Sandbox, SandboxError, SandboxProcess

__all__ = ["INTERRUPT_GRACE", "Job", "JobResult", "Pool"]

INTERRUPT_GRACE = 5.0  # seconds a kernel has to come back after a timeout interrupt


@dataclass
class Job:
    """One notebook to execute: its code cells and where its data files are."""

    student: str
    notebook: str
    files_dir: Path
    cells: list[dict[str, Any]]
    timeout: float


@dataclass
class JobResult:
    """What came back: per-cell records, and why a run stopped early, if it did."""

    job: Job
    records: dict[int, dict[str, Any]] = field(default_factory=dict)
    started: bool = False
    stop_reason: str = ""
    infra_error: str = ""
    seconds: float = 0.0


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
            result = JobResult(job)
            started = time.monotonic()
            for _attempt in range(2):  # a sandbox that fails to start gets one retry
                process, warm = warm or self._spawn(slot), None
                try:
                    process.wait_ready(self.sandbox.startup_timeout)
                except SandboxError as exc:
                    self._dispose(process)
                    result.infra_error = f"the sandbox did not start: {exc}"
                    continue
                try:
                    result.infra_error = ""
                    _copy_inputs(job.files_dir, process.input_dir)
                    process.send({"cells": job.cells, "timeout": job.timeout, "interrupt_grace": INTERRUPT_GRACE})
                    if self.prewarm and (self.more_coming.is_set() or not self.jobs.empty()):
                        warm = self._spawn(slot)
                    self._collect(process, job, result)
                finally:
                    self._dispose(process)
                if result.started or not result.infra_error:
                    break
            result.seconds = time.monotonic() - started
            self.results.put(result)
        if warm is not None:
            self._dispose(warm)

    @staticmethod
    def _collect(process: SandboxProcess, job: Job, result: JobResult) -> None:
        deadline = time.monotonic() + len(job.cells) * (job.timeout + INTERRUPT_GRACE + 1) + 30
        for event in process.events(deadline):
            kind = event["event"]
            if kind == "started":
                result.started = True
            elif kind == "cell" and isinstance(event.get("index"), int):
                result.records[event["index"]] = event
            elif kind == "stopped":
                result.stop_reason = str(event.get("reason", "the kernel stopped"))
            elif kind == "deadline":
                result.stop_reason = "the notebook ran past its total time limit and was stopped"
            elif kind in ("exited", "failed"):
                reason = str(event.get("reason") or "the sandbox exited")
                if result.started:
                    result.stop_reason = f"the run ended early: {reason}"[:500]
                else:
                    result.infra_error = reason[:500]

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


def _copy_inputs(src: Path, dest: Path) -> None:
    """The submission's data files (not its notebooks) go to the sandbox's read-only input folder."""
    if not src.is_dir():
        return
    for path in src.rglob("*"):
        rel = path.relative_to(src)
        if path.is_symlink() or ".ipynb_checkpoints" in rel.parts:
            continue
        target = dest / rel
        if path.is_dir():
            target.mkdir(parents=True, exist_ok=True)
            target.chmod(0o755)
        elif path.suffix != ".ipynb":
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
            target.chmod(0o644)
