"""The evaluation harness: run a model, a classifier or a router over a golden dataset and
report quality, latency and cost, cached on disk so notebooks re-run in seconds.

    from rightsize.datasets import load_triage
    from rightsize.evals import evaluate, compare, pareto_plot

    runs = [evaluate("local", load_triage("test"), mode=m) for m in ("zero_shot", "grammar", "few_shot")]
    compare(runs)                      # accuracy [Wilson 95%], parse/schema success, p50/p95 latency, $ per 10k
    paired_comparison(runs[2], runs[1])  # same items: difference [95% CI] and exact McNemar p-value
    runs[1].confusion(); runs[1].per_class()
    pareto_plot(runs, x="p95_latency")

Modules: :mod:`.core` (``evaluate``, ``determinism``), :mod:`.records` (``EvalRun``),
:mod:`.metrics`, :mod:`.predictors`, :mod:`.cache`, :mod:`.compare`, :mod:`.cascades`,
:mod:`.suites` (the tables ``rightsize eval`` prints).
"""

from __future__ import annotations

from .cache import EvalCache, cache_key
from .cascades import CascadeEval, HumanReview, build_cascade, tier_outcomes
from .compare import (
    compare,
    compare_items,
    format_latency,
    paired_comparison,
    pareto_front,
    pareto_plot,
)
from .core import DeterminismReport, as_predictor, determinism, evaluate
from .metrics import (
    accuracy,
    confusion_matrix,
    expected_calibration_error,
    field_matches,
    per_class_report,
    percentile,
    reliability_table,
)
from .predictors import (
    ClassifierPredictor,
    ExtractionLLM,
    Predictor,
    RouterPredictor,
    RoutingLLM,
    TriageLLM,
    label_confidence,
    parse_label,
)
from .records import EvalRun, ItemRecord
from .suites import extraction_table, run_extraction_suite, run_triage_suite

__all__ = [
    "CascadeEval",
    "ClassifierPredictor",
    "DeterminismReport",
    "EvalCache",
    "EvalRun",
    "ExtractionLLM",
    "HumanReview",
    "ItemRecord",
    "Predictor",
    "RouterPredictor",
    "RoutingLLM",
    "TriageLLM",
    "accuracy",
    "as_predictor",
    "build_cascade",
    "cache_key",
    "compare",
    "compare_items",
    "confusion_matrix",
    "determinism",
    "evaluate",
    "expected_calibration_error",
    "extraction_table",
    "field_matches",
    "format_latency",
    "label_confidence",
    "paired_comparison",
    "pareto_front",
    "pareto_plot",
    "parse_label",
    "per_class_report",
    "percentile",
    "reliability_table",
    "run_extraction_suite",
    "run_triage_suite",
    "tier_outcomes",
]
