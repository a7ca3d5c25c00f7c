"""The cost model: what requests cost at list prices from the registry, and when self-hosting pays.

Every figure names the price it came from (USD per million tokens, the day it was read and where),
because list prices change. A model without a known price (a model on your own endpoint, which
:func:`rightsize.providers.endpoint_model` registers with no price) is flagged as unknown, never
counted as free. The local and lab models cost nothing per token: you pay for the machine, which
:func:`break_even` weighs against an API's per-token prices.

Reasoning models (GPT-5, Gemini 2.5 Flash and Pro) also write hidden reasoning tokens, billed at
the output price. Usage is read two ways:

- a *measurement* (a :class:`~rightsize.providers.base.Usage`, a Response, or a usage dict): the
  server's ``output_tokens`` already hold the reasoning it billed, so nothing is added;
- a *plan* (an ``(input, output)`` pair, and the token counts given to :func:`cost_table`,
  :func:`monthly_cost` and :func:`break_even`): ``output`` is the visible answer, and the model's
  reasoning is added, by the registry's stated assumption (``reasoning.assumed_tokens_per_request``)
  unless you pass the real number as ``reasoning_tokens``.

    from rightsize import cost
    cost.request_cost("haiku", response.usage)
    cost.cost_table(["haiku", "sonnet", "gpt-4o-mini"], input_tokens=800, output_tokens=200,
                    requests_per_day=10_000)
    cost.cost_table(["gpt-5-mini"], 800, 200, reasoning_tokens={"gpt-5-mini": 1_200})  # measured
    cost.break_even(monthly_server_cost=600, model="sonnet", input_tokens=800, output_tokens=200)
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import RightsizeError
from .registry import ModelInfo, get_model

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["DAYS_PER_MONTH", "REASONING_BASES", "BreakEven", "Cost", "break_even", "cost_table", "monthly_cost",
           "price_known", "request_cost"]

#: a month in the cost model: 30 days (so per month = per day x 30)
DAYS_PER_MONTH = 30


def _model(model: str | ModelInfo) -> ModelInfo:
    return model if isinstance(model, ModelInfo) else get_model(model, allow_retired=True)


def price_known(model: str | ModelInfo) -> bool:
    """False for a model whose price the registry does not know (an endpoint model)."""
    info = _model(model)
    return info.provider != "endpoint" and info.price.read_on > dt.date(1970, 1, 1)


def _price_label(info: ModelInfo) -> str:
    if not price_known(info):
        return f"{info.id}: no known price (not in the registry)"
    p = info.price
    return (f"{info.id} list price ${p.input_per_mtok:g}/${p.output_per_mtok:g} per million input/output tokens, "
            f"read {p.read_on} ({p.source})")


#: how a cost's reasoning tokens were found
REASONING_BASES = {
    "none": "the model does not bill reasoning tokens on these requests",
    "assumed": "the registry's stated assumption per request (reasoning.source in models.yaml)",
    "given": "passed by the caller",
    "reported": "reported by the server, inside its output count",
    "measured": "unknown split: any reasoning is inside the measured output_tokens",
}


@dataclass(frozen=True)
class Cost:
    """A cost in USD with the price it came from; ``usd`` is None when the price is unknown.

    ``output_tokens`` is the visible answer; ``reasoning_tokens`` the hidden reasoning billed with
    it at the output price (None when a measured count does not say how much of it was reasoning);
    ``reasoning_basis`` says where that number came from (a key of :data:`REASONING_BASES`).
    """

    model: str
    usd: float | None
    input_tokens: int
    output_tokens: int
    price_read_on: dt.date | None
    price_source: str
    reasoning_tokens: int | None = 0
    reasoning_basis: str = "none"

    @property
    def known(self) -> bool:
        return self.usd is not None

    @property
    def billed_output_tokens(self) -> int:
        """Every output token billed: the answer plus the hidden reasoning."""
        return self.output_tokens + (self.reasoning_tokens or 0)

    def __float__(self) -> float:
        if self.usd is None:
            raise RightsizeError(f"the cost of {self.model} is unknown: the registry has no price for it")
        return self.usd

    def __str__(self) -> str:
        if self.usd is None:
            return f"unknown ({self.model} has no price in the registry)"
        reasoning = ""
        if self.reasoning_tokens:
            reasoning = (f", {self.reasoning_tokens} of its {self.billed_output_tokens} output tokens "
                         f"hidden reasoning ({self.reasoning_basis})")
        return f"${self.usd:.6f} ({self.model}{reasoning}, price read {self.price_read_on}: {self.price_source})"


def _count(value: Any, what: str) -> int:
    if value is None:
        raise RightsizeError("this usage has no token counts (the server reported none); pass (input, output) counts")
    if value < 0:
        raise RightsizeError(f"token counts cannot be negative: {what} = {value}")
    return int(value)


def _tokens(info: ModelInfo, usage: Any, reasoning_tokens: int | None) -> tuple[int, int, int | None, str]:
    """Input tokens, answer tokens, reasoning tokens and their basis, from a measurement or a plan."""
    if isinstance(usage, tuple | list):
        if len(usage) != 2:
            raise RightsizeError(f"a planned usage is an (input, output) pair, not {usage!r}")
        input_tokens, output_tokens = _count(usage[0], "input"), _count(usage[1], "output")
        if reasoning_tokens is not None:
            given = _count(reasoning_tokens, "reasoning_tokens")
            if given and not info.reasoning.billed:
                raise RightsizeError(f"{info.id} bills no hidden reasoning (its registry entry: reasoning.billed "
                                     "is false); leave reasoning_tokens out, or count them in output_tokens if "
                                     "its answers really hold them")
            return input_tokens, output_tokens, given, "given"
        if info.reasoning.billed:
            return input_tokens, output_tokens, info.reasoning.assumed_tokens_per_request, "assumed"
        return input_tokens, output_tokens, 0, "none"
    if hasattr(usage, "usage") and not isinstance(usage, dict):  # a Response
        usage = usage.usage
    if isinstance(usage, dict):
        counts = (usage.get("input_tokens"), usage.get("output_tokens"), usage.get("reasoning_tokens"))
    else:
        counts = tuple(getattr(usage, name, None) for name in ("input_tokens", "output_tokens", "reasoning_tokens"))
    input_tokens, output_tokens = _count(counts[0], "input"), _count(counts[1], "output")
    if reasoning_tokens is not None:
        raise RightsizeError("a measured usage already counts its reasoning in output_tokens; pass reasoning_tokens "
                             "only with a planned (input, output) pair")
    if counts[2] is None:
        return input_tokens, output_tokens, None, "measured"
    reported = _count(counts[2], "reasoning")
    if reported > output_tokens:
        raise RightsizeError(f"this usage has more reasoning tokens ({reported}) than output tokens "
                             f"({output_tokens}); the output count must include them")
    return input_tokens, output_tokens - reported, reported, "reported"


def request_cost(model: str | ModelInfo, usage: Any, *, reasoning_tokens: int | None = None) -> Cost:
    """The list-price cost of one request with this usage.

    ``usage`` is a measurement (a Usage, Response or usage dict: reasoning is already inside its
    output count) or a plan (an ``(input, output)`` pair of prompt and visible answer: the model's
    reasoning tokens are added, assumed from the registry unless ``reasoning_tokens`` gives them).
    """
    info = _model(model)
    input_tokens, output_tokens, reasoning, basis = _tokens(info, usage, reasoning_tokens)
    if not price_known(info):
        return Cost(info.id, None, input_tokens, output_tokens, None, "no known price", reasoning, basis)
    return Cost(info.id, info.cost(input_tokens, output_tokens + (reasoning or 0)), input_tokens, output_tokens,
                info.price.read_on, info.price.source, reasoning, basis)


def monthly_cost(model: str | ModelInfo, input_tokens: int, output_tokens: int, requests_per_day: float, *,
                 reasoning_tokens: int | None = None) -> Cost:
    """The cost of a month (``DAYS_PER_MONTH`` days) at a daily volume of identical planned requests."""
    one = request_cost(model, (input_tokens, output_tokens), reasoning_tokens=reasoning_tokens)
    month = None if one.usd is None else one.usd * requests_per_day * DAYS_PER_MONTH
    return Cost(one.model, month, input_tokens, output_tokens, one.price_read_on, one.price_source,
                one.reasoning_tokens, one.reasoning_basis)


def _reasoning_by_model(models: list[ModelInfo], given: Mapping[str, int] | None) -> dict[str, int]:
    """The caller's reasoning counts keyed by model id (a key may be any id or alias in the table)."""
    ids = {info.id for info in models}
    out: dict[str, int] = {}
    for name, tokens in (given or {}).items():
        model_id = _model(name).id
        if model_id not in ids:
            raise RightsizeError(f"reasoning_tokens names {name!r}, which is not in this table")
        out[model_id] = tokens
    return out


