"""Build the shipped evaluation cache (``src/rightsize/data/eval_cache``) from real runs.

Runs the local model over the triage and extraction sets exactly as ``rightsize eval triage``
and ``rightsize eval extraction`` do, and copies the per-item records into the package, so
learners' notebooks and graded runs read the same results offline in seconds. Every record is a
real answer with the latency measured here; each file's meta lines say when, on what CPU and at
what load average.

    python scripts/build_eval_cache.py                  # resume (reuses the work folder)
    python scripts/build_eval_cache.py --fresh          # measure everything again
    python scripts/build_eval_cache.py --only triage    # one task
    python scripts/build_eval_cache.py --only embeddings  # only the local model's embeddings + head

``--only embeddings`` measures the adapted tier alone (``rightsize.evals.embeddings``: the train and
dev vectors, then the test tickets embedded and classified one at a time), replaces only its files
in the shipped triage folder and prints the wall time and the load average around it; the other
triage records stay as they are.

It takes a while on a 2-core CPU (roughly 0.3-1 s per triage request, several seconds per
extraction on a quiet machine; far more on a busy one), so it works in ``--work`` (default
``build/eval-cache-work``) and can be stopped and resumed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
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
    parser.add_argument("--only", choices=["triage", "embeddings", "extraction"], action="append",
                        help="build only these tasks (repeatable; default triage and extraction, and "
                             "triage includes the embeddings)")
    parser.add_argument("--limit", type=int, default=None, help="first N items of each split (for a quick try)")
    args = parser.parse_args(argv)

    if args.fresh and args.work.exists():
        shutil.rmtree(args.work)
    args.work.mkdir(parents=True, exist_ok=True)
    # Measure, never read the old shipped results; write into the work folder.
    os.environ["RIGHTSIZE_CACHE"] = str(args.work)
    os.environ["RIGHTSIZE_EVAL_SHIPPED"] = "0"

    from rightsize.evals.suites import run_extraction_suite, run_triage_suite
    from rightsize.recordfile import machine_info

    tasks = args.only or ["triage", "extraction"]
    print(f"building {', '.join(tasks)} on {machine_info()}", flush=True)
    reports: dict[str, str] = {}
    for task in tasks:
        started = time.time()
        if task == "embeddings":
            _build_embeddings(args.work, args.limit)
            reports["triage"] = _shipped_triage_report(args.limit)
            (SHIPPED / "triage" / "report.txt").write_text(reports["triage"] + "\n", encoding="utf-8")
            print(f"\n{reports['triage']}\n", flush=True)
            continue
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
        if task == "triage":  # the table as a student's clean cache reads it back from the shipped records
            reports[task] = _shipped_triage_report(args.limit)
        (target / "report.txt").write_text(reports[task] + "\n", encoding="utf-8")
    _write_readme()

    total = sum(p.stat().st_size for pattern in ("*.jsonl", "*.npz") for p in SHIPPED.rglob(pattern))
    print(f"shipped cache: {total / 1e6:.2f} MB in {SHIPPED}", flush=True)
    if total > LIMIT_BYTES:
        print(f"warning: over the {LIMIT_BYTES / 1e6:.0f} MB budget; trim raw texts or items", file=sys.stderr)
        return 1
    return 0


_ADAPTED_FILES = "local-llm-embeddings-*"  # the vectors (.npz) and the run's records (.jsonl)


def _build_embeddings(work: Path, limit: int | None) -> None:
    """Measure the local model's embeddings + head on the test split; ship only its files."""
    from rightsize.datasets import load_triage
    from rightsize.evals import evaluate
    from rightsize.evals.embeddings import EmbeddingPredictor

    before = os.getloadavg()
    started = time.perf_counter()
    run = evaluate(EmbeddingPredictor(), load_triage("test").head(limit), progress=True)
    took = time.perf_counter() - started
    after = os.getloadavg()
    print(f"{run.name}: {run.n_correct}/{len(run)} correct, p50 {run.latency_p50 * 1000:.1f} ms, "
          f"p95 {run.latency_p95 * 1000:.1f} ms; {took:.1f} s wall ({run.meta['source']}); load average "
          f"(1, 5, 15 min) before {before[0]:.2f} {before[1]:.2f} {before[2]:.2f}, "
          f"after {after[0]:.2f} {after[1]:.2f} {after[2]:.2f}", flush=True)
    target = SHIPPED / "triage"
    target.mkdir(parents=True, exist_ok=True)
    for old in target.glob(_ADAPTED_FILES):
        old.unlink()
    for new in (work / "evals" / "triage").glob(_ADAPTED_FILES):
        shutil.copy2(new, target / new.name)


def _shipped_triage_report(limit: int | None) -> str:
    """The triage report as ``rightsize eval triage`` prints it from a clean user cache."""
    from rightsize.evals.suites import run_triage_suite

    saved = {name: os.environ.get(name) for name in ("RIGHTSIZE_CACHE", "RIGHTSIZE_EVAL_SHIPPED")}
    with tempfile.TemporaryDirectory() as clean:
        os.environ.update(RIGHTSIZE_CACHE=clean, RIGHTSIZE_EVAL_SHIPPED="1")
        try:
            return run_triage_suite(split="test", limit=limit).report()
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


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
        "`triage/local-llm-embeddings-*.npz` holds the local model's vectors of the train and dev tickets (llama.cpp's",
        "embedding mode, mean-pooled, float16, each timed, with the same machine and load description in its `meta`",
        "entry): the head of the tier `local LLM embeddings + logistic regression` trains on them offline",
        "(`rightsize.evals.embeddings`). Its test-split records are an ordinary `.jsonl` run beside them.",
        "",
    ]
    intro = {"triage": [
        "As `rightsize eval triage` prints them from a clean user cache (the classifier rows are measured afresh on",
        "every run; the local model's rows, its embeddings + head included, are the shipped records):",
        "",
    ]}
    for task in ("triage", "extraction"):
        report = SHIPPED / task / "report.txt"
        if report.is_file():
            parts += [f"## {task}", "", *intro.get(task, []), "```", report.read_text(encoding="utf-8").rstrip(),
                      "```", ""]
    (SHIPPED / "README.md").write_text("\n".join(parts), encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
