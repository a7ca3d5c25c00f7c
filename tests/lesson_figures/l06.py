"""Figures lesson 06 states in prose, computed from the course's data."""

from __future__ import annotations

import math
from functools import cache
from typing import Any

from rightsize.datasets import load_triage, triage_labels
from rightsize.evals import paired_comparison, run_triage_suite
from rightsize.stats import format_p_value, wilson_interval

from . import Figure

REFERENCE = "TF-IDF + logistic regression"
PROMPTED = ("local LLM zero-shot", "local LLM grammar (JSON enum)", "local LLM few-shot k=4 + grammar")


@cache
def _runs() -> dict[str, Any]:
    return {run.name: run for run in run_triage_suite().runs}


def _p(name: str) -> float:
    runs = _runs()
    return paired_comparison(runs[name], runs[REFERENCE]).p_value


def _below(p: float) -> str:
    """The bound the lesson quotes for the largest of several p-values."""
    return "0.0001" if p < 0.0001 else format_p_value(p)


def _standard_errors() -> tuple[float, float]:
    test = len(load_triage("test"))
    return 100 * math.sqrt(0.9 * 0.1 / 50), 100 * math.sqrt(0.8 * 0.2 / test)


def _illustrative_low() -> tuple[float, float]:
    interval = wilson_interval(106, len(load_triage("test")))  # the lesson's illustrative gpt-4o-mini row
    return interval.estimate, interval.low


FIGURES: list[Figure] = [
    Figure("06", "has {:,} short support tickets with {} labels", lambda: (len(load_triage()), len(triage_labels()))),
    Figure("06", "Measure the same model on another {} tickets of the same kind", lambda: len(load_triage("test"))),
    Figure("06", "at 90% on 50 items, about {:.0f} points; at 80% on {}, about {:.1f}",
           lambda: (_standard_errors()[0], len(load_triage("test")), _standard_errors()[1]),
           "the textbook standard error sqrt(p(1-p)/n) at the sizes the lesson names"),
    Figure("06", "the paired test above gives p below {} in each of those rows",
           lambda: _below(max(_p(name) for name in PROMPTED)),
           "TF-IDF against the local model in each prompting mode, exact McNemar test"),
    Figure("06", "the paired test cannot tell them from TF-IDF on these items (p = {})",
           lambda: format_p_value(_p("local LLM embeddings + logistic regression"))),
    Figure("06", "a tier measured at {:.2f} on 118 items has an interval reaching down to {:.2f}", _illustrative_low),
]
