"""The cost model: what requests cost at list prices from the registry, and when self-hosting pays.

Every figure names the price it came from (USD per million tokens, the day it was read and where),
because list prices change. A model without a known price (a model on your own endpoint, which
:func:`rightsize.providers.endpoint_model` registers with no price) is flagged as unknown, never
counted as free. The local and lab models cost nothing per token: you pay for the machine, which
:func:`break_even` weighs against an API's per-token prices.

    from rightsize import cost
    cost.request_cost("haiku", response.usage)
    cost.cost_table(["haiku", "sonnet", "gpt-4o-mini"], input_tokens=800, output_tokens=200,
                    requests_per_day=10_000)
    cost.break_even(monthly_server_cost=600, model="sonnet", input_tokens=800, output_tokens=200)
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import RightsizeError
from .registry import ModelInfo, get_model

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["DAYS_PER_MONTH", "BreakEven", "Cost", "break_even", "cost_table", "monthly_cost", "price_known",
           "request_cost"]

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


@dataclass(frozen=True)
class Cost:
    """A cost in USD with the price it came from; ``usd`` is None when the price is unknown."""

    model: str
    usd: float | None
    input_tokens: int
    output_tokens: int
    price_read_on: dt.date | None
    price_source: str

    @property
    def known(self) -> bool:
        return self.usd is not None

    def __float__(self) -> float:
        if self.usd is None:
            raise RightsizeError(f"the cost of {self.model} is unknown: the registry has no price for it")
        return self.usd

    def __str__(self) -> str:
        if self.usd is None:
            return f"unknown ({self.model} has no price in the registry)"
        return f"${self.usd:.6f} ({self.model}, price read {self.price_read_on}: {self.price_source})"


def _tokens(usage: Any) -> tuple[int, int]:
    """Input and output tokens from a Usage, a Response, a dict or an (input, output) pair."""
    if hasattr(usage, "usage") and not isinstance(usage, dict):  # a Response
        usage = usage.usage
    if isinstance(usage, dict):
        pair = (usage.get("input_tokens"), usage.get("output_tokens"))
    elif isinstance(usage, tuple | list) and len(usage) == 2:
        pair = (usage[0], usage[1])
    else:
        pair = (getattr(usage, "input_tokens", None), getattr(usage, "output_tokens", None))
    if pair[0] is None or pair[1] is None:
        raise RightsizeError("this usage has no token counts (the server reported none); pass (input, output) counts")
    if pair[0] < 0 or pair[1] < 0:
        raise RightsizeError(f"token counts cannot be negative: {pair}")
    return int(pair[0]), int(pair[1])


def request_cost(model: str | ModelInfo, usage: Any) -> Cost:
    """The list-price cost of one request with this usage (a Usage, Response, dict or (in, out) pair)."""
    info = _model(model)
    input_tokens, output_tokens = _tokens(usage)
    if not price_known(info):
        return Cost(info.id, None, input_tokens, output_tokens, None, "no known price")
    return Cost(info.id, info.cost(input_tokens, output_tokens), input_tokens, output_tokens,
                info.price.read_on, info.price.source)


def monthly_cost(model: str | ModelInfo, input_tokens: int, output_tokens: int, requests_per_day: float) -> Cost:
    """The cost of a month (``DAYS_PER_MONTH`` days) at a daily volume of identical requests."""
    one = request_cost(model, (input_tokens, output_tokens))
    month = None if one.usd is None else one.usd * requests_per_day * DAYS_PER_MONTH
    return Cost(one.model, month, input_tokens, output_tokens, one.price_read_on, one.price_source)


def cost_table(models: Iterable[str | ModelInfo], input_tokens: int, output_tokens: int,
               requests_per_day: float = 1000) -> pd.DataFrame:
    """Compare models at one request size and volume: per request, per 1k, per 10k, per day, per month.

    Columns name the prices used (USD per million tokens), the day each was read and where;
    ``price_known`` is False (and the costs empty) for a model without a known price.
    """
    import pandas as pd

    if requests_per_day < 0:
        raise RightsizeError("requests_per_day cannot be negative")
    rows = []
    for model in models:
        info = _model(model)
        one = request_cost(info, (input_tokens, output_tokens))
        usd = one.usd
        rows.append({
            "model": info.id,
            "input_per_mtok": info.price.input_per_mtok if one.known else None,
            "output_per_mtok": info.price.output_per_mtok if one.known else None,
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
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
                        "note": "list prices from rightsize/models.yaml; see price_read_on and price_source"})
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
        if self.within_capacity is False:
            text += (f"; but that is more than the server's measured {self.server_capacity_rps:g} req/s, so one "
                     "server cannot carry it")
        return text


def break_even(monthly_server_cost: float, model: str | ModelInfo, input_tokens: int, output_tokens: int,
               *, server_capacity_rps: float | None = None) -> BreakEven:
    """Requests per month above which a server at ``monthly_server_cost`` USD beats the API's prices.

    ``input_tokens``/``output_tokens`` are per request. Give ``server_capacity_rps`` (measured with
    the profiler) to learn whether one server could even carry the break-even volume.
    """
    if not isinstance(monthly_server_cost, int | float) or not math.isfinite(monthly_server_cost) \
            or monthly_server_cost < 0:
        raise RightsizeError("monthly_server_cost must be a non-negative number of USD")
    info = _model(model)
    one = request_cost(info, (input_tokens, output_tokens))
    if one.usd is None:
        raise RightsizeError(f"{info.id} has no known price: compare against a registry model with a list price")
    if one.usd == 0:
        raise RightsizeError(f"{info.id} costs nothing per token ({info.price.source}); compare against a paid API")
    assert one.price_read_on is not None
    return BreakEven(info.id, float(monthly_server_cost), one.usd, monthly_server_cost / one.usd,
                     one.price_read_on, one.price_source, server_capacity_rps)
