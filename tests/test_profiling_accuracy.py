"""The profiler against a server with known, injected delays: first token after d1, then one
token every d2. TTFT, TPOT and ITL at p50 and p95 must be within 2 ms or 3% of the injected
values (whichever is larger), at concurrency 1 and 16.

The delay server runs in its own process (so it never competes with the client for the GIL), as
a bare asyncio protocol, and schedules every token on an absolute clock from the moment the
request's bytes arrived: token i leaves at arrival + d1 + i * d2, so a late wake-up never shifts
the tokens after it. Run alone as
``python tests/test_profiling_accuracy.py PORT D1_MS D2_MS`` it serves on that port.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest


# Injected (time to first token, gap between tokens) in ms, per concurrency. The tolerance is the
# issue's (2 ms or 3%); the delays are long enough that 3% covers what the machine's other tenants
# do to a shared 2-core VM (stalls of a few ms; at 16 streams they hit whole batches of streams).
DELAYS_MS = {1: (250.0, 150.0), 16: (300.0, 200.0)}
TOKENS = 5
ATTEMPTS = {1: 3, 16: 4}  # a concurrency-16 run takes 5 s, a concurrency-1 run 17 s


def tolerance(value_ms: float) -> float:
    return max(2.0, 0.03 * value_ms)


def sse(data: dict) -> bytes:
    return f"data: {json.dumps(data)}\n\n".encode()


def http_chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


class DelayProtocol:
    """One connection of the delay server: a bare asyncio protocol, so nothing stands between a
    request's bytes arriving and its schedule being set. Every token is a timer at
    arrival + d1 + i * d2 (an absolute clock: one late wake-up does not shift the next token)."""

    def __init__(self, d1_ms: float, d2_ms: float) -> None:
        import asyncio

        self.d1_ms, self.d2_ms = d1_ms, d2_ms
        self.loop = asyncio.get_running_loop()
        self.buffer = b""
        self.transport = None

    def connection_made(self, transport):  # type: ignore[no-untyped-def]
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        arrived = self.loop.time()
        self.buffer += data
        while b"\r\n\r\n" in self.buffer:
            head, _, rest = self.buffer.partition(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            length = next((int(line.split(":", 1)[1]) for line in lines[1:]
                           if line.lower().startswith("content-length:")), 0)
            if len(rest) < length:
                return
            body, self.buffer = rest[:length], rest[length:]
            self.answer(lines[0].split(" ")[1], body, arrived)

    def answer(self, path: str, body: bytes, arrived: float) -> None:
        write = self.transport.write  # type: ignore[union-attr]
        if path == "/health":
            write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
            return
        tokens = min(TOKENS, json.loads(body or b"{}").get("max_tokens", TOKENS))
        base = {"id": "x", "object": "chat.completion.chunk", "created": 0, "model": "delay"}
        # headers and a role-only first chunk, at once: the role chunk is not a token
        write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
              + http_chunk(sse({**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""},
                                                     "finish_reason": None}]})))
        for i in range(tokens):
            piece = http_chunk(sse({**base, "choices": [{"index": 0, "delta": {"content": f" t{i}"},
                                                         "finish_reason": None}]}))
            if i == tokens - 1:
                piece += http_chunk(sse({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
                                    + sse({**base, "choices": [], "usage": {"prompt_tokens": 3,
                                                                          "completion_tokens": tokens,
                                                                          "total_tokens": 3 + tokens}})
                                    + b"data: [DONE]\n\n") + b"0\r\n\r\n"
            self.loop.call_at(arrived + (self.d1_ms + i * self.d2_ms) / 1000, write, piece)

    def connection_lost(self, exc):  # type: ignore[no-untyped-def]
        pass

    def eof_received(self):  # type: ignore[no-untyped-def]
        return False


def serve(port: int, d1_ms: float, d2_ms: float) -> None:
    import asyncio

    async def main() -> None:
        server = await asyncio.get_running_loop().create_server(lambda: DelayProtocol(d1_ms, d2_ms), "127.0.0.1",
                                                                port)
        await server.serve_forever()

    asyncio.run(main())


def _raise_priority() -> None:
    """The server's timing is the ground truth: on a shared machine, let it wake first when it can
    (root may raise a priority; anyone else keeps the default)."""
    try:
        os.nice(-10)
    except OSError:
        pass


@pytest.fixture(scope="module")
def delay_server() -> Iterator[Callable[[float, float], str]]:
    """Start (once per pair of delays) a delay server in its own process; returns its URL."""
    from conftest import free_port  # type: ignore[import-not-found]

    running: dict[tuple[float, float], tuple[subprocess.Popen[bytes], str]] = {}

    def start(d1_ms: float, d2_ms: float) -> str:
        if (d1_ms, d2_ms) in running:
            return running[d1_ms, d2_ms][1]
        port = free_port()
        proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), str(port), str(d1_ms), str(d2_ms)],
                                preexec_fn=_raise_priority)
        url = f"http://127.0.0.1:{port}"
        running[d1_ms, d2_ms] = (proc, url)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if httpx.get(url + "/health", timeout=0.5).status_code == 200:
                    return url
            except httpx.HTTPError:
                time.sleep(0.1)
        pytest.fail("the delay server did not start")

    yield start
    for proc, _ in running.values():
        proc.terminate()
        proc.wait(10)


def measure(url: str, concurrency: int, requests: int) -> dict:
    # The profiler runs as learners run it, from the command line, in its own process at the same
    # raised priority as the server: the test measures the instrument, not the machine's other tenants.
    run = subprocess.run(
        [sys.executable, "-m", "rightsize", "profile", "delay", "--base-url", url + "/v1",
         "--concurrency", str(concurrency), "--requests", str(requests), "--max-tokens", str(TOKENS),
         "--json", "--per-request", "--no-progress"],
        capture_output=True, text=True, timeout=120, preexec_fn=_raise_priority)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)  # type: ignore[no-any-return]


def misses(report: dict, d1_ms: float, d2_ms: float) -> list[str]:
    found = []
    for metric, injected in (("ttft_ms", d1_ms), ("tpot_ms", d2_ms), ("itl_ms", d2_ms)):
        for q in (50, 95):
            measured = report["metrics"][metric][f"p{q}"]
            if abs(measured - injected) > tolerance(injected):
                found.append(f"{metric} p{q}: measured {measured:.2f} ms, injected {injected} ms")
    return found


# Enough requests that p95 is a percentile, not the one request a busy machine happened to delay.
# The machine is shared (other builds, a hypervisor that steals time): a burst of someone else's
# load can stall the server or the client for a few milliseconds (and at concurrency 16 it stalls
# a whole batch of streams at once), so a run is repeated up to ATTEMPTS times; a profiler that
# is really off fails every attempt.
@pytest.mark.parametrize(("concurrency", "requests"), [(1, 20), (16, 64)])
def test_profiler_recovers_injected_delays(delay_server: Callable[[float, float], str], concurrency: int,
                                           requests: int) -> None:
    d1_ms, d2_ms = DELAYS_MS[concurrency]
    url = delay_server(d1_ms, d2_ms)
    failures = []
    for _ in range(ATTEMPTS[concurrency]):
        report = measure(url, concurrency, requests)
        rows = report["requests"]
        assert report["requests_ok"] == requests, report["errors"]
        assert all(r["output_tokens"] == TOKENS and r["output_tokens_source"] == "server" for r in rows)
        assert report["metrics"]["itl_ms"]["count"] == requests * (TOKENS - 1)  # the role chunk is not a token
        assert report["load"]["concurrency"] == concurrency
        found = misses(report, d1_ms, d2_ms)
        if not found:
            return
        failures.append("; ".join(found))
    pytest.fail(f"at concurrency {concurrency}, every attempt missed the tolerance:\n" + "\n".join(failures))


if __name__ == "__main__":
    serve(int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]))
