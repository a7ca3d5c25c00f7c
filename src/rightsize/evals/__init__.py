"""The evaluation harness: run a model, a classifier or a router over a golden dataset and
report quality, latency and cost, cached on disk so notebooks re-run in seconds.

    from rightsize.datasets import load_triage
    from rightsize.evals import evaluate, compare, pareto_plot

    runs = [evaluate("local", load_triage("test"), mode=m) for m in ("zero_shot", "grammar", "few_shot")]
    compare(runs)                      # accuracy [Wilson 95%], parse/schema success, p50/p95 latency, $ per 10k
    paired_comparison(runs[2], runs[1])  # same items: difference [95% CI] and exact McNemar p-value
    runs[1].confusion(); runs[1].per_class()
    pareto_plot(runs, x="p95_latency")

This package holds the names a notebook uses; the rest lives in its module: :mod:`.core`
(``evaluate``, ``determinism``), :mod:`.records` (``EvalRun``), :mod:`.metrics` (accuracy,
confusion, calibration), :mod:`.predictors`, :mod:`.cache`, :mod:`.compare`, :mod:`.cascades`,
:mod:`.embeddings` (the adapted small model) and :mod:`.suites` (the tables ``rightsize eval`` prints).
"""

from __future__ import annotations

from .cascades import CascadeEval, HumanReview, build_cascade, tier_outcomes
from .compare import compare, paired_comparison, pareto_plot
from .core import determinism, evaluate
from .metrics import reliability_table
from .predictors import (
    ClassifierPredictor,
    ExtractionLLM,
    Predictor,
    RoutingLLM,
    TriageLLM,
)
from .records import EvalRun
from .suites import run_extraction_suite, run_triage_suite

__all__ = [
    "CascadeEval",
    "ClassifierPredictor",
    "EvalRun",
    "ExtractionLLM",
    "HumanReview",
    "Predictor",
    "RoutingLLM",
    "TriageLLM",
    "build_cascade",
    "compare",
    "determinism",
    "evaluate",
    "paired_comparison",
    "pareto_plot",
    "reliability_table",
    "run_extraction_suite",
    "run_triage_suite",
    "tier_outcomes",
]
