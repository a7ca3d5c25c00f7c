"""Build the shipped evaluation cache (``src/rightsize/data/eval_cache``) from real runs.

Runs the local model over the triage and extraction sets exactly as ``rightsize eval triage``
and ``rightsize eval extraction`` do, and copies the per-item records into the package, so
learners' notebooks and graded runs read the same results offline in seconds. Every record is a
real answer with the latency measured here; each file's meta lines say when, on what CPU and at
what load average.

    python scripts/build_eval_cache.py                  # resume (reuses the work folder)
    python scripts/build_eval_cache.py --fresh          # measure everything again
    python scripts/build_eval_cache.py --only triage    # one task

It takes a while on a 2-core CPU (roughly 0.3-1 s per triage request, several seconds per
extraction on a quiet machine; far more on a busy one), so it works in ``--work`` (default
``build/eval-cache-work``) and can be stopped and resumed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "src" / "rightsize" / "data" / "eval_cache"
LIMIT_BYTES = 2_000_000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, default=ROOT / "build" / "eval-cache-work",
                        help="folder for the runs in progress (RIGHTSIZE_CACHE during the build)")
    parser.add_argument("--fresh", action="store_true", help="delete the work folder first: measure everything again")
    parser.add_argument("--only", choices=["triage", "extraction"], action="append",
                        help="build only these tasks (repeatable; default both)")
    parser.add_argument("--limit", type=int, default=None, help="first N items of each split (for a quick try)")
    args = parser.parse_args(argv)

    if args.fresh and args.work.exists():
        shutil.rmtree(args.work)
    args.work.mkdir(parents=True, exist_ok=True)
    # Measure, never read the old shipped results; write into the work folder.
    os.environ["RIGHTSIZE_CACHE"] = str(args.work)
    os.environ["RIGHTSIZE_EVAL_SHIPPED"] = "0"

    from rightsize.evals.cache import machine_info
    from rightsize.evals.suites import run_extraction_suite, run_triage_suite

    tasks = args.only or ["triage", "extraction"]
    print(f"building {', '.join(tasks)} on {machine_info()}", flush=True)
    reports: dict[str, str] = {}
    for task in tasks:
        started = time.time()
        if task == "triage":
            reports[task] = run_triage_suite(split="test", progress=True, limit=args.limit).report()
        else:
            reports[task] = run_extraction_suite(split="test", progress=True, limit=args.limit,
                                                 prompt_versions=(2, 1)).report()
        print(f"\n{reports[task]}\n({task}: {time.time() - started:.0f} s)\n", flush=True)
        target = SHIPPED / task
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(args.work / "evals" / task, target)
        (target / "report.txt").write_text(reports[task] + "\n", encoding="utf-8")
    _write_readme()

    total = sum(p.stat().st_size for p in SHIPPED.rglob("*.jsonl"))
    print(f"shipped cache: {total / 1e6:.2f} MB in {SHIPPED}", flush=True)
    if total > LIMIT_BYTES:
        print(f"warning: over the {LIMIT_BYTES / 1e6:.0f} MB budget; trim raw texts or items", file=sys.stderr)
        return 1
    return 0


def _write_readme() -> None:
    """A README beside the shipped records: what they are, and the tables they produced."""
    parts = [
        "# Shipped evaluation results",
        "",
        "Per-item records of real runs of the local model (SmolLM2-135M-Instruct, in-process llama.cpp),",
        "written by `scripts/build_eval_cache.py`. `rightsize.evals.evaluate` reads them when your own",
        "cache (`~/.cache/rightsize/evals`) has no answer for the same model, mode, prompt version and text,",
        "options and dataset content, so notebooks and graded runs re-run offline in seconds.",
        "Set `RIGHTSIZE_EVAL_SHIPPED=0`, or pass `--refresh` to `rightsize eval`, to measure on your machine.",
        "",
        "Each `.jsonl` file starts with a `meta` line: when the records were measured, on what CPU, with how",
        "many cores and at what load average. Latencies were measured on that machine at that load; on a",
        "busy machine they are slower than on a quiet one, so compare tiers within one table, not across machines.",
        "",
    ]
    for task in ("triage", "extraction"):
        report = SHIPPED / task / "report.txt"
        if report.is_file():
            parts += [f"## {task}", "", "```", report.read_text(encoding="utf-8").rstrip(), "```", ""]
    (SHIPPED / "README.md").write_text("\n".join(parts), encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
