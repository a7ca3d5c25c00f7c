"""Finding, or starting, the course's lab server: one per user and checkout, so notebooks need nothing started.

:func:`lab_url` returns the URL of a lab server that belongs to *this* user, *this* checkout of
the course and *this* version of the package:

1. ``RIGHTSIZE_LAB_URL``, when set, is used as given (your explicit choice, checked only for being
   a rightsize lab server);
2. otherwise the server this user last started from this checkout (its URL is kept in
   ``<cache>/lab/<identity>.json``), if it still answers ``/health`` with the same identity;
3. otherwise the default ``http://127.0.0.1:8321``, if a server there reports the same identity;
4. otherwise a new server on a free local port, started in the background
   (``python -m rightsize serve``), recorded for the next call.

A server another user or another checkout started (a shared JupyterHub node, two clones on one
laptop, a different version of the code) is never reused: each reports its identity on
``/health`` (package version, checkout folder, user) and :func:`identity` says what this process
expects. A server started here stops by itself after ``RIGHTSIZE_LAB_IDLE_EXIT`` seconds without
requests (default 30 minutes), so executed notebooks leave nothing running for long.
"""

from __future__ import annotations

import contextlib
import fcntl
import getpass
import hashlib
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from .errors import RightsizeError

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "cache_dir", "identity", "lab_is_up", "lab_url", "start_lab"]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8321


def cache_dir() -> Path:
    """Where rightsize keeps logs, caches and results (``RIGHTSIZE_CACHE`` overrides)."""
    path = Path(os.environ.get("RIGHTSIZE_CACHE", Path.home() / ".cache" / "rightsize"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def identity() -> dict[str, str]:
    """Who a lab server belongs to: the package version, the checkout it runs from, the user."""
    from . import __version__

    checkout = Path(__file__).resolve().parent.parent
    if checkout.name == "src":  # an editable install: the repository is one level up
        checkout = checkout.parent
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a container): the uid still tells users apart
        user = f"uid-{os.getuid()}"
    return {"version": __version__, "checkout": str(checkout), "user": user}


def _health(url: str, timeout: float) -> dict[str, Any] | None:
    try:
        reply = httpx.get(url.rstrip("/") + "/health", timeout=timeout)
        data = reply.json()
    except (httpx.HTTPError, ValueError):
        return None
    if reply.status_code != 200 or not isinstance(data, dict) or data.get("service") != "rightsize-lab":
        return None
    return data


def lab_is_up(url: str, timeout: float = 0.5, *, mine: bool = False) -> bool:
    """True when a rightsize lab server answers ``/health`` at ``url`` (and, with ``mine``, is this user's
    and this checkout's, per :func:`identity`)."""
    data = _health(url, timeout)
    if data is None:
        return False
    return not mine or data.get("identity") == identity()


def _state_file() -> Path:
    me = identity()
    key = hashlib.sha256(json.dumps(me, sort_keys=True).encode()).hexdigest()[:16]
    folder = cache_dir() / "lab"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{key}.json"


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One process at a time decides whether to start a server (two notebooks opening at once)."""
    with open(path.with_suffix(".lock"), "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def start_lab(port: int | None = None, host: str = DEFAULT_HOST, wait: float = 90.0) -> str:
    """Start a lab server in the background (on a free port unless ``port``) and wait until it answers."""
    port = port or _free_port(host)
    url = f"http://{host}:{port}"
    log_path = cache_dir() / f"lab-server-{port}.log"
    idle = os.environ.get("RIGHTSIZE_LAB_IDLE_EXIT", "1800")
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "rightsize", "serve", "--host", host, "--port", str(port),
             "--idle-exit", idle],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # outlives the notebook cell; not killed by Ctrl-C there
        )
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if lab_is_up(url, mine=True):
            return url
        if process.poll() is not None:
            raise RightsizeError(f"the lab server did not start (exit code {process.returncode}); see {log_path}. "
                                 f"Is port {port} taken? Set RIGHTSIZE_LAB_URL to use a server you started.")
        time.sleep(0.2)
    raise RightsizeError(f"the lab server did not answer on {url} within {wait:.0f}s; see {log_path}")


def lab_url(start: bool = True) -> str:
    """The URL of this user's and this checkout's lab server, starting one if needed (and ``start``)."""
    explicit = os.environ.get("RIGHTSIZE_LAB_URL", "").rstrip("/")
    if explicit:
        if lab_is_up(explicit):
            return explicit
        raise RightsizeError(f"no lab server answers on {explicit} (RIGHTSIZE_LAB_URL): start it with "
                             "`rightsize serve`, or unset the variable to let the course start its own")
    state = _state_file()
    with _locked(state):
        try:
            known = json.loads(state.read_text(encoding="utf-8")).get("url", "")
        except (OSError, ValueError):
            known = ""
        default = f"http://{DEFAULT_HOST}:{DEFAULT_PORT}"
        for candidate in filter(None, (known, default)):
            if lab_is_up(candidate, mine=True):
                return candidate
        if not start:
            raise RightsizeError("no lab server of yours is running for this checkout: run `rightsize serve`, "
                                 "or call rightsize.lab_url() to start one")
        url = start_lab()
        state.write_text(json.dumps({"url": url, **identity()}), encoding="utf-8")
        return url
