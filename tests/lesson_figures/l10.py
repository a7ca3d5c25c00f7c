"""Figures lesson 10 states in prose, computed from the course's data."""

from __future__ import annotations

from functools import cache
from typing import Any

from rightsize.datasets import load_triage
from rightsize.evals import paired_comparison, run_triage_suite
from rightsize.evals.embeddings import EmbeddingHead, triage_vectors
from rightsize.stats import format_p_value

from . import Figure

ADAPTED = "local LLM embeddings + logistic regression"
TFIDF = "TF-IDF + logistic regression"
FEW_SHOT = "local LLM few-shot k=4 + grammar"
WORDS = {5: "five", 6: "six", 7: "seven", 8: "eight", 9: "nine"}
ZERO_SHOT = "local LLM zero-shot"


@cache
def _suite() -> Any:
    return run_triage_suite()


def _run(name: str) -> Any:
    return next(r for r in _suite().runs if r.name == name)


def _interval(name: str) -> tuple[float, float, float]:
    ci = _run(name).accuracy_interval
    return ci.estimate, ci.low, ci.high


def _percent(name: str) -> float:
    return _run(name).accuracy * 100


@cache
def _head() -> EmbeddingHead:
    vectors = triage_vectors()
    train, dev = vectors["train"], vectors["dev"]
    return EmbeddingHead().fit(train.vectors, train.labels(), dev.vectors, dev.labels())


def _dev_right_range() -> tuple[int, int, int]:
    n = len(load_triage("dev"))
    right = [round(accuracy * n) for accuracy, _ in _head().dev_scores.values()]
    return min(right), max(right), n


def _embedding_wall_time() -> tuple[int, str]:
    vectors = triage_vectors()
    seconds = vectors.meta["wall_seconds"]
    assert vectors.meta["cores"] == 2
    return len(vectors["train"].ids) + len(vectors["dev"].ids), "a minute" if 40 <= seconds <= 90 else f"{seconds:.0f} s"


def _versus(a: str, b: str) -> Any:
    return paired_comparison(_run(a), _run(b))


def _half_widths() -> tuple[float, float]:
    widths = [(_interval(name)[2] - _interval(name)[1]) / 2 * 100 for name in (TFIDF, ADAPTED)]
    return min(widths), max(widths)


FIGURES: list[Figure] = [
    Figure("10", "one vector of {} numbers", lambda: triage_vectors()["train"].vectors.shape[1]),
    Figure("10", "trained on the vectors of the {} train tickets", lambda: len(load_triage("train"))),
    Figure("10", "chosen on the {} dev tickets; the {} test tickets are measured once",
           lambda: (len(load_triage("dev")), len(load_triage("test")))),
    Figure("10", "(embedding {} tickets takes about {} on a quiet 2-core CPU)", _embedding_wall_time),
    Figure("10", "The candidates get between {} and {} of the {} dev tickets right", _dev_right_range),
    Figure("10", "picking the best of {} is close to picking at random", lambda: WORDS[len(_head().dev_scores)]),
    Figure("10", "`run_triage_suite()` holds every tier on the {} test tickets", lambda: len(load_triage("test"))),
    Figure("10", "Adapting the model moves it from {:.3f} [{:.2f}, {:.2f}] with four retrieved examples",
           lambda: _interval(FEW_SHOT)),
    Figure("10", "to {:.3f} [{:.2f}, {:.2f}]", lambda: _interval(ADAPTED)),
    Figure("10", "from a p50 of {:.2f} s to {:.0f} ms (p95 {:.0f} ms)",
           lambda: (_run(FEW_SHOT).latency_p50, _run(ADAPTED).latency_p50 * 1000, _run(ADAPTED).latency_p95 * 1000)),
    Figure("10", "Zero-shot, the same model scores {:.3f}", lambda: _run(ZERO_SHOT).accuracy),
    Figure("10", "trained on the same {} labelled tickets, scores {:.3f} [{:.2f}, {:.2f}]",
           lambda: (len(load_triage("train")), *_interval(TFIDF))),
    Figure("10", "few-shot prompting wins {} tickets the adapted model loses and loses {} it wins (p = {})",
           lambda: (_versus(ADAPTED, FEW_SHOT).only_b, _versus(ADAPTED, FEW_SHOT).only_a,
                    format_p_value(_versus(ADAPTED, FEW_SHOT).p_value))),
    Figure("10", "The TF-IDF classifier wins {} and loses {} (p = {:.2f}): on {} tickets",
           lambda: (_versus(ADAPTED, TFIDF).only_b, _versus(ADAPTED, TFIDF).only_a, _versus(ADAPTED, TFIDF).p_value,
                    len(load_triage("test")))),
    Figure("10", "the difference's interval, {:+.3f} [{:+.2f}, {:+.2f}], still allows the TF-IDF classifier to be up "
                 "to {:.0f} points better, or the adapted model up to {:.0f} points better",
           lambda: (_versus(ADAPTED, TFIDF).difference, _versus(ADAPTED, TFIDF).low, _versus(ADAPTED, TFIDF).high,
                    -_versus(ADAPTED, TFIDF).low * 100, _versus(ADAPTED, TFIDF).high * 100)),
    Figure("10", "lifts it from {:.0f}% to {:.0f}% of tickets right and makes it {:.0f}x faster",
           lambda: (_percent(FEW_SHOT), _percent(ADAPTED), _run(FEW_SHOT).latency_p50 / _run(ADAPTED).latency_p50)),
    Figure("10", "(no detectable difference on {} tickets)", lambda: len(load_triage("test"))),
    Figure("10", "On {} tickets an accuracy is known to about {:.0f} to {:.0f} points either way",
           lambda: (len(load_triage("test")), *_half_widths())),
    Figure("10", "{} training tickets is a small set", lambda: len(load_triage("train"))),
]