def cost_table(models: Iterable[str | ModelInfo], input_tokens: int, output_tokens: int,
               requests_per_day: float = 1000, *, reasoning_tokens: Mapping[str, int] | None = None) -> pd.DataFrame:
    """Compare models at one request size and volume: per request, per 1k, per 10k, per day, per month.

    ``output_tokens`` is the visible answer. For a model that bills hidden reasoning, the
    ``reasoning_tokens`` column adds the registry's stated assumption per request
    (``reasoning_basis`` "assumed", its source and date in ``reasoning_source``) unless
    ``reasoning_tokens={"gpt-5-mini": 1200}`` gives the real number for that model.
    Columns name the prices used (USD per million tokens), the day each was read and where;
    ``price_known`` is False (and the costs empty) for a model without a known price.
    """
    import pandas as pd

    if requests_per_day < 0:
        raise RightsizeError("requests_per_day cannot be negative")
    infos = [_model(model) for model in models]
    given = _reasoning_by_model(infos, reasoning_tokens)
    rows = []
    for info in infos:
        one = request_cost(info, (input_tokens, output_tokens), reasoning_tokens=given.get(info.id))
        usd = one.usd
        assumption = info.reasoning if one.reasoning_basis == "assumed" else None
        rows.append({
            "model": info.id,
            "input_per_mtok": info.price.input_per_mtok if one.known else None,
            "output_per_mtok": info.price.output_per_mtok if one.known else None,
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "reasoning_tokens": one.reasoning_tokens,
            "reasoning_basis": one.reasoning_basis,
            "reasoning_source": f"{assumption.as_of}: {assumption.source}" if assumption else None,
            "per_request": usd,
            "per_1k_requests": None if usd is None else usd * 1_000,
            "per_10k_requests": None if usd is None else usd * 10_000,
            "per_day": None if usd is None else usd * requests_per_day,
            "per_month": None if usd is None else usd * requests_per_day * DAYS_PER_MONTH,
            "price_known": one.known,
            "price_read_on": None if one.price_read_on is None else str(one.price_read_on),
            "price_source": one.price_source,
        })
    frame = pd.DataFrame(rows)
    frame.attrs.update({"currency": "USD", "requests_per_day": requests_per_day, "days_per_month": DAYS_PER_MONTH,
                        "note": "list prices from rightsize/models.yaml; see price_read_on and price_source. "
                                "Hidden reasoning tokens are billed as output: reasoning_tokens per request, "
                                "assumed per model unless given (see reasoning_basis and reasoning_source)",
                        "reasoning_bases": dict(REASONING_BASES)})
    return frame


