"""How much does the profiler itself cost, and how fast can the load generator send?

Runs an "instant" server in its own process (a bare ASGI app on uvicorn that answers every
streaming request at once with a fixed 16-token answer, so every millisecond measured is the
client's) and prints, in one run:

1. The client's overhead per request: end-to-end latency at concurrency 1 through the profiler's
   lean client (``rightsize.profiling``) against a bare ``httpx`` streaming loop that only reads
   the bytes, and against a bare asyncio socket loop (the floor: same bytes, no HTTP library), interleaved in rounds so both see the same machine load; and the same through the
   official ``openai`` SDK adapter, for comparison. Also the client process's CPU time per request.
2. The highest open-loop request rate the load generator sustains: constant-rate runs at rising
   rates, each counted as sustained when every request succeeds, completions keep up with the
   offered rate (>= 95%), and the p95 send lag behind the schedule stays under 5 ms.

Targets: overhead under 1 ms per request at p50; at least 300 requests/s sustained.

    python benchmarks/bench_profiler.py [--requests 400] [--rates 100,200,300,400,600,800,1000,1200,1500,2000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import time

import httpx

TOKENS = 16


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _sse(data: dict, event: str | None = None) -> bytes:
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


def openai_body() -> bytes:
    base = {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 0, "model": "instant"}
    parts = [_sse({**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""},
                                        "finish_reason": None}]})]
    for i in range(TOKENS):
        parts.append(_sse({**base, "choices": [{"index": 0, "delta": {"content": f" tok{i}"},
                                                "finish_reason": None}]}))
    parts.append(_sse({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "length"}]}))
    parts.append(_sse({**base, "choices": [], "usage": {"prompt_tokens": 8, "completion_tokens": TOKENS,
                                                        "total_tokens": 8 + TOKENS}}))
    parts.append(b"data: [DONE]\n\n")
    return b"".join(parts)


def serve(port: int) -> None:
    """The instant server: a bare ASGI app, no framework, the answer precomputed."""
    import uvicorn

    body = openai_body()
    headers = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]

    async def app(scope, receive, send):  # type: ignore[no-untyped-def]
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        more = True
        while more:
            more = (await receive()).get("more_body", False)
        if scope["path"] == "/health":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"ok"})
            return
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False, http="httptools" if _has("httptools") else "h11",
                loop="uvloop" if _has("uvloop") else "asyncio")


def _has(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


async def bare_loop(url: str, n: int) -> list[float]:
    """The floor: httpx streaming the same request and reading every byte, nothing else."""
    body = json.dumps({"model": "instant", "messages": [{"role": "user", "content": "hi"}], "max_tokens": TOKENS,
                       "stream": True, "stream_options": {"include_usage": True}}).encode()
    headers = {"content-type": "application/json", "authorization": "Bearer x"}
    times = []
    async with httpx.AsyncClient(timeout=30) as client:
        async with client.stream("POST", url + "/v1/chat/completions", content=body, headers=headers) as r:
            await r.aread()  # warm the connection
        for _ in range(n):
            start = time.perf_counter()
            async with client.stream("POST", url + "/v1/chat/completions", content=body, headers=headers) as r:
                async for _chunk in r.aiter_raw():
                    pass
            times.append(time.perf_counter() - start)
    return times


async def socket_loop(url: str, n: int) -> list[float]:
    """The true floor: the same request over one kept-alive asyncio stream, reading the chunked body."""
    host, port = url.split("//", 1)[1].split(":")
    body = json.dumps({"model": "instant", "messages": [{"role": "user", "content": "hi"}], "max_tokens": TOKENS,
                       "stream": True, "stream_options": {"include_usage": True}}).encode()
    request = (f"POST /v1/chat/completions HTTP/1.1\r\nhost: {host}:{port}\r\ncontent-type: application/json\r\n"
               f"authorization: Bearer x\r\ncontent-length: {len(body)}\r\n\r\n").encode() + body
    reader, writer = await asyncio.open_connection(host, int(port))
    times = []
    for i in range(n + 1):
        start = time.perf_counter()
        writer.write(request)
        await reader.readuntil(b"\r\n\r\n")
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip(), 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
        if i:  # the first one warms the connection
            times.append(time.perf_counter() - start)
    writer.close()
    return times


def profiler_loop(url: str, n: int, client: str) -> list[float]:
    import rightsize.profiling as rp

    report = rp.profile("instant", "hi", base_url=url + "/v1", protocol="openai", client=client, concurrency=1,
                        requests=n, duration=120, max_tokens=TOKENS, progress=False)
    assert len(report.ok) == n, report.errors
    return [r.end_to_end for r in report.requests if r.end_to_end is not None]


def overhead(url: str, n: int, rounds: int) -> None:
    bare: list[float] = []
    floor: list[float] = []
    lean: list[float] = []
    sdk: list[float] = []
    cpu_lean = cpu_bare = 0.0
    per = max(1, n // rounds)
    for _ in range(rounds):
        c0 = time.process_time()
        bare += asyncio.run(bare_loop(url, per))
        floor += asyncio.run(socket_loop(url, per))
        c1 = time.process_time()
        lean += profiler_loop(url, per, "lean")
        c2 = time.process_time()
        sdk += profiler_loop(url, max(1, per // 2), "sdk")
        cpu_bare += c1 - c0  # includes the socket loop: reported per bare request below, an upper bound
        cpu_lean += c2 - c1
    ms = 1000
    print(f"1. client overhead per request, concurrency 1, {TOKENS}-token streamed answers "
          f"({len(bare)} bare / {len(lean)} lean / {len(sdk)} sdk requests, {rounds} interleaved rounds)")
    print(f"   bare asyncio socket    E2E p50 {statistics.median(floor) * ms:6.3f} ms   p90 {p(floor, 90) * ms:6.3f} ms"
          "   (the floor: same bytes, no HTTP library)")
    print(f"   bare httpx loop        E2E p50 {statistics.median(bare) * ms:6.3f} ms   p90 {p(bare, 90) * ms:6.3f} ms")
    print(f"   profiler, lean client  E2E p50 {statistics.median(lean) * ms:6.3f} ms   p90 {p(lean, 90) * ms:6.3f} ms")
    print(f"   profiler, openai SDK   E2E p50 {statistics.median(sdk) * ms:6.3f} ms   p90 {p(sdk, 90) * ms:6.3f} ms")
    over = (statistics.median(lean) - statistics.median(bare)) * ms
    print(f"   overhead of the profiler (lean) at p50: {over:.3f} ms per request "
          f"[target < 1 ms: {'MET' if over < 1 else 'NOT MET'}]")
    print(f"   overhead of the profiler (lean) over the bare socket floor at p50: "
          f"{(statistics.median(lean) - statistics.median(floor)) * ms:.3f} ms")
    print(f"   overhead of the SDK adapter over bare httpx at p50: "
          f"{(statistics.median(sdk) - statistics.median(bare)) * ms:.3f} ms")
    print(f"   client CPU per request (incl. warm-up and report): bare httpx + socket loops "
          f"{cpu_bare / len(bare) * ms:.3f} ms, profiler lean {cpu_lean / len(lean) * ms:.3f} ms")


def max_rate(url: str, rates: list[float], seconds: float) -> None:
    import rightsize.profiling as rp

    print(f"2. open-loop constant rate against the instant server, {seconds:g} s per rate "
          "(sustained = no errors, completions >= 95% of the rate, send lag behind the schedule p50 < 2 ms "
          "and p99 < 50 ms, i.e. no backlog)")
    best = 0.0
    for rate in rates:
        time.sleep(1)  # let the instant server and the machine settle between steps
        c0 = time.process_time()
        report = rp.profile("instant", "hi", base_url=url + "/v1", protocol="openai", rate=rate,
                            requests=int(rate * seconds), duration=seconds + 1, max_tokens=TOKENS, progress=False,
                            drain=10)
        cpu = time.process_time() - c0
        lag50 = report.percentile("send_lag_ms", 50) or 0.0
        lag95 = report.percentile("send_lag_ms", 95) or 0.0
        lag99 = report.percentile("send_lag_ms", 99) or 0.0
        achieved = report.request_throughput
        ok = not report.errors and achieved >= 0.95 * rate and lag50 < 2 and lag99 < 50
        best = rate if ok else best
        print(f"   {rate:6.0f} req/s offered: {achieved:7.1f} req/s completed, errors {sum(report.errors.values())}, "
              f"send lag p50 {lag50:5.2f} p95 {lag95:6.2f} p99 {lag99:6.2f} ms, E2E p50 {report.percentile('e2e_ms', 50):6.2f} ms, "
              f"client CPU {cpu / max(1, len(report.requests)) * 1000:.2f} ms/req -> "
              f"{'sustained' if ok else 'NOT sustained'}")
        if not ok and rate > best * 2 and best:
            break
    print(f"   highest sustained rate: {best:.0f} req/s [target >= 300: {'MET' if best >= 300 else 'NOT MET'}]")
    report = rp.profile("instant", "hi", base_url=url + "/v1", protocol="openai", concurrency=32, requests=3000,
                        duration=20, max_tokens=TOKENS, progress=False)
    print(f"   closed loop at concurrency 32: {report.request_throughput:.0f} req/s completed "
          f"({len(report.requests)} requests, errors {sum(report.errors.values())})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=400, help="requests per client in part 1")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--rates", default="100,200,300,400,600,800,1000,1200,1500,2000")
    parser.add_argument("--seconds", type=float, default=4.0, help="length of each rate step in part 2")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return 0
    port = free_port()
    server = subprocess.Popen([sys.executable, __file__, "--serve", str(port)])
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if httpx.get(url + "/health", timeout=0.5).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        import rightsize

        cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
                   platform.processor()) if os.path.exists("/proc/cpuinfo") else platform.processor()
        print(f"machine: {cpu}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}; "
              f"python {platform.python_version()}, rightsize {rightsize.__version__}, httpx {httpx.__version__}; "
              f"instant server in its own process (uvicorn, {'uvloop' if _has('uvloop') else 'asyncio'})")
        overhead(url, args.requests, args.rounds)
        max_rate(url, [float(r) for r in args.rates.split(",")], args.seconds)
    finally:
        server.terminate()
        server.wait(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
