"""Grading a large class on a Dask cluster: the same sandboxed runs, on many machines.

``rightsize course autograde ASSIGNMENT --scheduler tcp://host:8786`` keeps every trusted step
(intake, nbgrader's bookkeeping, scoring, the gradebook) in the instructor's process and sends
only the sandboxed runs to the cluster. Each task carries one notebook's job and its data files;
the worker that takes it builds a sandbox locally, exactly as a local run would (bubblewrap or
unshare, cgroup limits, the same time limits), runs the job and returns the plain events. Results
come back into the one gradebook as they finish.

Each worker machine needs the course package installed in the Python it runs (the same version:
the sandbox runs that Python) and, when lessons replay recorded model answers, the recordings at
the same path (or ``RIGHTSIZE_RECORDINGS`` set on the worker). The scheduler never sees the
gradebook, the solutions or the references.
"""

from __future__ import annotations

import queue
import tempfile
import threading
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ..errors import MissingDependencyError
from ._pool import Job, JobResult, run_job
from .intake import copy_regular_tree
from .sandbox import Limits, Sandbox

__all__ = ["DaskPool", "run_remote"]

_SANDBOXES: dict[str, Sandbox] = {}


def _files(folder: Path) -> dict[str, bytes]:
    """The job's data files (never its notebooks), as bytes to ship with the task."""
    out: dict[str, bytes] = {}
    if folder.is_dir():
        with tempfile.TemporaryDirectory() as tmp:
            copy_regular_tree(folder, Path(tmp), skip_suffixes=(".ipynb",))
            for path in sorted(Path(tmp).rglob("*")):
                if path.is_file():
                    out[str(path.relative_to(tmp))] = path.read_bytes()
    return out


def run_remote(spec: dict[str, Any], job: dict[str, Any], files: dict[str, bytes]) -> dict[str, Any]:
    """Run one job in a sandbox on this (worker) machine; the Dask task. Returns plain data."""
    key = repr(sorted(spec.items()))
    box = _SANDBOXES.get(key)
    if box is None:
        from .sandbox import detect_mode

        mode = spec["mode"] if spec["mode"] != "auto" else detect_mode(unsafe=False)
        recordings = Path(spec["recordings"]) if spec.get("recordings") and Path(spec["recordings"]).is_dir() else None
        box = _SANDBOXES[key] = Sandbox(mode=mode, hide=[Path(p) for p in spec["hide"]],
                                        limits=Limits(**spec["limits"]), recordings=recordings)
    with tempfile.TemporaryDirectory(prefix="rightsize-task-") as tmp:
        for rel, data in files.items():
            if Path(rel).is_absolute() or ".." in Path(rel).parts:
                continue
            target = Path(tmp) / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        local = Job(job["student"], job["notebook"], Path(tmp), job["cells"], job["timeout"],
                    job["drivers"], job["extra"])
        result = run_job(box, local, box.spawn, lambda process: process.dispose())
    return {"records": {str(k): v for k, v in result.records.items()}, "drivers": result.drivers,
            "started": result.started, "stop_reason": result.stop_reason, "stop_index": result.stop_index,
            "infra_error": result.infra_error, "seconds": result.seconds}


class DaskPool:
    """The :class:`~rightsize.course._pool.Pool` interface, with the runs on a Dask cluster."""

    def __init__(self, sandbox: Sandbox, scheduler: str) -> None:
        try:
            from distributed import Client
        except ImportError as exc:
            raise MissingDependencyError("distributed", "grading on a Dask cluster (--scheduler)") from exc
        self.client = Client(scheduler, timeout=30)
        self.spec = {"mode": sandbox.mode, "hide": [str(p) for p in sandbox.hide],
                     "limits": asdict(sandbox.limits),
                     "recordings": str(sandbox.recordings) if sandbox.recordings else None}
        self.jobs: queue.Queue[Job | None] = queue.Queue()
        self.results: queue.Queue[JobResult] = queue.Queue()
        self.more_coming = threading.Event()
        self.more_coming.set()
        self._futures: dict[Any, Job] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._submitter = threading.Thread(target=self._submit, daemon=True, name="dask-submit")
        self._submitter.start()

    def _submit(self) -> None:
        from distributed import as_completed

        pending = as_completed([], with_results=False)
        waiter = threading.Thread(target=self._gather, args=(pending,), daemon=True, name="dask-gather")
        waiter.start()
        while not self._stop.is_set():
            job = self.jobs.get()
            if job is None:
                break
            payload = {"student": job.student, "notebook": job.notebook, "cells": job.cells,
                       "timeout": job.timeout, "drivers": job.drivers, "extra": job.extra}
            future = self.client.submit(run_remote, self.spec, payload, _files(job.files_dir), pure=False)
            with self._lock:
                self._futures[future] = job
            pending.add(future)

    def _gather(self, pending: Any) -> None:
        while not self._stop.is_set():
            try:
                future = next(pending)
            except StopIteration:
                self._stop.wait(0.2)
                continue
            with self._lock:
                job = self._futures.pop(future)
            try:
                data = future.result()
                result = JobResult(job, records={int(k): v for k, v in data["records"].items()},
                                   drivers=data["drivers"], started=data["started"], stop_reason=data["stop_reason"],
                                   stop_index=data["stop_index"], infra_error=data["infra_error"],
                                   seconds=data["seconds"])
            except Exception as exc:  # noqa: BLE001 - a lost worker is this job's error, retried next run
                result = JobResult(job, infra_error=f"the cluster could not run it: {type(exc).__name__}: {exc}")
            self.results.put(result)

    def close(self) -> None:
        self._stop.set()
        self.jobs.put(None)
        self._submitter.join(timeout=5)
        self.client.close()
