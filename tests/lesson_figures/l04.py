"""Figures lesson 04 states in prose, computed from the course's data."""

from __future__ import annotations

from rightsize.cost import DAYS_PER_MONTH, cost_table, request_cost
from rightsize.registry import get_model, list_models

from . import Figure

# the models and request size of the lesson's section 3 table
_MODELS = ["gemini-2.5-flash-lite", "gpt-4o-mini", "gpt-5-mini", "haiku", "gpt-4o", "sonnet", "gpt-5", "opus"]
_SIZE = (600, 150)


def _per_request() -> dict[str, float]:
    table = cost_table(_MODELS, *_SIZE)
    return {get_model(m).id: float(usd) for m, usd in zip(_MODELS, table["per_request"])}


def _passes_100(model: str) -> float:
    """Requests a day at which a month of the model passes $100 (reasoning included)."""
    return round(100 / (_per_request()[get_model(model).id] * DAYS_PER_MONTH))


def _output_over_input() -> tuple[float, float]:
    ratios = [m.price.output_per_mtok / m.price.input_per_mtok for m in list_models() if m.price.input_per_mtok > 0]
    return min(ratios), max(ratios)


def _reasoning_share() -> float:
    cost = request_cost("gpt-5-mini", _SIZE)
    assert cost.usd is not None and cost.reasoning_tokens is not None
    return cost.reasoning_tokens * get_model("gpt-5-mini").price.output_per_mtok / 1e6 / cost.usd


def _price(model: str) -> tuple[float, float]:
    price = get_model(model).price
    return price.input_per_mtok, price.output_per_mtok


FIGURES: list[Figure] = [
    Figure("04", "output costs from {:g} to {:.1f} times the input price", _output_over_input,
           "the lowest and highest output/input price ratio in the registry"),
    Figure("04", "GPT-5 passes it near {:,} requests a day, Opus near {:,}, Sonnet near {:,} and GPT-4o near {:,}",
           lambda: tuple(_passes_100(m) for m in ("gpt-5", "opus", "sonnet", "gpt-4o")),
           "where each monthly bill passes $100 at 600 tokens in and 150 out, reasoning included"),
    Figure("04", "GPT-5 mini near {:,} (its hidden reasoning included) and Haiku near {:,}",
           lambda: (_passes_100("gpt-5-mini"), _passes_100("haiku"))),
    Figure("04", "GPT-4o mini and Flash-Lite only near {:,} and {:,}",
           lambda: (_passes_100("gpt-4o-mini"), _passes_100("gemini-2.5-flash-lite"))),
    Figure("04", "the dearest costs {:.0f} times the cheapest per request here",
           lambda: max(_per_request().values()) / min(_per_request().values())),
    Figure("04", "At this request size, {:.0%} of GPT-5 mini's cost is reasoning nobody reads", _reasoning_share),
    Figure("04", "$2.50 per million input and $15 per million output tokens instead of ${:g} and ${:g}",
           lambda: _price("gemini-2.5-pro"), "the registry's Gemini 2.5 Pro price (prompts up to 200,000 tokens)"),
    Figure("04", "at $6 and $22.50 instead of ${:g} and ${:g}", lambda: _price("sonnet"),
           "the registry's Sonnet 4.5 price"),
    Figure("04", "(OpenAI's API names it `{}`)", lambda: get_model("gpt-5-mini").parameters.token_limit,
           "the registry's token limit name for GPT-5 mini, the model of the section"),
]
