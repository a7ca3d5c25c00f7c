"""Figures lesson 03 states in prose, computed from the course's data."""

from __future__ import annotations

import statistics
from functools import cache

import rightsize.profiling as rp

from . import Figure


@cache
def _report(name: str) -> rp.Report:
    return rp.load_recordings(rp.shipped_recordings()[name])[0].to_report()


def _recording(name: str) -> rp.Recording:
    return rp.load_recordings(rp.shipped_recordings()[name])[0]


def _cores() -> int:
    """The cores of the machine both shipped recordings were made on (their headers)."""
    (cores,) = {_recording(n).header["machine"]["cores"] for n in ("smollm2-135m-c1", "smollm2-135m-c4")}
    return int(cores)


def _c4_prompts() -> tuple[str, str]:
    """The concurrency-4 run's prompts: the concurrency-1 run's, then how many of them again."""
    words = {4: "four", 12: "twelve", 16: "sixteen"}
    ones = [e.messages[-1]["content"] for e in _recording("smollm2-135m-c1").entries]
    fours = [e.messages[-1]["content"] for e in _recording("smollm2-135m-c4").entries]
    again = len(fours) - len(ones)
    if fours != ones + ones[:again]:
        return "(the recordings no longer share their prompts)", ""
    return words.get(len(ones), str(len(ones))), words.get(again, str(again))


def _one() -> rp.Report:
    return _report("smollm2-135m-c1")


def _four() -> rp.Report:
    return _report("smollm2-135m-c4")


def _tokens(report: rp.Report) -> int:
    return sum(r.output_tokens or 0 for r in report.ok)


def _tpot_ms(report: rp.Report) -> list[float]:
    return [r.time_per_output_token * 1000 for r in report.ok if r.time_per_output_token is not None]


def _typical_tpot() -> float:
    return statistics.median(_tpot_ms(_one()) + _tpot_ms(_four()))


def _slow_requests() -> tuple[str, float, float]:
    """The concurrency-4 requests that decoded at more than twice the typical pace."""
    slow = [ms for ms in _tpot_ms(_four()) if ms > 2 * _typical_tpot()]
    words = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five"}
    return words.get(len(slow), str(len(slow))), min(slow), max(slow)


def _worst_gap() -> float:
    return max(gap for r in _four().ok for gap in r.inter_token_latencies) * 1000


def _fan_out() -> str:
    share = 1 - 0.99**50  # 50 parallel calls, each slow 1% of the time
    fifths = round(share * 5)
    return f"about {['no', 'one', 'two', 'three', 'four', 'five'][fifths]} page loads in five"


FIGURES: list[Figure] = [
    Figure("03", "{}-core machine: {} requests at concurrency 1 and {} at concurrency 4",
           lambda: (_cores(), len(_one().requests), len(_four().requests))),
    Figure("03", "(the concurrency-4 run sends the same {} prompts, then the first {} again)", _c4_prompts),
    Figure("03", "it fell, from {:.2f} to {:.2f} requests per second",
           lambda: (_one().request_throughput, _four().request_throughput)),
    Figure("03", "the two runs differ in size: {} requests against {}",
           lambda: (len(_one().requests), len(_four().requests))),
    Figure("03", "{} output tokens against {}", lambda: (_tokens(_one()), _tokens(_four()))),
    Figure("03", "and it fell too, from {:.1f} to {:.1f}",
           lambda: (_one().output_token_throughput, _four().output_token_throughput)),
    Figure("03", "decoded at about {:.0f} ms per token", _typical_tpot),
    Figure("03", "but {} of the concurrency-4 run took from {:.0f} to {:.0f} ms per token", _slow_requests),
    Figure("03", "one of them waited {:.0f} ms between two tokens", _worst_gap),
    Figure("03", "With 50 calls at a p99 of 2 s, {} wait longer than 2 s", _fan_out),
]
