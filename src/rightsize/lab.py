"""Finding, or starting, the course's lab server, so notebooks need nothing started by hand.

:func:`lab_url` returns the URL of a running lab server: the one named by ``RIGHTSIZE_LAB_URL``
if set, else ``http://127.0.0.1:8321``. When nothing answers there it starts one in the
background (``python -m rightsize serve``), waits for ``/health`` and returns. A server started
this way stops by itself after ``RIGHTSIZE_LAB_IDLE_EXIT`` seconds without requests (default 30
minutes), so executed notebooks leave nothing running for long.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from .errors import RightsizeError

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "cache_dir", "lab_is_up", "lab_url", "start_lab"]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8321


def cache_dir() -> Path:
    """Where rightsize keeps logs, caches and results (``RIGHTSIZE_CACHE`` overrides)."""
    path = Path(os.environ.get("RIGHTSIZE_CACHE", Path.home() / ".cache" / "rightsize"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def lab_is_up(url: str, timeout: float = 0.5) -> bool:
    """True when a rightsize lab server answers ``/health`` at ``url``."""
    try:
        reply = httpx.get(url.rstrip("/") + "/health", timeout=timeout)
    except httpx.HTTPError:
        return False
    return reply.status_code == 200 and reply.json().get("service") == "rightsize-lab"


def start_lab(port: int = DEFAULT_PORT, host: str = DEFAULT_HOST, wait: float = 90.0) -> str:
    """Start a lab server in the background and wait until it answers; returns its URL."""
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
        if lab_is_up(url):
            return url
        if process.poll() is not None and not lab_is_up(url):
            # another process may have won the race for the port: give it a moment
            time.sleep(0.5)
            if lab_is_up(url):
                return url
            raise RightsizeError(
                f"the lab server did not start (exit code {process.returncode}); "
                f"see {log_path}. Is port {port} taken? Set RIGHTSIZE_LAB_URL to use another."
            )
        time.sleep(0.2)
    raise RightsizeError(f"the lab server did not answer on {url} within {wait:.0f}s; see {log_path}")


def lab_url(start: bool = True) -> str:
    """The URL of a running lab server, starting one if needed (and ``start`` is true)."""
    url = os.environ.get("RIGHTSIZE_LAB_URL", f"http://{DEFAULT_HOST}:{DEFAULT_PORT}").rstrip("/")
    if lab_is_up(url):
        return url
    if not start:
        raise RightsizeError(f"no lab server answers on {url}: run `rightsize serve`")
    host_port = url.split("://", 1)[-1]
    host, _, port = host_port.partition(":")
    if host not in ("127.0.0.1", "localhost"):
        raise RightsizeError(f"no lab server answers on {url}, and rightsize only starts one locally")
    return start_lab(int(port or DEFAULT_PORT), DEFAULT_HOST)
