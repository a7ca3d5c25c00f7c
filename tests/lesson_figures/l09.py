"""Figures lesson 09 states in prose, computed from the course's data."""

from __future__ import annotations

from functools import cache
from typing import Any

from rightsize.datasets import load_triage
from rightsize.evals import paired_comparison, run_triage_suite
from rightsize.evals.cascades import DEFAULT_REVIEW_SECONDS
from rightsize.stats import StopRuleRisk, requests_for_false_stop, stop_rule_risk

from . import Figure

# the rule and the traffic of section 4: stop above 1.5x from 500 requests, a 1% baseline, a 5% canary
BASELINE_ERROR_RATE = 0.01
CANARY_SHARE = 0.05
PER_CANARY = (1 - CANARY_SHARE) / CANARY_SHARE
ACCEPTED_FALSE_STOP = 0.05
ROLLOUT_A_STOP = 800  # canary requests at rollout A's second hour, in the lesson's hourly counts
# the capstone's scenario
VOLUME_PER_DAY = 200_000
WRONG_TAG_USD = 0.10
DAYS_PER_MONTH = 30
MONTH = VOLUME_PER_DAY * DAYS_PER_MONTH


def _risk(canary_requests: int, min_requests: int = 500) -> StopRuleRisk:
    return stop_rule_risk(canary_requests, BASELINE_ERROR_RATE, baseline_requests=round(canary_requests * PER_CANARY),
                          max_ratio=1.5, min_requests=min_requests)


@cache
def _sized() -> int:
    return requests_for_false_stop(ACCEPTED_FALSE_STOP, BASELINE_ERROR_RATE, baseline_per_canary=PER_CANARY)


WORDS = {5: "five", 6: "six", 7: "seven", 8: "eight"}


def _at_500() -> tuple[int, int, float, str, float]:
    risk = _risk(500)
    assert risk.baseline_requests is not None
    return 500, risk.baseline_requests, risk.false_stop * 100, WORDS[round(1 / risk.false_stop)], risk.miss * 100


def _rollout_a_stop() -> tuple[int, float]:
    """Section 4's made-up rollout A is checked hourly; the rule from 500 requests first stops it at 800."""
    return ROLLOUT_A_STOP, _risk(ROLLOUT_A_STOP).false_stop * 100


def _at_sized() -> tuple[int, float]:
    size = _sized()
    return size, _risk(size, min_requests=size).miss * 100


def _canary_hours() -> tuple[int, float]:
    canary_per_hour = VOLUME_PER_DAY * CANARY_SHARE / 24
    return _sized(), _sized() / canary_per_hour


@cache
def _suite() -> Any:
    return run_triage_suite()


def _row(name: str) -> Any:
    return next(r for r in _suite().rows if r.name == name)


TFIDF = "TF-IDF + logistic regression"


def _interval(name: str) -> tuple[float, float, float]:
    ci = _row(name).accuracy_interval  # runs and cascades both give their Wilson interval
    return ci.estimate, ci.low, ci.high


def _wrong_tags(accuracy: float) -> float:
    return (1 - accuracy) * MONTH * WRONG_TAG_USD


def _tfidf_month() -> tuple[float, float]:
    accuracy, low, _ = _interval(TFIDF)
    assert _row(TFIDF).cost_per_10k == 0  # no model spend: the month is the wrong tags
    return _wrong_tags(accuracy), _wrong_tags(low)


def _paired(name: str) -> tuple[float, float, float]:
    test = paired_comparison(_row(name), _row(TFIDF))
    return test.difference, test.low, test.high


def _half_width() -> float:
    _, low, high = _interval(TFIDF)
    return (high - low) / 2 * 100


FIGURES: list[Figure] = [
    Figure("09", "Checked once at {} canary requests (against {:,} baseline requests), the rule stops an equally "
                 "good canary {:.1f}% of the time, about one rollout in {}", lambda: _at_500()[:4]),
    Figure("09", "lets a canary with twice the errors through {:.1f}% of the time", lambda: _at_500()[4]),
    Figure("09", "stopped in its second hour, at {} requests: a false stop. One check at that size stops an equally "
                 "good canary {:.1f}% of the time", _rollout_a_stop),
    Figure("09", "the canary needs {:,} requests, where it still misses a 2x worse canary {:.1f}% of the time",
           _at_sized),
    Figure("09", "a baseline that errs on {:.0%} of requests, and a canary on {:.0%} of traffic ({:g} baseline "
                 "requests per canary request)", lambda: (BASELINE_ERROR_RATE, CANARY_SHARE, round(PER_CANARY, 9))),
    Figure("09", "measured on the test split ({} tickets)", lambda: len(load_triage("test"))),
    Figure("09", "On the {} test tickets it tags {:.3f} [{:.2f}, {:.2f}]",
           lambda: (len(load_triage("test")), *_interval(TFIDF))),
    Figure("09", "about ${:,.0f} at the measured accuracy, and up to ${:,.0f} if the truth sits at the interval's low",
           _tfidf_month),
    Figure("09", "is right on {:.3f} [{:.2f}, {:.2f}] of tickets, but its p95 is {}",
           lambda: (*_interval("cascade: TF-IDF -> human review"),
                    "an hour" if DEFAULT_REVIEW_SECONDS == 3600 else "?")),
    Figure("09", "misses the budget (p95 about {:.1f} s) and is less accurate ({:.3f} [{:.2f}, {:.2f}])",
           lambda: (_row("local LLM few-shot k=4 + grammar").latency_p95, *_interval("local LLM few-shot k=4 + grammar"))),
    Figure("09", "right on only {:.3f} [{:.2f}, {:.2f}], which would cost about ${:,.0f} a month in wrong tags",
           lambda: (*_interval("rule gate (keywords)"), _wrong_tags(_interval("rule gate (keywords)")[0]))),
    Figure("09", "the review cascade is better by {:+.3f} [{:+.2f}, {:+.2f}]",
           lambda: _paired("cascade: TF-IDF -> human review")),
    Figure("09", "the rule gate worse by {:+.3f} [{:+.2f}, {:+.2f}]", lambda: _paired("rule gate (keywords)")),
    Figure("09", "known only to about {:.0f} points either way", _half_width),
    Figure("09", "each point of accuracy is worth about ${:,.0f} a month", lambda: 0.01 * MONTH * WRONG_TAG_USD),
    Figure("09", "At a 1% re-route rate it needs {:,} canary requests for at most 5% false stops: about {:.0f} hours at "
                 "200,000 messages a day", _canary_hours),
    Figure("09", "above +0.02 (two points, about ${:,.0f} a month)", lambda: 0.02 * MONTH * WRONG_TAG_USD),
]
