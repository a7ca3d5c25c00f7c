"""Make the recordings shipped in ``src/rightsize/data/recordings/`` from real runs of the local model.

Starts a lab server (the embedded SmolLM2-135M-Instruct) in its own process, profiles it over the
OpenAI protocol with a mix of short and long prompts and answers, once one request at a time and
once under load (a closed loop at concurrency 4, where requests queue for the one model), and
saves each run as a JSONL recording. Each file's header names the model, the machine (CPU model,
cores, load average), the date and the rightsize and llama-cpp-python versions: the timings are
this machine's, on that day. The lab server replays them as ``replay/<name>``.

    python scripts/record_local.py [--out src/rightsize/data/recordings] [--requests-c1 12] [--requests-c4 16]
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

import rightsize.profiling as rp
from rightsize import connect
from rightsize.profiling import Workload, WorkloadRequest

ROOT = Path(__file__).resolve().parent.parent

# (prompt, max_tokens): short and long questions, short and long answers
PROMPTS = [
    ("What is the capital of France?", 16),
    ("Write a short paragraph about why the sky is blue.", 64),
    ("List three uses of a paperclip.", 48),
    ("Explain in two sentences what a hash table is.", 64),
    ("Write a haiku about autumn.", 32),
    ("Summarize the plot of Romeo and Juliet in a few sentences.", 64),
    ("Give me a friendly one-line greeting for a customer support chat.", 24),
    ("Describe how a bicycle works to a ten-year-old.", 80),
    ("Translate 'good morning' into Spanish.", 12),
    ("My card was charged twice for one order. Classify this support ticket as billing, shipping or "
     "technical, and explain your choice in one sentence.", 40),
    ("Write a product description for a stainless steel water bottle that keeps drinks cold for a day.", 64),
    ("What is 12 times 7?", 8),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "src" / "rightsize" / "data" / "recordings"))
    parser.add_argument("--requests-c1", type=int, default=12)
    parser.add_argument("--requests-c4", type=int, default=16)
    args = parser.parse_args()
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "rightsize", "serve", "--port", str(port), "--log-level",
                               "warning"])
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(url + "/health", timeout=0.5).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        else:
            raise SystemExit("the lab server did not start")
        workload = Workload([WorkloadRequest([{"role": "user", "content": text}], None, {"max_tokens": n, "temperature": 0})
                             for text, n in PROMPTS])
        provider = connect("lab", base_url=url + "/v1", timeout=600, client="auto")  # under load, requests queue
        out = Path(args.out)
        for name, concurrency, requests in (("smollm2-135m-c1", 1, args.requests_c1),
                                            ("smollm2-135m-c4", 4, args.requests_c4)):
            report = rp.run_load(provider, workload, rp.load_shape(concurrency=concurrency, requests=requests,
                                                                   duration=1800), progress=True)
            if report.errors or report.interrupted:
                raise SystemExit(f"{name}: the run had errors or was interrupted, not saving: {report.errors}")
            note = (f"real run of the embedded local model (SmolLM2-135M-Instruct, Q4_1 GGUF, llama.cpp) behind the "
                    f"lab server, OpenAI protocol, streamed, greedy; closed loop at concurrency {concurrency}"
                    + (" (requests queue for the one model: the wait shows in time to first token)"
                       if concurrency > 1 else "") + ". Made by scripts/record_local.py; timings are this machine's.")
            path = report.save_recording(str(out / f"{name}.jsonl"), name=name, note=note)
            print(report)
            print(f"saved {path} ({Path(path).stat().st_size / 1024:.0f} KiB)\n")
    finally:
        server.terminate()
        server.wait(15)
    total = sum(p.stat().st_size for p in Path(args.out).glob("*.jsonl"))
    print(f"recordings total {total / 1024:.0f} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
