"""One memory and process limit for a whole grading sandbox: a control group per sandbox.

``setrlimit`` limits each process on its own: six forked children under a 4 GB address-space
limit can hold 24 GB together. A control group counts every process of the sandbox at once, so
the sandbox's memory cap and process cap hold however the submission forks.

Two layouts exist, tried in this order:

- cgroup v2 (``/sys/fs/cgroup`` is ``cgroup2``, with the ``memory`` and ``pids`` controllers
  available to this process's group): ``memory.max``, ``memory.swap.max``, ``pids.max``, and
  ``cgroup.kill`` to end every process at once;
- cgroup v1 (separate ``memory`` and ``pids`` hierarchies, as on this course's CI machines):
  ``memory.limit_in_bytes`` (and ``memory.memsw.limit_in_bytes``), ``pids.max``.

A sandbox is put in its group before anything runs in it: the sandbox command is wrapped in a
short ``/bin/sh`` line that writes its own pid into each group, then ``exec``\\ s the sandbox, so
every later process is born inside. Creating groups needs root or a delegated subtree; without
either, :func:`detect` returns ``None`` and the sandbox keeps only its per-process limits (the
autograder says so).
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Cgroups", "SandboxGroup", "detect"]

ROOT = Path("/sys/fs/cgroup")


def _own_path(controller: str | None) -> str | None:
    """This process's group path in a hierarchy (``None`` = the v2 unified one)."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        number, controllers, path = line.split(":", 2)
        if controller is None and number == "0" and controllers == "":
            return path
        if controller is not None and controller in controllers.split(","):
            return path
    return None


@dataclass
class SandboxGroup:
    """The groups of one sandbox: where its processes are counted, and how to end them."""

    folders: list[Path]
    version: int
    procs_files: list[str] = field(default_factory=list)

    def wrap(self, cmd: list[str]) -> list[str]:
        """``cmd`` started inside the groups (every process it makes stays inside)."""
        script = 'for f in "$@"; do [ "$f" = -- ] && break; echo $$ > "$f" || exit 97; shift; done; shift; exec "$@"'
        return ["/bin/sh", "-c", script, "rightsize-sandbox", *self.procs_files, "--", *cmd]

    def oom_killed(self) -> bool:
        """Whether the kernel killed a process of this sandbox for exceeding its memory."""
        for folder in self.folders:
            for name in ("memory.events", "memory.oom_control"):
                try:
                    text = (folder / name).read_text()
                except OSError:
                    continue
                for line in text.splitlines():
                    key, _, value = line.partition(" ")
                    if key == "oom_kill" and value.strip() not in ("", "0"):
                        return True
        return False

    def pids(self) -> list[int]:
        found: set[int] = set()
        for folder in self.folders:
            try:
                found.update(int(p) for p in (folder / "cgroup.procs").read_text().split())
            except (OSError, ValueError):
                pass
        return sorted(found)

    def kill_all(self) -> None:
        """SIGKILL every process still in the sandbox's groups."""
        if self.version == 2:
            try:
                (self.folders[0] / "cgroup.kill").write_text("1")
                return
            except OSError:
                pass
        for _ in range(20):
            pids = self.pids()
            if not pids:
                return
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            time.sleep(0.05)

    def remove(self) -> None:
        """Kill what is left and remove the groups (best effort; an empty group is cheap)."""
        self.kill_all()
        for folder in self.folders:
            for _ in range(40):
                try:
                    folder.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.05)


@dataclass
class Cgroups:
    """Where this machine's per-sandbox groups are made, and how."""

    version: int
    parents: dict[str, Path]

    def create(self, name: str, memory_bytes: int, processes: int) -> SandboxGroup:
        """New groups named ``name`` capping memory (all processes together) and process count."""
        if self.version == 2:
            folder = self.parents["unified"] / name
            folder.mkdir()
            (folder / "memory.max").write_text(str(memory_bytes))
            _try_write(folder / "memory.swap.max", "0")
            (folder / "pids.max").write_text(str(processes))
            return SandboxGroup([folder], 2, [str(folder / "cgroup.procs")])
        memory = self.parents["memory"] / name
        pids = self.parents["pids"] / name
        memory.mkdir()
        try:
            pids.mkdir()
            (memory / "memory.limit_in_bytes").write_text(str(memory_bytes))
            _try_write(memory / "memory.memsw.limit_in_bytes", str(memory_bytes))
            (pids / "pids.max").write_text(str(processes))
        except OSError:
            SandboxGroup([memory, pids], 1).remove()
            raise
        return SandboxGroup([memory, pids], 1, [str(memory / "cgroup.procs"), str(pids / "cgroup.procs")])


def _try_write(path: Path, value: str) -> None:
    try:
        path.write_text(value)
    except OSError:
        pass


def _usable(parent: Path) -> bool:
    probe = parent / f"rightsize-probe-{os.getpid()}"
    try:
        probe.mkdir()
        probe.rmdir()
        return True
    except OSError:
        return False


def detect() -> Cgroups | None:
    """The per-sandbox cgroup layout this process can create, or ``None``."""
    try:
        unified = ROOT / "cgroup.controllers"
        if unified.is_file():
            own = _own_path(None)
            parent = ROOT / (own or "/").lstrip("/")
            available = (parent / "cgroup.controllers").read_text().split()
            if {"memory", "pids"} <= set(available):
                enabled = (parent / "cgroup.subtree_control").read_text().split()
                if not {"memory", "pids"} <= set(enabled):
                    (parent / "cgroup.subtree_control").write_text("+memory +pids")
                if _usable(parent):
                    return Cgroups(2, {"unified": parent})
            return None
        memory_own, pids_own = _own_path("memory"), _own_path("pids")
        if memory_own is None or pids_own is None:
            return None
        memory = ROOT / "memory" / memory_own.lstrip("/")
        pids = ROOT / "pids" / pids_own.lstrip("/")
        if (memory / "memory.limit_in_bytes").is_file() and (pids / "cgroup.procs").is_file() \
                and _usable(memory) and _usable(pids):
            return Cgroups(1, {"memory": memory, "pids": pids})
    except OSError:
        return None
    return None
