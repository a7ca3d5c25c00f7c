"""Shared fixtures: a private cache folder, a real lab server, and a scripted in-thread server."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_serve(args: list[str], **popen: object) -> tuple[subprocess.Popen[bytes], str]:
    """Run ``rightsize serve ARGS`` on a free port and wait for /health; returns (process, url)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen([sys.executable, "-m", "rightsize", "serve", *args, "--port", str(port)],
                            **popen)  # type: ignore[call-overload]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/health", timeout=0.5).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    pytest.fail(f"rightsize serve {' '.join(args)} did not start within 60 s")


@pytest.fixture(scope="session", autouse=True)
def _private_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Every test run writes caches and logs under a temporary folder, never the home folder."""
    old = os.environ.get("RIGHTSIZE_CACHE")
    os.environ["RIGHTSIZE_CACHE"] = str(tmp_path_factory.mktemp("rightsize-cache"))
    yield
    if old is None:
        os.environ.pop("RIGHTSIZE_CACHE", None)
    else:
        os.environ["RIGHTSIZE_CACHE"] = old


@pytest.fixture(scope="session")
def lab_server() -> Iterator[str]:
    """A real lab server (local model) on a free port; RIGHTSIZE_LAB_URL points at it."""
    log = open(Path(os.environ["RIGHTSIZE_CACHE"]) / "test-lab.log", "wb")
    proc, url = start_serve([], stdout=log, stderr=subprocess.STDOUT)
    old = os.environ.get("RIGHTSIZE_LAB_URL")
    os.environ["RIGHTSIZE_LAB_URL"] = url
    yield url
    proc.terminate()
    proc.wait(10)
    log.close()
    if old is None:
        os.environ.pop("RIGHTSIZE_LAB_URL", None)
    else:
        os.environ["RIGHTSIZE_LAB_URL"] = old


class ScriptedBackend:
    """A backend that answers with fixed tokens: for testing the server's protocol handling."""

    def __init__(self, tokens: list[str], model_id: str = "scripted", context_window: int = 512) -> None:
        self.tokens = tokens
        self._model_id = model_id
        self._context_window = context_window
        self.requests: list[object] = []

    @property
    def model_ids(self) -> list[str]:
        return [self._model_id]

    @property
    def context_window(self) -> int:
        return self._context_window

    def count_prompt_tokens(self, request: object) -> int:
        return sum(len(m["content"].split()) for m in request.messages)  # type: ignore[attr-defined]

    async def generate(self, request: object) -> AsyncIterator[object]:
        from rightsize.local_model import Finished, TokenEvent

        self.requests.append(request)
        out = self.tokens[: request.options.max_tokens]  # type: ignore[attr-defined]
        for token in out:
            await asyncio.sleep(0)
            yield TokenEvent(token, 1)
        reason = "length" if len(out) < len(self.tokens) else "stop"
        yield Finished(reason, self.count_prompt_tokens(request), len(out))


class ThreadServer:
    """Runs an ASGI app with uvicorn in a background thread."""

    def __init__(self, app: object) -> None:
        import uvicorn

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",  # type: ignore[arg-type]
                                access_log=False)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> "ThreadServer":
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(5)


@pytest.fixture
def scripted_server() -> Iterator[object]:
    """A factory: ``scripted_server(tokens, faults=FaultConfig(...))`` returns a running server."""
    from rightsize.server.app import create_app

    servers: list[ThreadServer] = []

    def make(tokens: list[str] | None = None, faults: object = None) -> ThreadServer:
        backend = ScriptedBackend(tokens or ["Hello", ",", " world", "!"])
        server = ThreadServer(create_app(backends=[backend], faults=faults))  # type: ignore[arg-type]
        server.backend = backend  # type: ignore[attr-defined]
        servers.append(server.__enter__())
        return server

    yield make
    for server in servers:
        server.__exit__()
