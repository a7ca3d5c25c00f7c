"""Isolated, resource-limited processes that execute one student's notebook each.

Student code runs with whatever rights the grader gives it (NBGRADER.md, trap 1), so every
submission is executed by :mod:`rightsize.course._sandbox_worker` inside a sandbox that

- has no network (a fresh network namespace: even 127.0.0.1 of the grading machine is out of reach);
- sees the system, the Python install and the course's virtual environment read-only, its own
  submission files read-only, and nothing else of the grading machine: not the gradebook, not the
  ``source/``, ``release/`` or ``solutions/`` folders, not other students' files;
- writes only to private, size-capped tmpfs folders (its home, its work folder, ``/tmp``) that
  vanish with it;
- runs as an unprivileged user when the grader is root (one uid per sandbox slot), with no new
  privileges, and under limits on CPU seconds, address space, processes and file size;
- counts all its processes together against one memory cap and one process cap, in a control
  group of its own (:mod:`rightsize.course._cgroup`; where groups cannot be made, the per-process
  limits remain and :attr:`Sandbox.whole_sandbox_limits` says so).

Two ways to build it, tried in this order:

``bwrap``     bubblewrap (Debian/Ubuntu: ``apt-get install bubblewrap``): mount, pid, ipc, uts and
              network namespaces; as root without a user namespace, otherwise with one.
``unshare``   util-linux ``unshare`` as root: network, mount, pid, ipc and uts namespaces; the
              worker hides the course folder, the solutions and the quiz bank under empty tmpfs
              mounts, gives the sandbox its own ``/tmp``, ``/dev`` and ``/dev/shm``, and remounts
              every other mount read-only before it drops root: no host path stays writable.

Without either, grading refuses to start unless ``unsafe=True`` (``--unsafe-no-sandbox``), which
only runs each submission in its own process and scratch folder.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from ..errors import RightsizeError
from . import _cgroup

__all__ = ["Limits", "Sandbox", "SandboxError", "SandboxProcess", "detect_mode"]

WORKER = Path(__file__).with_name("_sandbox_worker.py")
DEFAULT_UID_BASE = 1_879_048_192  # an unused range (systemd's map: 1879048192-2147483647 is unused)
_INPUT_IN_BWRAP = "/opt/rightsize/input"
_RECORDINGS_IN_SANDBOX = "/opt/rightsize/recordings"
_MPL_IN_BWRAP = "/opt/rightsize/matplotlib"
_UNSHARE_COVERS = ("/home", "/root", "/run", "/srv", "/mnt", "/media", "/opt", "/var/tmp")


class SandboxError(RightsizeError):
    """No usable sandbox, or a sandbox that could not be set up."""


@dataclass(frozen=True)
class Limits:
    """Per-process POSIX limits inside a sandbox (``setrlimit``), plus the size of its tmpfs folders."""

    cpu_seconds: int = 300
    memory_bytes: int = 4 << 30
    processes: int = 256
    file_bytes: int = 256 << 20
    tmpfs_bytes: int = 512 << 20
    #: wall-clock seconds one submission may take in all, enforced from outside the sandbox
    wall_seconds: float = 600.0

    def as_rlimits(self) -> dict[str, int]:
        return {"RLIMIT_CPU": self.cpu_seconds, "RLIMIT_AS": self.memory_bytes,
                "RLIMIT_NPROC": self.processes, "RLIMIT_FSIZE": self.file_bytes, "RLIMIT_CORE": 0}


# ------------------------------------------------------------------------------ detection
def _probe(cmd: Sequence[str]) -> bool:
    try:
        return subprocess.run(list(cmd), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@cache
def _bwrap_usable() -> bool:
    bwrap = shutil.which("bwrap")
    if not bwrap:
        return False
    user_ns = [] if os.geteuid() == 0 else ["--unshare-user"]
    return _probe([bwrap, *user_ns, "--unshare-net", "--unshare-pid", "--ro-bind", "/", "/",
                   "--proc", "/proc", "--dev", "/dev", "true"])


@cache
def _unshare_usable() -> bool:
    unshare = shutil.which("unshare")
    if not unshare or os.geteuid() != 0:
        return False
    return _probe([unshare, "--net", "--mount", "--pid", "--fork", "--mount-proc", "true"])


def detect_mode(unsafe: bool = False, prefer: str | None = None) -> str:
    """``"bwrap"``, ``"unshare"`` or (only when ``unsafe``) ``"none"``; raises when nothing fits."""
    if prefer == "none":
        if not unsafe:
            raise SandboxError("running without a sandbox needs --unsafe-no-sandbox")
        return "none"
    if prefer in (None, "bwrap") and _bwrap_usable():
        return "bwrap"
    if prefer in (None, "unshare") and _unshare_usable():
        return "unshare"
    if unsafe:
        return "none"
    wanted = f"the {prefer!r} sandbox" if prefer else "a sandbox"
    raise SandboxError(
        f"cannot grade safely: {wanted} is not available here. Install bubblewrap "
        "(apt-get install bubblewrap; as a non-root user it also needs unprivileged user namespaces), "
        "or run as root so the unshare fallback works; on a trusted class only, pass --unsafe-no-sandbox.")


@cache
def _python_paths(python: str) -> tuple[str, ...]:
    """The folders the sandboxed Python needs: its prefix, base prefix and sys.path entries."""
    code = "import sys, json; print(json.dumps([sys.prefix, sys.base_prefix, *sys.path]))"
    out = subprocess.run([python, "-I", "-c", code], capture_output=True, text=True, check=True).stdout
    paths = [os.path.realpath(p) for p in json.loads(out) if p]
    paths.append(os.path.dirname(os.path.realpath(python)))
    paths.append(str(WORKER.parent.resolve()))
    return tuple(paths)


def _outermost(paths: Sequence[str]) -> list[str]:
    """Existing folders, without those inside another one or inside the system folders."""
    system = ("/usr", "/etc")
    keep: list[str] = []
    for p in sorted({p for p in paths if os.path.isdir(p)}, key=len):
        if any(p == s or p.startswith(s + "/") for s in system):
            continue
        if any(p == k or p.startswith(k.rstrip("/") + "/") for k in keep):
            continue
        keep.append(p)
    return keep


def _is_inside(path: str, folders: Sequence[str]) -> bool:
    return any(path == f or path.startswith(f.rstrip("/") + "/") for f in folders)


# ------------------------------------------------------------------------------ the sandbox
@dataclass
class Sandbox:
    """How to start sandboxes for one grading batch; ``spawn()`` starts one."""

    mode: str
    hide: Sequence[Path] = ()
    limits: Limits = field(default_factory=Limits)
    python: str = sys.executable
    recordings: Path | None = None
    uid_base: int = DEFAULT_UID_BASE
    startup_timeout: float = 60.0
    extra_env: dict[str, str] = field(default_factory=dict)
    #: modules imported in each kernel while it waits for its job (the lessons' heavy imports)
    preload: Sequence[str] = ("numpy", "pandas", "matplotlib.pyplot", "ipywidgets", "rightsize",
                              "rightsize.notebook", "rightsize.checks", "rightsize.course.probes")

    def __post_init__(self) -> None:
        self.scratch_root = Path(tempfile.mkdtemp(prefix="rightsize-grading-"))
        os.chmod(self.scratch_root, 0o700)
        self._counter = 0
        self._lock = threading.Lock()
        self._readonly = _outermost(_python_paths(self.python))
        hide = {os.path.realpath(p) for p in self.hide if p} | {str(self.scratch_root)}
        self._hide = sorted(hide)
        self._mpl_seed = _seed_matplotlib_cache(self.scratch_root / "matplotlib")
        self._cgroups = _cgroup.detect() if self.mode != "none" else None

    @property
    def whole_sandbox_limits(self) -> bool:
        """Whether memory and processes are capped for each sandbox as a whole (a cgroup each)."""
        return self._cgroups is not None

    # -- environment -----------------------------------------------------------------
    def _kernel_env(self, home: str) -> dict[str, str]:
        env = {
            "PATH": f"{os.path.dirname(self.python)}:/usr/local/bin:/usr/bin:/bin",
            "HOME": home, "USER": "student", "LOGNAME": "student", "LANG": "C.UTF-8",
            "TZ": "UTC", "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1",
            "NBGRADER_EXECUTION": "autograde", "JUPYTER_PLATFORM_DIRS": "1",
            "IPYTHONDIR": f"{home}/.ipython", "MPLCONFIGDIR": f"{home}/.config/matplotlib",
            "RIGHTSIZE_CACHE": f"{home}/.cache/rightsize",
            "PYDEVD_DISABLE_FILE_VALIDATION": "1",
            "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
        }
        if os.environ.get("VIRTUAL_ENV") or sys.prefix != sys.base_prefix:
            env["VIRTUAL_ENV"] = sys.prefix
        if self.recordings is not None:
            where = _RECORDINGS_IN_SANDBOX if self.mode == "bwrap" else str(self.recordings)
            env.update(RIGHTSIZE_RECORDINGS=where, RIGHTSIZE_RESPONSES_DIR=where, RIGHTSIZE_RESPONSES="replay")
        env.update(self.extra_env)
        return env

    def _next_ids(self) -> tuple[int, Path]:
        with self._lock:
            self._counter += 1
            n = self._counter
        scratch = self.scratch_root / f"s{n:05d}"
        (scratch / "input").mkdir(parents=True)
        return n, scratch

    def _uid_for(self, slot: int, n: int) -> int:
        # two uids per slot (one sandbox running, the next one warming up) so process limits,
        # which count per uid, never mix two live sandboxes
        return self.uid_base + 2 * slot + (n % 2)

    # -- commands --------------------------------------------------------------------
    def _bwrap_command(self, setup: dict[str, Any], input_dir: Path) -> list[str]:
        cmd = ["bwrap", "--die-with-parent", "--new-session", "--unshare-net", "--unshare-pid",
               "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try", "--hostname", "grading"]
        if os.geteuid() == 0:
            cmd += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
        else:
            cmd += ["--unshare-user", "--disable-userns"]
        cmd += ["--ro-bind", "/usr", "/usr", "--ro-bind", "/etc", "/etc"]
        for top in ("bin", "sbin", "lib", "lib64", "lib32", "libx32"):
            path = f"/{top}"
            if os.path.islink(path):
                cmd += ["--symlink", os.readlink(path), path]
            elif os.path.isdir(path):
                cmd += ["--ro-bind", path, path]
        size = str(self.limits.tmpfs_bytes)
        # the private writable folders first, so a Python installed under /tmp is bound over them
        cmd += ["--proc", "/proc", "--dev", "/dev",
                "--perms", "1777", "--size", size, "--tmpfs", "/tmp",
                "--perms", "0755", "--dir", "/home",
                "--perms", "1777", "--size", size, "--tmpfs", "/home/student"]
        mounts = [*self._readonly, _INPUT_IN_BWRAP]
        if self.recordings is not None:
            mounts.append(_RECORDINGS_IN_SANDBOX)
        if self._mpl_seed is not None:
            mounts.append(_MPL_IN_BWRAP)
        made: set[str] = {"/", "/usr", "/etc", "/tmp", "/home", "/home/student"}
        for target in mounts:  # parents with ordinary permissions (bwrap would make them 0700)
            parts = Path(target).parents
            for parent in reversed(list(parts)):
                p = str(parent)
                if p not in made and not _is_inside(p, self._readonly):
                    cmd += ["--perms", "0755", "--dir", p]
                    made.add(p)
        for path in self._readonly:
            cmd += ["--ro-bind", path, path]
        for hidden in self._hide:  # a hidden folder inside a bound one: cover it
            if _is_inside(hidden, self._readonly) and os.path.isdir(hidden):
                cmd += ["--size", "65536", "--tmpfs", hidden]
        cmd += ["--ro-bind", str(input_dir), _INPUT_IN_BWRAP]
        if self.recordings is not None:
            cmd += ["--ro-bind", str(self.recordings), _RECORDINGS_IN_SANDBOX]
        if self._mpl_seed is not None:
            cmd += ["--ro-bind", str(self._mpl_seed), _MPL_IN_BWRAP]
        cmd += ["--chdir", "/", "--clearenv"]
        for key, value in setup["kernel_env"].items():
            cmd += ["--setenv", key, value]
        cmd += ["--", self.python, "-I", str(WORKER), json.dumps(setup)]
        return cmd

    def _unshare_mounts(self, input_dir: Path, input_target: str) -> dict[str, Any]:
        """What the worker mounts in the unshare fallback (it does what bwrap would)."""
        cover = set(self._hide)
        # people's files and runtime sockets are none of a submission's business; what Python needs
        # from under these covers is bound back read-only below
        cover |= {p for p in _UNSHARE_COVERS if os.path.isdir(p) and not os.path.islink(p)}
        for path in self._readonly:  # folders the unprivileged uid could not traverse (e.g. /root)
            for parent in Path(path).parents:
                p = str(parent)
                if p != "/" and not os.stat(p).st_mode & 0o001:
                    cover.add(p)
        covers = [c for c in sorted(cover, key=len)
                  if not any(c != o and _is_inside(c, [o]) for o in cover)]
        # the worker also mounts a private /tmp: a Python or venv living under /tmp (a clone in
        # /tmp, say) must be bound back too
        restore = [[p, p] for p in self._readonly if _is_inside(p, [*covers, "/tmp"])]
        if self.recordings is not None and _is_inside(str(self.recordings), covers):
            restore.append([str(self.recordings), str(self.recordings)])
        if self._mpl_seed is not None:
            restore.append([str(self._mpl_seed), "/tmp/matplotlib-seed"])
        restore.append([str(input_dir), input_target])
        return {"cover": covers, "restore": restore, "tmpfs_bytes": self.limits.tmpfs_bytes}

    def spawn(self, slot: int = 0) -> SandboxProcess:
        """Start a sandbox: it boots a kernel at once and waits for its job."""
        n, scratch = self._next_ids()
        input_dir = scratch / "input"
        if self.mode == "bwrap":
            home, inputdir = "/home/student", _INPUT_IN_BWRAP
        elif self.mode == "unshare":
            home, inputdir = "/tmp/home", "/tmp/input"
        else:
            home, inputdir = str(scratch / "home"), str(input_dir)
        setup: dict[str, Any] = {
            "home": home, "workdir": f"{home}/work", "inputdir": inputdir,
            "runtime_dir": "/tmp/rightsize" if self.mode != "none" else str(scratch / "runtime"),
            "kernel_env": self._kernel_env(home), "startup_timeout": self.startup_timeout,
            "limits": self.limits.as_rlimits(), "preload": list(self.preload),
        }
        if self._mpl_seed is not None:
            setup["mpl_seed"] = {"bwrap": _MPL_IN_BWRAP, "unshare": "/tmp/matplotlib-seed"}.get(
                self.mode, str(self._mpl_seed))
        if os.geteuid() == 0 and self.mode != "none":
            setup["uid"] = setup["gid"] = self._uid_for(slot, n)
        elif os.geteuid() != 0:
            # RLIMIT_NPROC counts every process of the uid: leave room for the user's own
            setup["limits"]["RLIMIT_NPROC"] = self.limits.processes + _count_processes(os.getuid())
        if self.mode == "bwrap":
            cmd = self._bwrap_command(setup, input_dir)
            env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        elif self.mode == "unshare":
            setup["mounts"] = self._unshare_mounts(input_dir, setup["inputdir"])
            setup["loopback_up"] = True
            cmd = ["unshare", "--net", "--mount", "--pid", "--ipc", "--uts", "--fork", "--kill-child",
                   "--mount-proc", "--", self.python, "-I", str(WORKER), json.dumps(setup)]
            env = setup["kernel_env"]
        else:
            setup["limits"].pop("RLIMIT_NPROC", None)  # would count the grader's own processes
            cmd = [self.python, "-I", str(WORKER), json.dumps(setup)]
            env = setup["kernel_env"]
        group = None
        if self._cgroups is not None:
            try:
                group = self._cgroups.create(f"rightsize-{os.getpid()}-{n}", self.limits.memory_bytes,
                                             self.limits.processes)
            except OSError as exc:
                raise SandboxError(f"could not make the sandbox's control group: {exc}") from exc
            cmd = group.wrap(cmd)
        return SandboxProcess(cmd, env, scratch, input_dir, group, self.limits.memory_bytes)

    def close(self) -> None:
        """Remove every scratch folder."""
        _force_rmtree(self.scratch_root)


def _seed_matplotlib_cache(dest: Path) -> Path | None:
    """Copy the grader's matplotlib font cache, if it has one, for the sandboxes to start from.

    Each sandbox has a fresh home, so a lesson importing matplotlib would rebuild the font list
    (about 0.4 s per notebook); ``rightsize course build`` makes sure the cache exists.
    """
    env = os.environ.get("MPLCONFIGDIR")
    cache = Path(env) if env else Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "matplotlib"
    files = sorted(cache.glob("fontlist-*.json")) if cache.is_dir() else []
    if not files:
        return None
    dest.mkdir(mode=0o755)
    for path in files:
        shutil.copyfile(path, dest / path.name)
        (dest / path.name).chmod(0o644)
    return dest


def _count_processes(uid: int) -> int:
    count = 0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}").st_uid == uid:
                    count += 1
            except OSError:
                pass
    return count


def _force_rmtree(path: Path) -> None:
    def fix(func: Any, p: str, _exc: Any) -> None:
        try:
            os.chmod(os.path.dirname(p), 0o700)
            os.chmod(p, 0o700)
            func(p)
        except OSError:
            pass

    if path.exists():
        shutil.rmtree(path, onerror=fix)


class SandboxProcess:
    """One running sandbox: send it a job, read its result events, then dispose of it."""

    #: the longest result line read from a sandbox (a probe payload is at most 2 MB of JSON)
    MAX_LINE = 8 << 20

    def __init__(self, cmd: list[str], env: dict[str, str], scratch: Path, input_dir: Path,
                 group: _cgroup.SandboxGroup | None = None, memory_bytes: int = 0) -> None:
        self.scratch = scratch
        self.input_dir = input_dir
        self.group = group
        self.memory_bytes = memory_bytes
        self.started = time.monotonic()
        self._stderr = open(scratch / "stderr.log", "w+b")
        self.process = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=self._stderr, env=env, start_new_session=True)
        self._events: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self._ready: dict[str, Any] | None = None

    def _read(self) -> None:
        assert self.process.stdout is not None
        while True:
            line = self.process.stdout.readline(self.MAX_LINE)
            if not line:
                break
            if not line.endswith(b"\n"):  # longer than any result line: drop the rest of it
                while line and not line.endswith(b"\n"):
                    line = self.process.stdout.readline(self.MAX_LINE)
                continue
            try:
                event = json.loads(line)
            except ValueError:
                continue  # not ours: nothing but the worker writes here, but never trust a line
            if isinstance(event, dict) and isinstance(event.get("event"), str):
                self._events.put(event)
        self._events.put(None)

    def memory_note(self) -> str:
        """Why the sandbox lost a process, when it ran out of memory."""
        if self.group is not None and self.group.oom_killed():
            return f" (the sandbox ran out of memory: its limit is {self.memory_bytes >> 20} MB for all its processes)"
        return ""

    def stderr_tail(self, chars: int = 400) -> str:
        try:
            self._stderr.flush()
            self._stderr.seek(0)
            return self._stderr.read().decode("utf-8", "replace")[-chars:].strip()
        except (OSError, ValueError):
            return ""

    def wait_ready(self, timeout: float) -> dict[str, Any]:
        """Block until the kernel inside is up; raises SandboxError if it fails."""
        if self._ready is not None:
            return self._ready
        try:
            event = self._events.get(timeout=timeout)
        except queue.Empty:
            raise SandboxError(f"the sandbox did not start within {timeout:g} s") from None
        if event is None:
            raise SandboxError(f"the sandbox exited at start: {self.stderr_tail() or 'no message'}")
        if event["event"] != "ready":
            raise SandboxError(str(event.get("reason", event)))
        self._ready = event
        return event

    def send(self, job: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write((json.dumps(job) + "\n").encode())
        self.process.stdin.flush()

    def events(self, deadline: float, idle: float | None = None) -> Iterator[dict[str, Any]]:
        """Result events until the worker finishes or exits, the wall-clock ``deadline`` passes, or
        no event comes for ``idle`` seconds (a stopped or frozen worker: ``{"event": "idle"}``)."""
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                yield {"event": "deadline"}
                return
            try:
                event = self._events.get(timeout=min(remaining, idle) if idle else remaining)
            except queue.Empty:
                if idle and time.monotonic() < deadline:
                    yield {"event": "idle"}
                    return
                continue
            if event is None:
                yield {"event": "exited", "reason": self.stderr_tail()}
                return
            yield event
            if event["event"] in ("done", "stopped", "failed"):
                return

    def dispose(self) -> None:
        """Kill whatever is left of the sandbox and delete its scratch folder."""
        try:
            if self.process.stdin:
                self.process.stdin.close()
        except OSError:
            pass
        try:
            os.killpg(self.process.pid, 9)
        except (ProcessLookupError, PermissionError):
            pass
        if self.group is not None:
            self.group.kill_all()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        if self.group is not None:
            self.group.remove()
        self._stderr.close()
        _force_rmtree(self.scratch)
