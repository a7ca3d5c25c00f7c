"""Figures lesson 00 states in prose, computed from the course's data."""

from __future__ import annotations

import rightsize as rs

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


FIGURES: list[Figure] = [
    Figure("00", "The dearest output price in the plot, {}'s \\${:g} per million tokens, is about {:.0f} times the "
                 "cheapest, {}'s \\${:.2f}", _output_spread,
           note="the registry's output prices, paid models that are not retired (the bars of the plot)"),
    Figure("00", "input prices span about {:.0f} times", _input_spread),
]
