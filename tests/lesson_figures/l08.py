"""Figures lesson 08 states in prose, computed from the course's data."""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np

from rightsize.baselines import TfidfClassifier
from rightsize.datasets import load_routing, load_triage
from rightsize.evals import (
    evaluate,
    paired_comparison,
    reliability_table,
    run_triage_suite,
)
from rightsize.evals.cascades import DEFAULT_REVIEW_COST, DEFAULT_REVIEW_SECONDS
from rightsize.stats import format_p_value, wilson_interval

from . import Figure

WORDS = {5: "five", 6: "six", 7: "seven"}


@cache
def _classifier() -> TfidfClassifier:
    train = load_triage("train")
    return TfidfClassifier().fit([t.text for t in train], [t.category for t in train])


@cache
def _outcomes(split: str) -> tuple[np.ndarray, np.ndarray]:
    """The classifier's confidence and correctness on a split, as the lesson's section 2 records them."""
    run = evaluate(_classifier(), load_triage(split))
    return (np.array([r.confidence for r in run.records]), np.array([r.correct for r in run.records]))


def _bins(split: str) -> Any:
    conf, ok = _outcomes(split)
    table = reliability_table(conf, ok, bins=5)
    return table[table["items"] > 0].reset_index(drop=True)


def _bin(split: str, name: str) -> tuple[float, int]:
    row = _bins(split).set_index("bin").loc[name]
    return float(row["accuracy"]), int(row["items"])


def _lowest_bin_counts() -> int:
    counts = {int(_bins(split)["items"].iloc[0]) for split in ("dev", "test")}
    assert len(counts) == 1, counts  # the sentence says "on each split"
    return counts.pop()


def _big_bin_widths() -> tuple[int, float, float]:
    """The smallest count among the bins the sentence covers, and their intervals' narrowest and widest span."""
    least = 21
    widths = []
    for split in ("dev", "test"):
        for accuracy, items in zip(_bins(split)["accuracy"], _bins(split)["items"]):
            if items >= least:
                ci = wilson_interval(round(accuracy * items), int(items))
                widths.append((ci.high - ci.low) * 100)
    smallest_big = min(int(n) for s in ("dev", "test") for n in _bins(s)["items"] if n >= least)
    return smallest_big, min(widths), max(widths)


def _mean_conf_and_accuracy(split: str) -> tuple[float, float]:
    conf, ok = _outcomes(split)
    return float(conf.mean()), float(ok.mean())


@cache
def _suite() -> Any:
    return run_triage_suite()


def _row(name: str) -> Any:
    return next(r for r in _suite().rows if r.name == name)


def _llm_behind_classifier() -> tuple[float, float, float, str, int, int]:
    test = paired_comparison(_row("cascade: TF-IDF -> local LLM few-shot"), _row("TF-IDF + logistic regression"))
    return test.difference, test.low, test.high, format_p_value(test.p_value), test.only_a, test.only_b


def _llm_in_front_of_review() -> tuple[float, float]:
    cascade = _row("cascade: TF-IDF -> local LLM few-shot -> human review")
    (llm,) = [t for t in cascade.tiers if t.startswith("local LLM")]
    return cascade.share_by_tier[llm], cascade.thresholds[llm]


def _interval_span_near_90() -> float:
    n = len(load_triage("test"))
    ci = wilson_interval(round(0.9 * n), n)
    return (ci.high - ci.low) * 100


FIGURES: list[Figure] = [
    Figure("08", "trained in a moment on the {} training tickets", lambda: len(load_triage("train"))),
    Figure("08", "trained on {} labelled requests of the routing set", lambda: len(load_routing("dev"))),
    Figure("08", "scored on {} others", lambda: len(load_routing("test"))),
    Figure("08", "at an assumed ${:.2f} and {} per ticket",
           lambda: (DEFAULT_REVIEW_COST, "one hour" if DEFAULT_REVIEW_SECONDS == 3600 else "?")),
    Figure("08", "Apart from the lowest bin ({} tickets on each split)", _lowest_bin_counts),
    Figure("08", "On dev its mean confidence is {:.2f} while it is right on {:.0%} of tickets",
           lambda: _mean_conf_and_accuracy("dev")),
    Figure("08", "(test: {:.2f} against {:.0%})", lambda: _mean_conf_and_accuracy("test")),
    Figure("08", "honest on {} tickets and {} labels",
           lambda: (len(load_triage("train")), WORDS[len({t.category for t in load_triage("train")})])),
    Figure("08", "on dev, {:.0%} of the {} tickets in the 0.4-0.6 bin", lambda: _bin("dev", "0.4-0.6")),
    Figure("08", "{:.0%} of the {} in the 0.8-1.0 bin", lambda: _bin("dev", "0.8-1.0")),
    Figure("08", "even the bins of {} tickets or more have intervals {:.0f} to {:.0f} points wide", _big_bin_widths),
    Figure("08", "Over {} test tickets", lambda: len(load_triage("test"))),
    Figure("08", "the interval of an accuracy near 90% spans about {:.0f} points", _interval_span_near_90),
    Figure("08", "accuracy **falls**: {:+.3f} [{:+.2f}, {:+.2f}] against the classifier alone (p = {}, {} tickets "
           "only the cascade got right against {} only the classifier got right)", _llm_behind_classifier),
    Figure("08", "the local LLM answers {:.0%} of the test tickets: its threshold chosen on dev ({:.3f})",
           _llm_in_front_of_review),
]
