"""Figures lesson 00 states in prose, computed from the course's data."""

from __future__ import annotations

import rightsize as rs
from rightsize.cost import cost_table

from . import Figure


def _paid() -> list[rs.ModelInfo]:
    """The models the price plot shows: not retired, with a per-token price."""
    return [m for m in rs.list_models() if m.price.output_per_mtok > 0]


def _output_spread() -> tuple[str, float, float, str, float]:
    paid = _paid()
    dear = max(paid, key=lambda m: m.price.output_per_mtok)
    cheap = min(paid, key=lambda m: m.price.output_per_mtok)
    ratio = dear.price.output_per_mtok / cheap.price.output_per_mtok
    return dear.id, dear.price.output_per_mtok, ratio, cheap.id, cheap.price.output_per_mtok


def _input_spread() -> float:
    prices = [m.price.input_per_mtok for m in _paid()]
    return max(prices) / min(prices)


def _gpt5_against_gpt4o() -> tuple[str, str]:
    """GPT-5's input price as a share of GPT-4o's, and how its request compares at the cell's 600 in, 150 out."""
    gpt5, gpt4o = rs.get_model("gpt-5"), rs.get_model("gpt-4o")
    share = gpt5.price.input_per_mtok / gpt4o.price.input_per_mtok
    words = {0.5: "half", 0.25: "a quarter", 1.0: "the same as"}
    per_request = cost_table([gpt5.id, gpt4o.id], 600, 150).set_index("model")["per_request"]
    return words.get(share, f"{share:.0%}"), "dearer" if per_request[gpt5.id] > per_request[gpt4o.id] else "cheaper"


def _tier_name(alias: str) -> str:
    """How the lesson names the model behind a generic alias: the family, without its version number."""
    entry = rs.get_model(alias)
    if entry.provider == "local":
        return "the local model"
    family, _, last = entry.name.rpartition(" ")
    return family if last.replace(".", "").isdigit() else entry.name


FIGURES: list[Figure] = [
    Figure("00", "The dearest output price in the plot, {}'s \\${:g} per million tokens, is about {:.0f} times the "
                 "cheapest, {}'s \\${:.2f}", _output_spread,
           note="the registry's output prices, paid models that are not retired (the bars of the plot)"),
    Figure("00", "input prices span about {:.0f} times", _input_spread),
    Figure("00", "By list price GPT-5's input costs {} of GPT-4o's, yet its hidden reasoning tokens make each of its "
                 "requests {}", _gpt5_against_gpt4o, note="list prices, then cost_table at 600 tokens in and 150 out"),
    Figure("00", "`small` is {}, `mid` is {}, `frontier` is {}",
           lambda: (_tier_name("small"), _tier_name("mid"), _tier_name("frontier"))),
    Figure("00", "on the mid tier (`mid` is {})", lambda: _tier_name("mid")),
]
