"""``rightsize eval``: the evaluation tables of the course, from one command each.

- ``rightsize eval triage``: rule gate, TF-IDF classifier, the local LLM zero-shot, with a
  grammar and few-shot, and two cascades, on the test split: accuracy with its Wilson 95%
  interval, p50/p95 latency, cost per 10,000 requests and the price date, then every tier paired
  with the TF-IDF classifier on the same tickets (difference, its interval, McNemar p-value);
- ``rightsize eval extraction``: parse and schema success and exact match (with its Wilson 95%
  interval) of the local model before and after each measure (lenient parse, retry, grammar);
- ``rightsize eval determinism``: the same prompt N times at temperature 0 (and, for contrast,
  at a higher temperature).

Model answers come from the evaluation cache when it has them (yours, then the results shipped
with the course); ``--refresh`` measures again on this machine.
"""

from __future__ import annotations

import argparse

__all__ = ["register"]


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser("eval", help="evaluate models and baselines on the golden datasets")
    tasks = parser.add_subparsers(dest="eval_task", metavar="TASK")

    triage = tasks.add_parser("triage", help="the triage tier table: rule gate, TF-IDF, local LLM, cascades")
    triage.add_argument("--split", default="test", choices=["dev", "test"], help="split to report on (default test)")
    triage.add_argument("--models", nargs="+", default=["local"],
                        help="registry models or aliases to run in every mode (default: local); each also becomes "
                             "the escalation tier of the cascades, so a cloud model here (it needs its key, e.g. "
                             "--models local haiku) gives TF-IDF -> cloud cascades, named as such")
    triage.add_argument("--modes", nargs="+", default=["zero_shot", "grammar", "few_shot"],
                        choices=["zero_shot", "grammar", "few_shot"], help="LLM modes to run")
    triage.add_argument("--review-cost", type=float, default=0.50,
                        help="ASSUMED cost in USD of a human reviewing one ticket (default 0.50)")
    triage.add_argument("--review-minutes", type=float, default=60.0,
                        help="ASSUMED turnaround of the review queue in minutes (default 60)")
    triage.add_argument("--target-accuracy", type=float, default=0.9,
                        help="accuracy each cascade tier must reach on dev items it accepts (default 0.9)")
    triage.add_argument("--limit", type=int, default=None, help="only the first N items of each split")
    triage.add_argument("--refresh", action="store_true", help="ignore cached answers and measure again")
    triage.add_argument("--quiet", action="store_true", help="no progress bars")
    triage.set_defaults(handler=_triage)

    extraction = tasks.add_parser("extraction", help="parse and schema success before/after lenient parse, retry, grammar")
    extraction.add_argument("--split", default="test", choices=["dev", "test"], help="split (default test)")
    extraction.add_argument("--model", default="local", help="model to evaluate (default local)")
    extraction.add_argument("--prompt-versions", nargs="+", type=int, default=[2, 1],
                            help="prompt versions for free-text runs; the first is also run with the grammar")
    extraction.add_argument("--limit", type=int, default=None, help="only the first N messages")
    extraction.add_argument("--refresh", action="store_true", help="ignore cached answers and measure again")
    extraction.add_argument("--quiet", action="store_true", help="no progress bars")
    extraction.set_defaults(handler=_extraction)

    det = tasks.add_parser("determinism", help="send one prompt N times and count the different answers")
    det.add_argument("--model", default="local", help="model (default local)")
    det.add_argument("-n", type=int, default=5, help="how many times (default 5)")
    det.add_argument("--prompt", default=None, help="the prompt (default: a triage ticket from the dev split)")
    det.add_argument("--max-tokens", type=int, default=48)
    det.add_argument("--contrast-temperature", type=float, default=0.8,
                     help="also run at this temperature, for contrast (0 to skip; default 0.8)")
    det.set_defaults(handler=_determinism)

    parser.set_defaults(handler=lambda args: (parser.print_help(), 2)[1])


def _triage(args: argparse.Namespace) -> int:
    from .cascades import HumanReview
    from .suites import run_triage_suite

    review = HumanReview(cost_per_item=args.review_cost, latency_s=args.review_minutes * 60)
    suite = run_triage_suite(split=args.split, models=args.models, modes=args.modes, review=review,
                             target_accuracy=args.target_accuracy, refresh=args.refresh,
                             progress=not args.quiet, limit=args.limit)
    print(suite.report())
    return 0


def _extraction(args: argparse.Namespace) -> int:
    from .suites import run_extraction_suite

    suite = run_extraction_suite(split=args.split, model=args.model, refresh=args.refresh,
                                 progress=not args.quiet, limit=args.limit, prompt_versions=args.prompt_versions)
    print(suite.report())
    return 0


def _determinism(args: argparse.Namespace) -> int:
    from ..datasets import load_triage
    from .core import determinism

    prompt = args.prompt or f"Which team should handle this support ticket?\n\n{load_triage('dev')[0].text}"
    runs = [determinism(args.model, prompt, n=args.n, temperature=0.0, max_tokens=args.max_tokens)]
    if args.contrast_temperature > 0:
        runs.append(determinism(args.model, prompt, n=args.n, temperature=args.contrast_temperature,
                                max_tokens=args.max_tokens))
    print(f"prompt: {prompt!r}\n")
    for report in runs:
        print(report)
        for answer, count in report.counts.most_common():
            print(f"  {count}x {answer[:100]!r}")
    return 0
