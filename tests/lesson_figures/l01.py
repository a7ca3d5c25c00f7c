"""Figures lesson 01 states in prose, computed from the course's data."""

from __future__ import annotations

from functools import cache
from typing import Any

import rightsize.profiling as rp
from rightsize.cost import cost_table
from rightsize.evals import paired_comparison, run_triage_suite
from rightsize.evals.cascades import HumanReview
from rightsize.registry import get_model, list_models
from rightsize.stats import wilson_interval

from . import Figure

TFIDF = "TF-IDF + logistic regression"
REVIEW = "cascade: TF-IDF -> human review"
HEAD = "local LLM embeddings + logistic regression"
FEW_SHOT = "local LLM few-shot k=4 + grammar"
NEAREST = "nearest train ticket (few-shot retrieval alone)"
# the models of the cost section's table (its code cell)
COST_MODELS = ["gpt-4o-mini", "gemini-2.5-flash-lite", "gpt-5-mini", "haiku", "gemini-2.5-flash", "gpt-4o", "sonnet",
               "opus"]


@cache
def _local() -> rp.Report:
    """The shipped recording the lesson compares with the cited tier latencies."""
    return rp.load_recordings(rp.shipped_recordings()["smollm2-135m-c1"])[0].to_report()


def _c1_cores() -> int:
    """The cores of the machine the shipped concurrency-1 recording was made on (its header)."""
    return int(rp.load_recordings(rp.shipped_recordings()["smollm2-135m-c1"])[0].header["machine"]["cores"])


@cache
def _rows() -> dict[str, Any]:
    """The triage suite's rows by name (the shipped evaluation cache and the classifiers)."""
    return {row.name: row for row in run_triage_suite().rows}


def _items() -> int:
    return int(_rows()[TFIDF].summary()["items"])


def _tfidf() -> tuple[int, int, str]:
    summary = _rows()[TFIDF].summary()
    k, n = int(summary["n_correct"]), int(summary["items"])
    return k, n, wilson_interval(k, n).format(percent=True)


def _review_gain_points() -> tuple[int, int]:
    gain = paired_comparison(_rows()[REVIEW], _rows()[TFIDF])
    return round(gain.low * 100), round(gain.high * 100)


def _spans_zero(better: str, worse: str) -> str:
    gain = paired_comparison(_rows()[better], _rows()[worse])
    return "spans zero" if gain.low < 0 < gain.high else "excludes zero"


def _head_against_tfidf() -> str:
    return _spans_zero(HEAD, TFIDF)


def _cost_table_tiers() -> str:
    """Which tiers the cost section's table covers: every mid-tier model, and how many frontier ones."""
    ids = {get_model(m).id for m in COST_MODELS}
    mid = {m.id for m in list_models() if m.tier == "mid"}
    frontier = sum(1 for m in list_models() if m.tier == "frontier" and m.id in ids)
    words = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five"}
    if not mid <= ids:
        return "(the table no longer holds every mid-tier model of the registry)"
    return f"the registry's mid-tier models and {words.get(frontier, str(frontier))} of its frontier models"


def _flash_bills_reasoning() -> str:
    flash = get_model("gemini-2.5-flash")
    return flash.name if flash.reasoning.billed else "(the registry no longer bills Gemini 2.5 Flash's reasoning)"


def _review_turnaround() -> str:
    minutes = HumanReview().latency_s / 60
    return "an hour" if minutes == 60 else f"{minutes:g} minutes"


def _gpt5_mini_against_haiku() -> str:
    """The claim of the cost section: cheaper list prices, dearer requests once reasoning is billed."""
    mini, haiku = get_model("gpt-5-mini").price, get_model("haiku").price
    per_request = cost_table(["gpt-5-mini", "haiku"], 600, 150).set_index("model")["per_request"]
    cheaper_list = mini.input_per_mtok < haiku.input_per_mtok and mini.output_per_mtok < haiku.output_per_mtok
    if cheaper_list and per_request["gpt-5-mini"] > per_request["claude-haiku-4-5"]:
        return "its list prices are below Claude Haiku's, yet each of its requests costs more"
    return "(the registry no longer supports the claim about GPT-5 mini and Claude Haiku)"


FIGURES: list[Figure] = [
    Figure("01", "its own small model behind the lab server on a {}-core machine, {} requests one at a time",
           lambda: (_c1_cores(), len(_local().requests))),
    Figure("01", "The first token arrived after {:.0f} ms at the median", lambda: _local().percentile("ttft_ms", 50)),
    Figure("01", "a whole answer of about {:.0f} tokens took {:.0f} ms at the median",
           lambda: (_local().percentile("output_tokens", 50), _local().percentile("e2e_ms", 50))),
    Figure("01", "because {} tickets pin an accuracy down", _items),
    Figure("01", "got {} of {} test tickets right, {}", _tfidf),
    Figure("01", "with {} tickets it may be there by luck", _items),
    Figure("01", "(\\${:.2f} per ticket reviewed, an assumption)", lambda: HumanReview().cost_per_item),
    Figure("01", "the gain was measured on {} tickets", _items),
    Figure("01", "{} tickets cannot tell a gain of {} points from one of {}.",
           lambda: (_items(), *_review_gain_points())),
    Figure("01", "the paired interval of their difference {}", _head_against_tfidf),
    Figure("01", "but the tickets they send to a person wait {} and cost money", _review_turnaround),
    Figure("01", "Notice GPT-5 mini: {}", _gpt5_mini_against_haiku,
           note="at the cost section's 600 tokens in and 150 out"),
    Figure("01", "copying the label of the nearest train ticket (their paired interval {})",
           lambda: _spans_zero(FEW_SHOT, NEAREST), note="the few-shot local model against the nearest ticket alone"),
    Figure("01", "Here are {} at 600 tokens in", _cost_table_tiers),
    Figure("01", "hidden reasoning tokens (the table's `reasoning tokens`, the registry's stated assumption), and so "
                 "does {}", _flash_bills_reasoning),
]
