"""How much does the lab server add to the local model's latency?

Runs the same prompt with the same settings (greedy, 64 output tokens) three ways, interleaved in
one run so all see the same machine load:
  - in-process: llama.cpp called directly through rightsize.local_model;
  - served, lean client: the lab server in its own process, its SSE stream read with the standard
    library's ``http.client`` (one ``json.loads`` per event): what the server itself adds;
  - served, openai SDK: the same server called with the official ``openai`` SDK, streaming: what a
    learner's notebook sees, the SDK's own per-chunk parsing included (on 2 cores that parsing
    competes with llama.cpp's threads for CPU, so it shows up in end-to-end time).
Prints the median and p90 time to first token and end-to-end latency of each, and the ratio of
end-to-end medians and the time to first token added, for both served columns.
Targets (for the server): at most 5% more end-to-end and at most 15 ms more time to first token.

    python benchmarks/bench_lab_server.py [--runs 15]
"""

from __future__ import annotations

import argparse
import http.client
import json
import socket
import statistics
import subprocess
import sys
import time

import httpx
import openai

from rightsize.local_model import MODEL_ID, TokenEvent, get_local_model

PROMPT = [{"role": "user", "content": "Write a long story about a lighthouse keeper and a storm."}]
MAX_TOKENS = 64


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def in_process() -> tuple[float, float, int]:
    model = get_local_model()
    sent = time.perf_counter()
    first = None
    tokens = 0
    for event in model.stream(PROMPT, max_tokens=MAX_TOKENS, temperature=0):
        if isinstance(event, TokenEvent):
            if first is None and event.text:
                first = time.perf_counter()
        else:
            tokens = event.completion_tokens
    end = time.perf_counter()
    return first - sent, end - sent, tokens


def served(client: openai.OpenAI) -> tuple[float, float, int]:
    sent = time.perf_counter()
    first = None
    tokens = 0
    stream = client.chat.completions.create(model=MODEL_ID, messages=PROMPT, max_tokens=MAX_TOKENS,
                                            temperature=0, stream=True, stream_options={"include_usage": True})
    for chunk in stream:
        if first is None and chunk.choices and chunk.choices[0].delta.content:
            first = time.perf_counter()
        if chunk.usage:
            tokens = chunk.usage.completion_tokens
    end = time.perf_counter()
    return first - sent, end - sent, tokens


def served_lean(port: int) -> tuple[float, float, int]:
    body = json.dumps({"model": MODEL_ID, "messages": PROMPT, "max_tokens": MAX_TOKENS, "temperature": 0,
                       "stream": True, "stream_options": {"include_usage": True}})
    conn = http.client.HTTPConnection("127.0.0.1", port)
    sent = time.perf_counter()
    conn.request("POST", "/v1/chat/completions", body, {"Content-Type": "application/json"})
    response = conn.getresponse()
    first = None
    tokens = 0
    while line := response.readline():
        if not line.startswith(b"data: {"):
            continue
        event = json.loads(line[6:])
        if first is None and event["choices"] and event["choices"][0]["delta"].get("content"):
            first = time.perf_counter()
        if event.get("usage"):
            tokens = event["usage"]["completion_tokens"]
    end = time.perf_counter()
    conn.close()
    return first - sent, end - sent, tokens


def summary(values: list[float]) -> str:
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, int(round(0.9 * (len(ordered) - 1))))]
    return f"median {statistics.median(values) * 1000:7.1f} ms   p90 {p90 * 1000:7.1f} ms"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "rightsize", "serve", "--port", str(port), "--log-level", "warning"])
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                if httpx.get(url + "/health", timeout=0.5).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        client = openai.OpenAI(base_url=url + "/v1", api_key="bench", max_retries=0)
        in_process(), served_lean(port), served(client)  # warm all: model load, prefix cache, imports
        local: list[tuple[float, float, int]] = []
        lean: list[tuple[float, float, int]] = []
        remote: list[tuple[float, float, int]] = []
        for _ in range(args.runs):
            local.append(in_process())
            lean.append(served_lean(port))
            remote.append(served(client))
    finally:
        server.terminate()
        server.wait(10)
    tokens = {t for *_, t in local + lean + remote}
    print(f"lab server overhead, {args.runs} interleaved runs, {MAX_TOKENS}-token answers "
          f"(output tokens seen: {sorted(tokens)})")
    print(f"  in-process llama.cpp       TTFT {summary([r[0] for r in local])}   E2E {summary([r[1] for r in local])}")
    print(f"  lab server, lean client    TTFT {summary([r[0] for r in lean])}   E2E {summary([r[1] for r in lean])}")
    print(f"  lab server, openai SDK     TTFT {summary([r[0] for r in remote])}   E2E {summary([r[1] for r in remote])}")
    base_e2e = statistics.median(r[1] for r in local)
    base_ttft = statistics.median(r[0] for r in local)
    for label, runs in (("lean client", lean), ("openai SDK", remote)):
        ratio = statistics.median(r[1] for r in runs) / base_e2e
        added = (statistics.median(r[0] for r in runs) - base_ttft) * 1000
        print(f"  {label:11s}: end-to-end ratio served/in-process {ratio:.3f} (target <= 1.05), "
              f"time to first token added {added:+.1f} ms (target <= 15 ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