@dataclass(frozen=True)
class BreakEven:
    """Where a fixed monthly server cost equals an API's per-token cost."""

    model: str
    monthly_server_cost: float
    cost_per_request: float
    requests_per_month: float  # above this volume, self-hosting is cheaper
    price_read_on: dt.date
    price_source: str
    server_capacity_rps: float | None = None
    reasoning_tokens: int = 0  # hidden reasoning billed per request, included in cost_per_request
    reasoning_basis: str = "none"

    @property
    def requests_per_day(self) -> float:
        return self.requests_per_month / DAYS_PER_MONTH

    @property
    def requests_per_second(self) -> float:
        return self.requests_per_month / (DAYS_PER_MONTH * 86_400)

    @property
    def within_capacity(self) -> bool | None:
        """Can the server carry the break-even volume (None when its capacity was not given)?"""
        if self.server_capacity_rps is None:
            return None
        return self.requests_per_second <= self.server_capacity_rps

    def api_cost(self, requests_per_month: float) -> float:
        return self.cost_per_request * requests_per_month

    def __str__(self) -> str:
        text = (f"self-hosting at ${self.monthly_server_cost:,.2f}/month pays above "
                f"{self.requests_per_month:,.0f} requests/month ({self.requests_per_day:,.0f}/day, "
                f"{self.requests_per_second:.3f}/s average) against {self.model} at "
                f"${self.cost_per_request:.6f} per request (price read {self.price_read_on}: {self.price_source})")
        if self.reasoning_tokens:
            text += f"; each request counts {self.reasoning_tokens} hidden reasoning tokens ({self.reasoning_basis})"
        if self.within_capacity is False:
            text += (f"; but that is more than the server's measured {self.server_capacity_rps:g} req/s, so one "
                     "server cannot carry it")
        return text


def break_even(monthly_server_cost: float, model: str | ModelInfo, input_tokens: int, output_tokens: int,
               *, server_capacity_rps: float | None = None, reasoning_tokens: int | None = None) -> BreakEven:
    """Requests per month above which a server at ``monthly_server_cost`` USD beats the API's prices.

    ``input_tokens``/``output_tokens`` are per request (prompt and visible answer; the model's hidden
    reasoning is added as in :func:`request_cost`). Give ``server_capacity_rps`` (measured with
    the profiler) to learn whether one server could even carry the break-even volume.
    """
    if not isinstance(monthly_server_cost, int | float) or not math.isfinite(monthly_server_cost) \
            or monthly_server_cost < 0:
        raise RightsizeError("monthly_server_cost must be a non-negative number of USD")
    info = _model(model)
    one = request_cost(info, (input_tokens, output_tokens), reasoning_tokens=reasoning_tokens)
    if one.usd is None:
        raise RightsizeError(f"{info.id} has no known price: compare against a registry model with a list price")
    if one.usd == 0:
        raise RightsizeError(f"{info.id} costs nothing per token ({info.price.source}); compare against a paid API")
    assert one.price_read_on is not None
    return BreakEven(info.id, float(monthly_server_cost), one.usd, monthly_server_cost / one.usd,
                     one.price_read_on, one.price_source, server_capacity_rps, one.reasoning_tokens or 0,
                     one.reasoning_basis)
