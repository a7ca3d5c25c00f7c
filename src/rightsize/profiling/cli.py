"""``rightsize profile``: measure a model's latency under load and print the report;
``rightsize cost``: compare models' list-price costs and find the self-hosting break-even.

Bad input (an unknown model, a negative rate, an unreachable server, a missing key) ends with
one line on stderr. Ctrl-C during a run prints the report of what was measured so far.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

from ..errors import RightsizeError


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "profile", help="measure TTFT, TPOT, ITL and end-to-end latency of a model under load",
        description="Profile a registry model (id or alias), or any model on an OpenAI- or Anthropic-compatible "
                    "server with --base-url. Closed loop with --concurrency, open loop with --rate.")
    p.add_argument("model", help="a registry id or alias (rightsize models), or a model name with --base-url")
    shape = p.add_argument_group("load shape (default: one request at a time)")
    shape.add_argument("--concurrency", metavar="N", help="closed loop: N requests in flight at all times")
    shape.add_argument("--rate", metavar="R", help="open loop: R requests per second, sent on the clock")
    shape.add_argument("--poisson", action="store_true", help="with --rate: Poisson arrivals instead of evenly spaced")
    shape.add_argument("--seed", default="0", metavar="S", help="seed of the Poisson arrivals (default 0)")
    shape.add_argument("--sweep", action="store_true",
                       help="closed-loop sweep: concurrency 1, 2, 4... until throughput stops improving or the SLO breaks")
    shape.add_argument("--max-concurrency", default="64", metavar="N", help="the sweep's last level (default 64)")
    shape.add_argument("--requests", metavar="N", help="send at most N requests (default 50; per level in a sweep)")
    shape.add_argument("--duration", metavar="TIME", help="run at most this long, e.g. 60s (default 300s)")
    what = p.add_argument_group("what to send")
    what.add_argument("--prompt", action="append", metavar="TEXT", help="a prompt (repeat for several; cycled)")
    what.add_argument("--prompts", metavar="FILE",
                      help="prompts to cycle: a text file (one per line) or JSONL (strings or {messages|prompt, system})")
    what.add_argument("--max-tokens", default="64", metavar="N", help="output tokens per request (default 64)")
    what.add_argument("--temperature", default="0", metavar="T", help="sampling temperature (default 0)")
    where = p.add_argument_group("where to send it")
    where.add_argument("--base-url", metavar="URL",
                       help="any compatible server, as its SDK takes it: http://host:8000/v1 for OpenAI protocol "
                            "(vLLM, Ollama, llama.cpp), http://host:port for Anthropic")
    where.add_argument("--protocol", choices=["openai", "anthropic"], help="the wire protocol of --base-url (default openai)")
    where.add_argument("--client", choices=["auto", "lean", "sdk"], default="auto",
                       help="lean: rightsize's httpx client (default for HTTP); sdk: the official SDKs")
    where.add_argument("--faults", metavar="SPEC", help="lab server only: X-Rightsize-Faults, e.g. rpm=60,cut_rate=0.1")
    where.add_argument("--timeout", default="120", metavar="SECONDS", help="per request (default 120)")
    out = p.add_argument_group("report")
    out.add_argument("--slo", action="append", metavar="NAME=TIME",
                     help="an objective for goodput, e.g. ttft=200ms, itl=50ms, tpot=40ms, e2e=3s (repeatable)")
    out.add_argument("--json", action="store_true", help="print the report as JSON")
    out.add_argument("--per-request", action="store_true", help="with --json or --csv: include every request")
    out.add_argument("--csv", metavar="FILE", help="also write the report as CSV")
    out.add_argument("--record", metavar="FILE", help="also save the run as a JSONL recording (replayable)")
    out.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(handler=run_profile)

    c = sub.add_parser("cost", help="compare list-price costs of models and the self-hosting break-even")
    c.add_argument("models", nargs="+", help="registry ids or aliases")
    c.add_argument("--input-tokens", required=True, metavar="N", help="input tokens per request")
    c.add_argument("--output-tokens", required=True, metavar="N", help="output tokens per request")
    c.add_argument("--per-day", default="1000", metavar="N", help="requests per day (default 1000)")
    c.add_argument("--server-cost", metavar="USD", help="monthly cost of a self-hosted server: print the break-even")
    c.add_argument("--json", action="store_true", help="print JSON")
    c.set_defaults(handler=run_cost)


def _number(value: str | None, name: str, *, integer: bool = False, positive: bool = True,
            allow_zero: bool = False) -> Any:
    if value is None:
        return None
    try:
        number = int(value) if integer else float(value)
    except ValueError:
        kind = "a whole number" if integer else "a number"
        raise RightsizeError(f"{name} must be {kind}, not {value!r}") from None
    if not math.isfinite(number) or (positive and (number < 0 or (number == 0 and not allow_zero))):
        raise RightsizeError(f"{name} must be {'zero or more' if allow_zero else 'more than zero'}, not {value}")
    return number


def _prompts(args: argparse.Namespace) -> list[Any] | None:
    prompts: list[Any] = list(args.prompt or [])
    if args.prompts:
        path = Path(args.prompts)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise RightsizeError(f"cannot read {path}: {exc.strerror or exc}") from None
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            if path.suffix == ".jsonl":
                try:
                    prompts.append(json.loads(line))
                except ValueError:
                    raise RightsizeError(f"{path}:{number}: not a JSON line") from None
            else:
                prompts.append(line)
    return prompts or None


def run_profile(args: argparse.Namespace) -> int:
    from ..providers import connect
    from .load import load_shape, run_load, sweep
    from .report import SLO
    from .workload import Workload

    concurrency = _number(args.concurrency, "--concurrency", integer=True)
    rate = _number(args.rate, "--rate")
    requests = _number(args.requests, "--requests", integer=True)
    duration = args.duration
    if args.poisson and rate is None:
        raise RightsizeError("--poisson needs --rate")
    if args.sweep and (rate is not None or concurrency is not None):
        raise RightsizeError("--sweep chooses the concurrency itself: drop --rate/--concurrency")
    if args.protocol and not args.base_url:
        raise RightsizeError("--protocol goes with --base-url (a registry model knows its protocol)")
    options = {"max_tokens": _number(args.max_tokens, "--max-tokens", integer=True),
               "temperature": _number(args.temperature, "--temperature", allow_zero=True)}
    slo = SLO.parse(args.slo)
    shape = None if args.sweep else load_shape(
        concurrency=concurrency, rate=rate, arrivals="poisson" if args.poisson else "constant",
        seed=_number(args.seed, "--seed", integer=True, positive=False), requests=requests, duration=duration)
    workload = Workload.of(_prompts(args), **options)
    headers = {"X-Rightsize-Faults": args.faults} if args.faults else None
    provider = connect(args.model, base_url=args.base_url,
                       protocol=args.protocol or ("openai" if args.base_url else None),
                       headers=headers, client=args.client, timeout=_number(args.timeout, "--timeout"))
    progress = not args.no_progress and sys.stderr.isatty()
    if args.sweep:
        result = sweep(provider, workload, max_concurrency=_number(args.max_concurrency, "--max-concurrency",
                                                                    integer=True),
                       requests_per_level=requests, duration_per_level=duration or 60.0, slo=slo, progress=progress)
        print(result.to_json() if args.json else result)
        if args.csv:
            result.to_csv(args.csv)
        return 130 if result.reports and result.reports[-1].interrupted else 0
    assert shape is not None
    report = run_load(provider, workload, shape, slo=slo, progress=progress)
    print(report.to_json(per_request=args.per_request) if args.json else report)
    if args.csv:
        report.to_csv(args.csv, per_request=args.per_request)
    if args.record:
        path = report.save_recording(args.record)
        print(f"recording: {path}", file=sys.stderr)
    return 130 if report.interrupted else 0


def run_cost(args: argparse.Namespace) -> int:
    from ..cost import break_even, cost_table

    input_tokens = _number(args.input_tokens, "--input-tokens", integer=True, allow_zero=True)
    output_tokens = _number(args.output_tokens, "--output-tokens", integer=True, allow_zero=True)
    per_day = _number(args.per_day, "--per-day", allow_zero=True)
    table = cost_table(args.models, input_tokens, output_tokens, per_day)
    evens = []
    if args.server_cost is not None:
        server = _number(args.server_cost, "--server-cost", allow_zero=True)
        for model in args.models:
            try:
                evens.append(str(break_even(server, model, input_tokens, output_tokens)))
            except RightsizeError as exc:
                evens.append(str(exc))
    if args.json:
        print(json.dumps({"table": table.to_dict(orient="records"), "attrs": table.attrs,
                          "break_even": evens}, indent=2, default=str))
        return 0
    print(f"{input_tokens} input + {output_tokens} output tokens per request, {per_day:g} requests/day, "
          f"month = 30 days, USD at list prices")
    shown = table[["model", "per_request", "per_1k_requests", "per_10k_requests", "per_month", "price_read_on",
                   "price_source"]]
    with __import__("pandas").option_context("display.max_colwidth", 60, "display.width", 200):
        print(shown.to_string(index=False, na_rep="unknown", float_format=lambda v: f"{v:,.6g}"))
    for line in evens:
        print(line)
    return 0
