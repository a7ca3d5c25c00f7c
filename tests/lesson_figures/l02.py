"""Figures lesson 02 states in prose, computed from the course's data."""

from __future__ import annotations

from functools import cache

import numpy as np

import rightsize.profiling as rp
from rightsize.profiling import prefill
from rightsize.registry import get_model

from . import Figure


def _c1_requests() -> int:
    return len(rp.load_recordings(rp.shipped_recordings()["smollm2-135m-c1"])[0].entries)


@cache
def _prefill() -> dict[str, float]:
    table = prefill.shipped()
    slopes = {s: float(np.polyfit(rows["input_tokens"], rows["ttft_ms"], 1)[0]) for s, rows in table.groupby("series")}
    longest = table[table["repeats"] == max(prefill.REPEATS)].set_index("series")
    return {"unique": slopes["unique"], "shared": slopes["shared"], "hidden": 1 - slopes["shared"] / slopes["unique"],
            "tokens": int(longest.loc["repeated", "input_tokens"]), "repeated_ms": longest.loc["repeated", "ttft_ms"],
            "unique_ms": longest.loc["unique", "ttft_ms"]}


def _longest_prompts_doubled() -> str:
    """How the two longest prompts of the shared series grew: each twice the one before, or not."""
    *_, a, b, c = prefill.REPEATS
    return "each doubled the one before" if b == 2 * a and c == 2 * b else "(the longest prompts no longer double)"


def _gpt5_family_temperature() -> float:
    """The one temperature the GPT-5 family takes (its default), the same for each member."""
    (fixed,) = {get_model(m).parameters.temperature.fixed for m in ("gpt-5", "gpt-5-mini")}
    assert fixed is not None, "the registry no longer fixes the GPT-5 family's temperature"
    return fixed


FIGURES: list[Figure] = [
    Figure("02", "On the shipped recording of {} sequential requests", _c1_requests),
    Figure("02", "The course ran both designs on its {}-core machine",
           lambda: int(prefill.read(prefill.shipped_path())[0]["machine"]["cores"]), note="the prefill run's header"),
    Figure("02", "the shared design reported {:.1f} ms per prompt token where a prompt of its own paid {:.1f} ms: "
           "it hid {:.0%} of the real cost", lambda: (_prefill()["shared"], _prefill()["unique"], _prefill()["hidden"])),
    Figure("02", "the repeated prompt of {:,} tokens had its first token after {:.0f} ms, against {:,.0f} ms for a "
           "prompt of that length of its own",
           lambda: (_prefill()["tokens"], _prefill()["repeated_ms"], _prefill()["unique_ms"])),
    Figure("02", "(the longest prompts {}, so about half of each was new)", _longest_prompts_doubled,
           note="prefill.REPEATS, the shared series' prompt lengths"),
    Figure("02", "the GPT-5 family takes only its default temperature ({:g})", _gpt5_family_temperature),
]
